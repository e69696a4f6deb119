"""The service's clock: every rule about deadlines and horizons reads the time from here, so
tests (and a rehearsal of an opening) can set it. Rules are in Europe/Paris."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

PARIS = ZoneInfo("Europe/Paris")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told (tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a clock gives timezone-aware times")
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


async def now(request: Request) -> datetime:
    """The service's clock (`app.state.clock`), settable in tests (a dependency: async, so
    that FastAPI does not run it in a worker thread)."""
    return request.app.state.clock()


Now = Annotated[datetime, Depends(now)]
