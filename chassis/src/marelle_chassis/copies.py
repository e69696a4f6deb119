"""Applying another service's events to a local copy, by aggregate version.

A copy row remembers the version of the event that last set it. An event is applied only when its
version is newer (`UPDATE ... WHERE version < :v`, or an insert when the row does not exist yet):
a late, reordered or replayed event never overwrites newer state, and a cancelled or deleted
aggregate stays a tombstone row that an older event cannot revive. No read-then-write: the update
and the insert are each conditional, and the insert loses quietly to an existing row.

`apply_many_if_newer` is the same rule for a batch of events: one multi-row
`INSERT … ON CONFLICT DO UPDATE … WHERE row.version < excluded.version` per chunk, ending in
exactly the state (revisions included) that applying the rows one by one, in order, would leave.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, text, update
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


@dataclass(frozen=True)
class CopyRow:
    """One `apply_if_newer` call, as data: for `apply_many_if_newer`."""

    key: dict[str, Any]
    version: int
    values: dict[str, Any]
    defaults: dict[str, Any] | None = None


T = TypeVar("T")


def layers(items: Sequence[T], keys: Callable[[T], Iterable[Hashable]]) -> list[list[T]]:
    """Split `items` into consecutive layers where no key appears twice, keeping, for every key,
    the order of the items that carry it (an item goes one layer after the last one holding any
    of its keys). Applying the layers in turn equals applying the items in order, for each row."""
    keyed = [(item, list(keys(item))) for item in items]
    if len({k for _, its in keyed for k in its}) == sum(len(its) for _, its in keyed):
        return [list(items)] if items else []  # no key twice (the usual batch): one layer
    out: list[list[T]] = []
    last: dict[Hashable, int] = {}
    for item, its in keyed:
        depth = max((last[k] + 1 for k in its if k in last), default=0)
        if depth == len(out):
            out.append([])
        out[depth].append(item)
        for k in its:
            last[k] = depth
    return out


async def apply_many_if_newer(session: AsyncSession, table: Table, rows: Sequence[CopyRow], *,
                              version_column: str = "version") -> None:
    """`apply_if_newer` for each of `rows`, in order, in a few statements.

    One cached one-row upsert run with every row's parameters: with RETURNING, SQLAlchemy sends
    it as multi-row `INSERT … VALUES (…), (…)` pages ("insertmanyvalues") without compiling a
    statement per batch. A key met twice goes to a later statement (PostgreSQL refuses to
    upsert one row twice in a statement, and the revision must count each change): usually
    there is one."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    column = table.c[version_column]
    for layer in layers(rows, lambda r: [tuple(r.key.values())] if len(r.key) == 1
                        else [tuple(sorted(r.key.items()))]):
        # Rows of one statement must have the same columns.
        shapes: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for row in layer:
            record = {**(row.defaults or {}), **row.key, **row.values,
                      version_column: row.version, "revision": 1}
            # Rows built alike list their columns in the same order (a differing order only
            # makes another statement).
            shape = (tuple(record), tuple(row.key), tuple(row.values))
            shapes.setdefault(shape, []).append(record)
        for (names, key, changed), records in shapes.items():
            if dialect == "postgresql":
                await _upsert_unnest(session, table, names, key, changed, version_column,
                                     records)
                continue
            stmt = module.insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c[k] for k in key],
                set_={**{name: stmt.excluded[name] for name in changed},
                      version_column: stmt.excluded[version_column],
                      "revision": table.c.revision + 1},
                where=column < stmt.excluded[version_column],
            ).returning(table.c[key[0]])
            await session.execute(stmt, records)


async def _upsert_unnest(session: AsyncSession, table: Table, names: tuple[str, ...],
                         key: tuple[str, ...], changed: tuple[str, ...], version_column: str,
                         records: list[dict[str, Any]]) -> None:
    """PostgreSQL: the same upsert as one `INSERT … SELECT FROM unnest(<one array per
    column>)`. Its text does not depend on the number of rows, so the server prepares and plans
    it once per connection (a multi-row VALUES of 1,000 rows is a new 11,000-parameter statement
    to prepare for every batch size)."""
    dialect = session.bind.dialect  # type: ignore[union-attr]
    sql = _unnest_sql(dialect, table, names, key, changed, version_column)
    params: dict[str, Any] = {}
    for i, name in enumerate(names):
        process = table.c[name].type.bind_processor(dialect)
        column = [record[name] for record in records]
        params[f"c{i}"] = [process(v) for v in column] if process else column
    await session.execute(text(sql), params)


_UNNEST_SQL: dict[tuple[Any, ...], str] = {}


def _unnest_sql(dialect: Any, table: Table, names: tuple[str, ...], key: tuple[str, ...],
                changed: tuple[str, ...], version_column: str) -> str:
    cache_key = (table, names, key, changed, version_column)
    sql = _UNNEST_SQL.get(cache_key)
    if sql is None:
        quote = dialect.identifier_preparer.quote
        target = dialect.identifier_preparer.format_table(table)
        arrays = ", ".join(f"CAST(:c{i} AS {table.c[name].type.compile(dialect=dialect)}[])"
                           for i, name in enumerate(names))
        updates = ", ".join([*(f"{quote(n)} = excluded.{quote(n)}" for n in changed),
                             f"{quote(version_column)} = excluded.{quote(version_column)}",
                             f"revision = {target}.revision + 1"])
        sql = _UNNEST_SQL[cache_key] = (
            f"INSERT INTO {target} ({', '.join(map(quote, names))}) SELECT * FROM unnest({arrays})"
            f" ON CONFLICT ({', '.join(map(quote, key))}) DO UPDATE SET {updates}"
            f" WHERE {target}.{quote(version_column)} < excluded.{quote(version_column)}")
    return sql
