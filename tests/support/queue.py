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


def held_batches(acks):  # noqa: ANN001, ANN201 — a service's `Acknowledgements`
    """The service's coalescer, its first statement held until `acks.hold_for` submissions are
    in it or wait behind it (what arrives during a statement, deterministically); `acks.sizes`
    records each batch's size."""
    write = acks._run
    sizes: list[int] = []
    acks.hold_for = 0

    async def held(key, items):  # noqa: ANN001, ANN202
        sizes.append(len(items))
        if len(sizes) == 1:
            deadline = asyncio.get_running_loop().time() + 5
            while len(items) + acks.waiting < acks.hold_for:
                assert asyncio.get_running_loop().time() < deadline, acks.waiting
                await asyncio.sleep(0.01)
        return await write(key, items)

    acks._run = held
    acks.sizes = sizes
    return acks


async def until(condition, timeout: float = 5.0) -> None:  # noqa: ANN001 — a callable
    """Wait until `condition()` holds; fail (never hang) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.005)
