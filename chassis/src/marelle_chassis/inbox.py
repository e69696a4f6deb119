"""Idempotent consumer: `(consumer, event_id)` recorded in the handler's own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def claim(session: AsyncSession, inbox: Table, consumer: str, event_id: uuid.UUID) -> bool:
    """True the first time this consumer sees the event; False for a duplicate.

    One INSERT .. ON CONFLICT DO NOTHING, never check-then-insert: two deliveries racing in
    parallel transactions cannot both win.
    """
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(inbox).values(
        consumer=consumer, event_id=event_id, processed_at=datetime.now(UTC)
    ).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return result.rowcount == 1


async def claim_many(session: AsyncSession, inbox: Table, consumer: str,
                     event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """`claim` for a batch: the ids this consumer sees for the first time (a duplicate, in the
    inbox already or repeated within `event_ids`, is claimed at most once).

    The same race-free INSERT .. ON CONFLICT DO NOTHING, with RETURNING, run with every id:
    SQLAlchemy sends it as multi-row pages ("insertmanyvalues")."""
    unique = list(dict.fromkeys(event_ids))
    if not unique:
        return set()
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    now = datetime.now(UTC)
    if dialect == "postgresql":
        # One array parameter: the same statement text whatever the batch size, prepared once.
        result = await session.execute(text(
            f"INSERT INTO {inbox.name} (consumer, event_id, processed_at)"
            " SELECT :consumer, e, :now FROM unnest(CAST(:ids AS UUID[])) AS e"
            " ON CONFLICT DO NOTHING RETURNING event_id"),
            {"consumer": consumer, "now": now, "ids": unique})
        return set(result.scalars())
    stmt = module.insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id)
    result = await session.execute(stmt, [
        {"consumer": consumer, "event_id": event_id, "processed_at": now} for event_id in unique])
    return set(result.scalars())
