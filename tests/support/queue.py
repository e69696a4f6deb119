"""Helpers for the opening queue's tests (enrolment and booking)."""

from __future__ import annotations

import asyncio
import time

from marelle_chassis.decider import Decider


async def caught_up(decider: Decider, timeout: float = 5.0) -> None:
    """Wait until the decider has decided every ticket this process acknowledged."""
    deadline = time.monotonic() + timeout
    while decider.backlog:
        assert time.monotonic() < deadline, f"{decider.backlog} tickets still undecided"
        await asyncio.sleep(0.05)


def hot_statements(monkeypatch) -> list[str]:  # noqa: ANN001 — pytest's MonkeyPatch
    """The first word of each statement an acknowledgement's HotPath runs, as they run."""
    from marelle_chassis.queue_sql import HotPath

    seen: list[str] = []
    rows = HotPath.rows

    async def counted(self, statement, **params):  # noqa: ANN001, ANN202
        seen.append(str(statement).split()[0])
        return await rows(self, statement, **params)

    monkeypatch.setattr(HotPath, "rows", counted)
    return seen
