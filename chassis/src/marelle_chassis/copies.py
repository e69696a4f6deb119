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
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import Table, text, update
from sqlalchemy.sql import sqltypes
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


class CopyRow(NamedTuple):
    """One `apply_if_newer` call, as data: for `apply_many_if_newer` (a tuple: a batch makes
    one or two per event)."""

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
    seen: set[Hashable] = set()
    for _, its in keyed:
        for k in its:
            if k in seen:
                break
            seen.add(k)
        else:
            continue
        break
    else:
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
                              version_column: str = "version", distinct_keys: bool = False
                              ) -> None:
    """`apply_if_newer` for each of `rows`, in order, in a few statements.

    One cached one-row upsert run with every row's parameters: with RETURNING, SQLAlchemy sends
    it as multi-row `INSERT … VALUES (…), (…)` pages ("insertmanyvalues") without compiling a
    statement per batch. A key met twice goes to a later statement (PostgreSQL refuses to
    upsert one row twice in a statement, and the revision must count each change): usually
    there is one. `distinct_keys`: the caller knows no key is met twice (e.g. rows of one of
    its own `layers`): no second look (hashing every key was a tenth of a consumer's CPU)."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    column = table.c[version_column]
    for layer in ([rows] if distinct_keys else layers(
            rows, lambda r: [tuple(r.key.values())] if len(r.key) == 1
            else [tuple(sorted(r.key.items()))])):
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
    """PostgreSQL: the same upsert as one `INSERT … SELECT` from the rows sent as ONE JSON
    parameter (`json_to_recordset`), or from one array per column (`unnest`) when a column's
    type has no plain JSON form. Either text does not depend on the number of rows, so the
    server prepares and plans it once per connection (a multi-row VALUES of 1,000 rows is a
    new 11,000-parameter statement to prepare for every batch size). The JSON because the
    driver checks every element of an array parameter in Python (a quarter of a consumer's
    CPU in bench/events.py); orjson writes the rows in C."""
    dialect = session.bind.dialect  # type: ignore[union-attr]
    sql, processors, as_json = _upsert_plan(dialect, table, names, key, changed, version_column)
    if processors:
        for record in records:
            for name, process in processors:
                record[name] = process(record[name])
    if as_json:
        rows = orjson.dumps(records, default=str, option=orjson.OPT_NAIVE_UTC).decode()
        await session.execute(text(sql), {"rows": rows})
        return
    await session.execute(text(sql), {f"c{i}": [record[name] for record in records]
                                      for i, name in enumerate(names)})


# Types whose values orjson writes as PostgreSQL reads them back from JSON text.
_PLAIN_JSON = (sqltypes.String, sqltypes.Integer, sqltypes.Boolean, sqltypes.Date,
               sqltypes.DateTime, sqltypes.Uuid, sqltypes.Numeric, sqltypes.Enum)
_UPSERTS: dict[tuple[Any, ...], tuple[str, list[tuple[str, Any]], bool]] = {}


def _upsert_plan(dialect: Any, table: Table, names: tuple[str, ...], key: tuple[str, ...],
                 changed: tuple[str, ...], version_column: str
                 ) -> tuple[str, list[tuple[str, Any]], bool]:
    cache_key = (table, names, key, changed, version_column)
    plan = _UPSERTS.get(cache_key)
    if plan is None:
        quote = dialect.identifier_preparer.quote
        target = dialect.identifier_preparer.format_table(table)
        types = [(name, table.c[name].type) for name in names]
        as_json = all(isinstance(t, _PLAIN_JSON) or isinstance(
            getattr(t, "impl_instance", None), _PLAIN_JSON) for _, t in types)
        if as_json:
            source = ("json_to_recordset(CAST(:rows AS JSON)) AS r("
                      + ", ".join(f"{quote(n)} {t.compile(dialect=dialect)}" for n, t in types)
                      + ")")
        else:
            source = "unnest(" + ", ".join(f"CAST(:c{i} AS {t.compile(dialect=dialect)}[])"
                                           for i, (_, t) in enumerate(types)) + ")"
        updates = ", ".join([*(f"{quote(n)} = excluded.{quote(n)}" for n in changed),
                             f"{quote(version_column)} = excluded.{quote(version_column)}",
                             f"revision = {target}.revision + 1"])
        sql = (f"INSERT INTO {target} ({', '.join(map(quote, names))}) SELECT * FROM {source}"
               f" ON CONFLICT ({', '.join(map(quote, key))}) DO UPDATE SET {updates}"
               f" WHERE {target}.{quote(version_column)} < excluded.{quote(version_column)}")
        processors = [(name, process) for name, t in types
                      if (process := t.bind_processor(dialect))]
        plan = _UPSERTS[cache_key] = (sql, processors, as_json)
    return plan
