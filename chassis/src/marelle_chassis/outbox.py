"""Transactional outbox: rows written with the state change, published by a relay.

The relay hands a whole batch of unsent rows to the producer in id order without waiting for each
acknowledgement in turn (the idempotent producer keeps the order per partition, so per key), then
awaits the acknowledgements (acks=all) and marks what was acknowledged as sent. A row the broker
did not take is retried with backoff: as long as the failure is transient (broker down, timeout)
it is retried without end; a row that can never be published (too large, unreadable) is set aside
after a few attempts (`parked_at`, listed for staff under `/staff/outbox/parked`) instead of
blocking the rows behind it. Consumers apply events by aggregate version, so a retried row that
ends up after a newer event of its aggregate does no harm. Rows published but not yet marked sent
(crash in between) are published again: consumers dedupe on `event_id`. Sent rows and old inbox
rows are pruned after a retention. On PostgreSQL an advisory lock keeps one active relay per
database.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path
from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from marelle_chassis.audit import audit_with_connection
from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.transactions import is_transient
from marelle_contracts import Envelope
from marelle_contracts.http.platform import ParkedRow, ParkedRows

log = logging.getLogger(__name__)

# Hands one record to the producer and returns its delivery (awaitable acknowledgement).
Send = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[Awaitable[Any]]]


def envelope_headers(envelope: Envelope) -> dict[str, str]:
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "schema_version": str(envelope.schema_version),
        "producer": envelope.producer,
        "correlation_id": envelope.correlation_id,
        "content-type": "application/json",
    }


def stored_envelope_headers(text: str) -> dict[str, str]:
    """`envelope_headers` of an outbox row's envelope, written by `Envelope.model_dump_json`
    (valid by construction): read with orjson, not validated again by pydantic for each row
    the relay sends."""
    e = orjson.loads(text)
    return {
        "event_id": str(e["event_id"]),
        "event_type": str(e["event_type"]),
        "schema_version": str(e["schema_version"]),
        "producer": str(e["producer"]),
        "correlation_id": str(e["correlation_id"]),
        "content-type": "application/json",
    }


def outbox_row(topic: str, envelope: Envelope) -> dict[str, Any]:
    return {"event_id": envelope.event_id, "event_type": envelope.event_type, "topic": topic,
            "key": envelope.key, "envelope": envelope.model_dump_json(),
            "created_at": datetime.now(UTC), "attempts": 0}


async def add_to_outbox(session: AsyncSession, outbox: Table, topic: str, envelope: Envelope) -> None:
    await session.execute(insert(outbox).values(**outbox_row(topic, envelope)))


@dataclass(frozen=True)
class Retention:
    outbox_days: float = 7.0
    inbox_days: float = 30.0
    every_seconds: float = 3600.0


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, outbox: Table, send: Send, *,
                 name: str, batch_size: int = 200, poll_interval: float = 1.0,
                 max_backoff: float = 30.0, max_attempts: int = 5,
                 inbox: Table | None = None, retention: Retention = Retention()) -> None:
        self.engine = engine
        self.outbox = outbox
        self.send = send
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.inbox = inbox
        self.retention = retention
        self._lock_key = zlib.crc32(f"marelle-outbox-{name}".encode()) & 0x7FFFFFFF
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._pruned_at = 0.0

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop polling, then drain what is left (bounded), so a clean stop loses no latency."""
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task
        try:
            async with asyncio.timeout(drain_timeout):
                while await self.relay_once():
                    pass
        except Exception:  # the rows stay in the table; the next start sends them
            log.warning("outbox not fully drained at stop", exc_info=True)

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared BEFORE the pass: a commit that lands while the pass runs sets it again and
            # the loop goes round at once instead of sleeping a whole poll interval.
            self._wake.clear()
            try:
                sent = await self.relay_once()
                await self._maybe_prune()
            except Exception:
                log.exception("outbox relay pass failed")
                sent = 0
                self._failures += 1
            if sent:
                continue
            delay = self.poll_interval if not self._failures else min(
                self.max_backoff, 0.5 * 2 ** min(self._failures, 8))
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def pending(self) -> int:
        o = self.outbox
        async with self.engine.connect() as conn:
            return int(await conn.scalar(
                select(func.count()).select_from(o)
                .where(o.c.sent_at.is_(None), o.c.parked_at.is_(None))) or 0)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        async with self.engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres and not await self._try_lock(conn):
                return 0
            try:
                return await self._relay_batch(conn)
            finally:
                if postgres:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key})
                    await conn.commit()

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key})
        await conn.commit()
        return bool(got)

    async def _relay_batch(self, conn: AsyncConnection) -> int:
        o = self.outbox
        if conn.dialect.name == "postgresql":
            # The unsent rows by the partial index, in order: the planner's bitmap scan visits
            # every row sent since the last VACUUM (5 ms at 25,000, growing through an opening);
            # an index scan marks their entries dead and skips them afterwards (0.1 ms).
            await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        rows = (await conn.execute(
            select(o.c.id, o.c.topic, o.c.key, o.c.envelope, o.c.attempts)
            .where(o.c.sent_at.is_(None), o.c.parked_at.is_(None))
            .order_by(o.c.id).limit(self.batch_size)
        )).all()
        await conn.commit()
        deliveries: list[tuple[Any, Awaitable[Any]]] = []
        errors: dict[int, BaseException] = {}
        for row in rows:
            try:
                headers = stored_envelope_headers(row.envelope)
                deliveries.append((row, await self.send(row.topic, row.key.encode(),
                                                        row.envelope.encode(), headers)))
            except Exception as exc:
                errors[row.id] = exc
                if is_transient(exc):  # the producer cannot take anything now: keep the rest
                    break
        outcomes = await asyncio.gather(*(d for _, d in deliveries), return_exceptions=True)
        sent_ids = []
        for (row, _), outcome in zip(deliveries, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                errors[row.id] = outcome
            else:
                sent_ids.append(row.id)
        now = datetime.now(UTC)
        if sent_ids:
            await conn.execute(update(o).where(o.c.id.in_(sent_ids))
                               .values(sent_at=now, attempts=o.c.attempts + 1))
        attempts = {row.id: row.attempts for row in rows}
        for row_id, error in errors.items():
            never = not is_transient(error) and attempts[row_id] + 1 >= self.max_attempts
            await conn.execute(update(o).where(o.c.id == row_id).values(
                attempts=o.c.attempts + 1, last_error=repr(error)[:2000],
                parked_at=now if never else None))
            if never:
                log.error("outbox row %s can never be published, set aside: %r", row_id, error)
        await conn.commit()
        if errors:
            self._failures += 1
            log.warning("outbox publish failed for %d row(s), will retry: %r", len(errors),
                        next(iter(errors.values())))
        else:
            self._failures = 0
        return len(sent_ids)

    async def _maybe_prune(self) -> None:
        if time.monotonic() - self._pruned_at < self.retention.every_seconds:
            return
        await self.prune()
        self._pruned_at = time.monotonic()

    async def prune(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete sent outbox rows and inbox rows past their retention; returns both counts."""
        now = now or datetime.now(UTC)
        o = self.outbox
        async with self.engine.begin() as conn:
            sent = (await conn.execute(delete(o).where(
                o.c.sent_at < now - timedelta(days=self.retention.outbox_days)))).rowcount
            seen = 0
            if self.inbox is not None:
                i = self.inbox
                seen = (await conn.execute(delete(i).where(
                    i.c.processed_at < now - timedelta(days=self.retention.inbox_days)))).rowcount
        if sent or seen:
            log.info("pruned %d sent outbox rows and %d inbox rows", sent, seen)
        return sent, seen


def parked_outbox_router(engine: AsyncEngine, outbox: Table) -> APIRouter:
    """`/staff/outbox/parked`: events this service could never publish, and a retry action."""
    router = APIRouter(prefix="/staff/outbox/parked", tags=["outbox"])
    admin = require_staff(principal_dependency(verifier_from_app), ["administrator"])
    o = outbox
    columns = [o.c.id, o.c.event_id, o.c.event_type, o.c.topic, o.c.key, o.c.attempts,
               o.c.last_error, o.c.created_at, o.c.parked_at]

    @router.get("", response_model=ParkedRows)
    async def list_parked(_: Principal = Depends(admin)) -> ParkedRows:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(*columns).where(o.c.parked_at.is_not(None))
                                       .order_by(o.c.id).limit(500))).mappings().all()
        return ParkedRows(items=[ParkedRow.model_validate(dict(r)) for r in rows])

    @router.post("/{row_id}/retry", response_model=ParkedRow)
    async def retry_parked(row_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                           who: Principal = Depends(admin)) -> ParkedRow:
        async with engine.begin() as conn:
            row = (await conn.execute(
                update(o).where(o.c.id == row_id, o.c.parked_at.is_not(None))
                .values(parked_at=None, attempts=0).returning(*columns))).mappings().first()
            if row is not None:  # the audit line commits with the retry
                await audit_with_connection(
                    conn, o.metadata, who, "outbox.relance", f"outbox:{row_id}",
                    before={"parked": True, "event_type": row["event_type"],
                            "last_error": row["last_error"]},
                    after={"parked": False, "attempts": 0})
        if row is None:
            raise NotFound("Cet événement n'est pas (ou plus) mis de côté.")
        log.warning("staff %s put parked outbox row %s back in the queue", who.subject, row_id)
        return ParkedRow.model_validate(dict(row))

    return router
