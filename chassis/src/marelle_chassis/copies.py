"""Applying another service's events to a local copy, by aggregate version.

A copy row remembers the version of the event that last set it. An event is applied only when its
version is newer (`UPDATE ... WHERE version < :v`, or an insert when the row does not exist yet):
a late, reordered or replayed event never overwrites newer state, and a cancelled or deleted
aggregate stays a tombstone row that an older event cannot revive. No read-then-write: the update
and the insert are each conditional, and the insert loses quietly to an existing row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from marelle_contracts import Envelope


def event_version(envelope: Envelope) -> int:
    """The aggregate version an event carries; 0 for events from before versions existed (they
    only ever create a missing row)."""
    return envelope.aggregate_version or 0


async def insert_if_missing(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    result = await session.execute(module.insert(table).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1


async def update_if_newer(session: AsyncSession, table: Table, key: dict[str, Any], version: int,
                          values: dict[str, Any], *, version_column: str = "version") -> bool:
    column = table.c[version_column]
    result = await session.execute(
        update(table)
        .where(*(table.c[name] == value for name, value in key.items()), column < version)
        .values(**values, **{version_column: version, "revision": table.c.revision + 1}))
    return result.rowcount == 1


async def apply_if_newer(session: AsyncSession, table: Table, key: dict[str, Any], version: int,
                         values: dict[str, Any], *, version_column: str = "version",
                         defaults: dict[str, Any] | None = None) -> bool:
    """Set `values` on the row `key` when `version` is newer than the row's, creating the row
    (with `defaults` for the columns this event does not carry) when it does not exist.
    Returns whether the event changed the copy."""
    if await update_if_newer(session, table, key, version, values, version_column=version_column):
        return True
    return await insert_if_missing(session, table, {
        **(defaults or {}), **key, **values, version_column: version, "revision": 1})
