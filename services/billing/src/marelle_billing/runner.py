"""Invoicing runs in the background: one asyncio task per run in the service process.

A run is computed (`en_cours`) or finalised (`finalisation`) batch by batch, each batch saving
its progress (see `usecases.runs`); a restart resumes the runs left in those statuses
(`resume`, hooked on the service's startup). Tests wait for the work with `wait_idle`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from marelle_chassis.uow import UnitOfWork
from marelle_billing.usecases import runs

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], batch_size: int,
                 clock: Callable[[], datetime]) -> None:
        self._uow = uow_factory
        self.batch_size = batch_size
        self._clock = clock
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        # Runs asked for again while their task was finishing (a recompute, a finalisation):
        # the task looks once more instead of a second task racing it.
        self._again: set[uuid.UUID] = set()

    def start(self, run_id: uuid.UUID) -> None:
        self._again.add(run_id)
        task = self._tasks.get(run_id)
        if task is None or task.done():
            self._tasks[run_id] = asyncio.create_task(self._drive(run_id),
                                                      name=f"invoicing-run-{run_id}")

    async def _drive(self, run_id: uuid.UUID) -> None:
        try:
            while run_id in self._again:
                self._again.discard(run_id)
                status = await runs.run_status(self._uow(), run_id)
                if status == "en_cours":
                    try:
                        await runs.compute(self._uow, run_id, self.batch_size, self._clock)
                    except Exception:
                        log.exception("invoicing run %s failed", run_id)
                        await runs.mark_failed(self._uow(), run_id, self._clock())
                elif status == "finalisation":
                    # Left in `finalisation` on failure: resumed at the next start.
                    await runs.finalise(self._uow, run_id, self.batch_size, self._clock)
        except Exception:
            log.exception("invoicing run %s: background work failed", run_id)
        finally:
            if self._tasks.get(run_id) is asyncio.current_task():
                del self._tasks[run_id]

    async def resume(self) -> None:
        """Start again the runs a stop (or a crash) left unfinished."""
        for run_id in await runs.unfinished_runs(self._uow()):
            self.start(run_id)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


def runner_of(app: Any) -> Runner:
    return app.state.runner


async def wait_idle(app: Any) -> None:
    """Until no run is being computed or finalised in this process (tests)."""
    await runner_of(app).wait_idle()
