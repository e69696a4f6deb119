"""A background loop that decides queued work in batches (the opening queue's deciders).

`decide_once()` decides one batch in one transaction and returns how many items it decided; the
loop calls it again at once while there is work, otherwise waits for `notify()` (a submission
committed in this process) or the poll interval (submissions taken by another process). A
transient failure (database restarting, lock timeout) is retried with backoff, without end: the
tickets stay queued, nothing is lost; anything else is logged and retried after the backoff too,
since the tickets must be decided eventually and the cause is visible in the logs and the
staff's opening view (tickets received but not decided).

Admission (`max_backlog`): the submissions and the decisions share one event loop, where a
batch's every statement waits behind the requests in flight; under a closed flood the requests
win and the tickets pile up (measured: 64 % of 4,000 booking tickets still queued at the last
submission). `admit()`, awaited by a submission before it takes its place, waits while this
process has `max_backlog` tickets acknowledged and not yet decided, at most `admission_wait`
seconds: the wait costs no CPU, so the decisions keep pace, and a family's outcome follows its
ticket within seconds instead of minutes. Positions are still given in arrival order (the wait
is before the acknowledgement's statement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from marelle_chassis.transactions import is_transient

log = logging.getLogger(__name__)


class Decider:
    def __init__(self, name: str, decide_once: Callable[[], Awaitable[int]], *,
                 poll_seconds: float = 0.25, linger_seconds: float = 0.0,
                 max_backoff: float = 5.0, max_backlog: int = 0,
                 admission_wait: float = 2.0) -> None:
        self.name = name
        # Woken by a submission, wait this long first: at an opening the next submissions
        # arrive meanwhile and are decided in the same batch (a batch's statements are fixed,
        # so a batch of one costs as much as a batch of two hundred).
        self._linger = linger_seconds
        self._decide_once = decide_once
        self._poll = poll_seconds
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.decided = 0  # items decided by this process (for logs and tests)
        self._max_backlog = max_backlog  # 0: no admission control
        self._admission_wait = admission_wait
        self.backlog = 0  # acknowledged here (notify) and not yet decided here
        self._room = asyncio.Event()
        self._room.set()

    def notify(self) -> None:
        """A submission committed: one more item to decide."""
        self.backlog += 1
        if self._max_backlog and self.backlog >= self._max_backlog:
            self._room.clear()
        self._wake.set()

    async def admit(self) -> None:
        """Wait (bounded) while the backlog is full; see the module's docstring."""
        if self._max_backlog and self.backlog >= self._max_backlog and not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), timeout=self._admission_wait)

    def _decided(self, count: int) -> None:
        self.decided += count
        # Nothing left anywhere (0): what other processes decided of ours is known now.
        self.backlog = max(0, self.backlog - count) if count else 0
        if self.backlog < self._max_backlog or self._stopping:
            self._room.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"decider-{self.name}")

    async def stop(self, grace: float = 10.0) -> None:
        """Let the batch in progress finish (cancelling a transaction half-way through a
        database call can leave its connection hanging), then stop; cancel only past `grace`."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        self._room.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        self._stopping = False

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stopping:
            self._wake.clear()  # before lingering: a stop() meanwhile is not missed
            if self._linger:
                await asyncio.sleep(self._linger)
            try:
                count = await self._decide_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — never let the loop die
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "decider %s failed, retrying in %.1f s", self.name, backoff,
                        exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            self._decided(count)
            if count:
                continue  # more may be waiting: no sleep while there is work (or stopping)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
