"""Idempotent consumer: `(consumer, event_id)` recorded in the handler's own transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Table
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
