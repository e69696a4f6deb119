"""The opening queue's acknowledgement: one PostgreSQL statement, run on the driver directly
(docs/opening-rush.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Table, Text, TextClause, Uuid, bindparam, insert, literal, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from marelle_chassis.transactions import ConnectionLost


def ticket_in_line(counters: Table, resource: str, tickets: Table,
                   columns: Sequence[str], gate: Any = None) -> Any:
    """One statement: the resource's counter bumped (created on the first ticket) and the ticket
    inserted at that position, or neither (a repeated idempotency key conflicts: no position
    consumed). Returns `issued` (the ticket's position) and `decided`.

    `counters` has `resource` as its key, `issued` and `decided`; `tickets` has `columns`
    (among them `resource`) and `position`. Built once by the caller: the values are bound
    parameters `t_<column>`. `gate`: a CTE that has a row when the ticket may be written (the
    caller's checks, in the same statement); without a row, nothing is written and no row is
    returned."""
    key = bindparam(f"t_{resource}", type_=counters.c[resource].type)
    counter = postgresql.insert(counters)
    counter = (counter.values({resource: key, "issued": 1, "decided": 0}) if gate is None else
               counter.from_select([resource, "issued", "decided"],
                                   select(key, literal(1), literal(0)).select_from(gate)))
    counter = (counter.on_conflict_do_update(index_elements=[counters.c[resource]],
                                             set_={"issued": counters.c.issued + 1})
               .returning(counters.c.issued, counters.c.decided)
               .cte("counter"))
    values = [bindparam(f"t_{name}", type_=tickets.c[name].type) for name in columns]
    inserted = (insert(tickets)
                .from_select([*columns, "position"], select(*values, counter.c.issued))
                .returning(tickets.c.position)
                .cte("inserted"))
    return select(inserted.c.position.label("issued"), counter.c.decided).select_from(
        inserted.join(counter, literal(True)))


def tickets_in_line(counters: Table, resource: str, tickets: Table, columns: Sequence[str], *,
                    extra: Mapping[str, str] | None = None, gate: str = "TRUE") -> TextClause:
    """`ticket_in_line` for many tickets of one resource, in ONE statement (PostgreSQL; the
    coalesced acknowledgements of an opening, `marelle_chassis.coalesce`).

    Parameters: `rows`, the tickets as one JSON list in their order of arrival (`json_rows`):
    each with `ord` (its rank in the list), the ticket's `columns` and the `extra` fields (name
    → PostgreSQL type) that `gate` reads; `resource`, the resource's key. `gate`: an SQL
    condition on the row `a` (and on the caller's own bound parameters, typed by the caller
    with `.bindparams`) that a row must meet to be written. Not written either: a row whose key
    (`family_id`, `idempotency_key`) already has a ticket, and the second row of a key in the
    list. The rows written get the next positions in the list's order, the counter bumped once
    by their number. Returns per ticket written its `id`, `issued` (its position) and the
    counter's `decided`. A unique violation (a key given meanwhile by another process) fails
    the statement whole: nothing written."""
    pg = postgresql.dialect()
    fields = {"ord": "integer", **{name: tickets.c[name].type.compile(dialect=pg)
                                   for name in columns}, **(extra or {})}
    key_type = counters.c[resource].type.compile(dialect=pg)
    record = ", ".join(f"{name} {type_}" for name, type_ in fields.items())
    return text(f"""
WITH asked AS (
    SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS a({record})
), allowed AS (
    SELECT DISTINCT ON (a.family_id, a.idempotency_key) a.* FROM asked a
    WHERE ({gate})
      AND NOT EXISTS (SELECT 1 FROM {tickets.name} given
                      WHERE given.family_id = a.family_id
                        AND given.idempotency_key = a.idempotency_key)
    ORDER BY a.family_id, a.idempotency_key, a.ord
), ranked AS (
    SELECT a.*, row_number() OVER (ORDER BY a.ord) AS rank, count(*) OVER () AS n
    FROM allowed a
), counter AS (
    INSERT INTO {counters.name} ({resource}, issued, decided)
    SELECT CAST(:resource AS {key_type}), n, 0 FROM ranked LIMIT 1
    ON CONFLICT ({resource}) DO UPDATE SET issued = {counters.name}.issued + excluded.issued
    RETURNING issued, decided
), inserted AS (
    INSERT INTO {tickets.name} ({resource}, position, {", ".join(columns)})
    SELECT CAST(:resource AS {key_type}), c.issued - r.n + r.rank,
           {", ".join(f"r.{name}" for name in columns)}
    FROM ranked r CROSS JOIN counter c
    RETURNING id, position
)
SELECT i.id, i.position AS issued, c.decided FROM inserted i CROSS JOIN counter c
""").bindparams(bindparam("rows", type_=Text()), bindparam("resource", type_=Uuid()))


def json_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """`tickets_in_line`'s `rows`: each row's `ord` added (its rank); ids and date-times as
    PostgreSQL reads them (orjson writes UUIDs and RFC 3339 date-times with their offset; the
    driver's own UUIDs, read from a row, as their text)."""
    return orjson.dumps([{"ord": i, **row} for i, row in enumerate(rows)], default=str).decode()


class DuplicateKey(Exception):
    """The write met a unique index: a repeated idempotency key (a refresh, a double click)."""


class HotPath:
    """A few single statements of an opening's hot path (the acknowledgement of a submission).

    On PostgreSQL they run on a pooled connection's asyncpg driver directly, each its own
    transaction (autocommit): in the rush's profiles SQLAlchemy's session and Core execution cost
    more than the two statements themselves (bench/rush.py). The statements stay SQLAlchemy Core ones,
    compiled once for the engine's dialect; their values are bound by name as usual and go
    through their types' bind and result processors as SQLAlchemy would apply them (e.g.
    `UtcDateTime`). On SQLite the same statements run in an ordinary unit of work, committed by
    `commit()`. A unique violation is `DuplicateKey` on both."""

    _compiled: dict[tuple[int, str], _Plan] = {}

    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self.postgres = uow.engine.dialect.name == "postgresql"
        self._conn: Any = None
        self._driver: Any = None

    async def __aenter__(self) -> HotPath:
        if self.postgres:
            self._conn = self._uow.engine.connect()
            await self._conn.start()
            self._driver = (await self._conn.get_raw_connection()).driver_connection
        else:
            await self._uow.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if not self.postgres:
            await self._uow.__aexit__(exc_type, exc, tb)
            return
        lost = exc is not None and _connection_lost(exc)
        try:
            if lost:
                await self._conn.invalidate()  # never handed out again by the pool
        finally:
            await self._conn.close()
        if lost:
            raise ConnectionLost() from exc  # retry_transaction runs the work again

    async def rows(self, statement: Any, **params: Any) -> list[Any]:
        if not self.postgres:
            try:
                result = await self._uow.session.execute(statement, params)
                return list(result.all()) if result.returns_rows else []
            except IntegrityError as exc:
                raise DuplicateKey() from exc
        plan = self._compile(statement)
        bound = plan.compiled.construct_params(params)
        for name, process in plan.binds.items():
            bound[name] = process(bound[name])
        try:
            records = await self._driver.fetch(plan.sql, *[bound[name] for name in plan.names])
        except Exception as exc:
            if type(exc).__name__ == "UniqueViolationError":
                raise DuplicateKey() from exc
            raise
        return [plan.row(record) for record in records]

    async def commit(self) -> None:
        if not self.postgres:
            await self._uow.commit()

    def _compile(self, statement: Any) -> _Plan:
        key = (id(statement), self._uow.engine.dialect.name)
        plan = self._compiled.get(key)
        if plan is None:
            plan = self._compiled[key] = _Plan(statement, self._uow.engine.dialect)
        return plan


class _Plan:
    """A statement compiled for asyncpg: its SQL, its parameters' order, and the processors of
    the types of its parameters and of its result columns."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        self.statement = statement  # kept alive: the plans are keyed by its id
        self.compiled = statement.compile(dialect=dialect)
        self.sql = self.compiled.string
        self.names = tuple(self.compiled.positiontup or ())
        self.binds = {self.compiled.bind_names[bind]: process
                      for bind in self.compiled.binds.values()
                      if (process := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        columns = list(getattr(statement, "selected_columns", ()))
        self.results = [(i, process) for i, column in enumerate(columns)
                        if (process := column.type.dialect_impl(dialect)
                            .result_processor(dialect, None))]

    def row(self, record: Any) -> SimpleNamespace:
        values = list(record.values())
        for i, process in self.results:
            values[i] = process(values[i])
        return SimpleNamespace(**dict(zip(record.keys(), values, strict=True)))


def _connection_lost(exc: BaseException) -> bool:
    """The driver's connection is gone or unusable (not a refusal of the statement)."""
    return isinstance(exc, (OSError, ConnectionError)) or (
        type(exc).__module__.startswith("asyncpg") and type(exc).__name__ in {
            "ConnectionDoesNotExistError", "InterfaceError", "AdminShutdownError",
            "ConnectionFailureError", "InternalClientError"})
