"""The throttle's counters in SQL: one atomic upsert per attempt and key (see `domain.throttle`).

`INSERT … ON CONFLICT (key) DO UPDATE SET failures = failures + 1 (or 1 in a new window) …
RETURNING` counts an attempt in one statement: attempts sent together each get their own count
(no read-then-write to lose one), on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects import postgresql, sqlite

from marelle_chassis.db import UtcDateTime
from marelle_chassis.domain_errors import TooManyAttempts
from marelle_chassis.uow import UnitOfWork
from marelle_identity.db import login_throttle
from marelle_identity.domain import throttle
from marelle_identity.usecases.common import now

Windows = dict[str, datetime]  # key -> start of the window the attempt was counted in


def _insert(uow: UnitOfWork) -> Any:
    return postgresql.insert if uow.session.bind.dialect.name == "postgresql" else sqlite.insert


async def charge(uow: UnitOfWork, limits: dict[str, throttle.Limit], what: str) -> Windows:
    """Count one attempt on every key (in the caller's transaction), or refuse it (429).

    Keys are counted in sorted order, so two attempts never wait on each other's rows in
    opposite orders. A refused attempt raises before the commit: the caller's rollback takes it
    back, so hammering a refused key does not lengthen its wait.
    """
    at = now()
    c = login_throttle.c
    windows: Windows = {}
    waits = []
    for key in sorted(limits):
        limit = limits[key]
        expired = c.window_started_at <= literal(at - limit.window, UtcDateTime)
        row = (await uow.session.execute(
            _insert(uow)(login_throttle).values(key=key, failures=1, window_started_at=at)
            .on_conflict_do_update(index_elements=["key"], set_={
                "failures": case((expired, 1), else_=c.failures + 1),
                "window_started_at": case((expired, literal(at, UtcDateTime)),
                                          else_=c.window_started_at)})
            .returning(c.failures, c.window_started_at))).one()
        windows[key] = row.window_started_at
        if throttle.over(row.failures, limit):
            waits.append(throttle.wait_left(row.window_started_at, limit, at))
    if waits:
        detail, seconds = throttle.refusal(what, max(waits))
        raise TooManyAttempts(detail, retry_after_seconds=seconds)
    return windows


async def charge_alone(uow: UnitOfWork, limits: dict[str, throttle.Limit], what: str) -> Windows:
    """`charge` in a short transaction of its own (before work done outside any transaction)."""
    async with uow:
        windows = await charge(uow, limits, what)
        await uow.commit()
    return windows


async def clear(uow: UnitOfWork, key: str) -> None:
    await uow.session.execute(delete(login_throttle).where(login_throttle.c.key == key))


async def refund(uow: UnitOfWork, key: str, window_started_at: datetime) -> None:
    """Take back one counted attempt (a success), only in the window it was counted in."""
    c = login_throttle.c
    await uow.session.execute(
        update(login_throttle)
        .where(c.key == key, c.failures > 0, c.window_started_at == window_started_at)
        .values(failures=c.failures - 1))
