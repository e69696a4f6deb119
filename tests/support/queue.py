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
