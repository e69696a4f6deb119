"""Transactional outbox: rows written with the state change, published by a relay.

The relay publishes unsent rows in id order (so in order per key), awaits the broker's
acknowledgement (acks=all), then marks them sent. A failed publish stops the batch, so a later
row of the same key never overtakes an earlier one; the row is retried with backoff. Rows that were
published but not yet marked sent (crash in between) are published again: consumers dedupe on
`event_id`. On PostgreSQL an advisory lock keeps a single active relay per database.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from marelle_contracts import Envelope

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bytes, dict[str, str]], Awaitable[None]]


def envelope_headers(envelope: Envelope) -> dict[str, str]:
    return {
        "event_id": str(envelope.event_id),
        "event_type": envelope.event_type,
        "schema_version": str(envelope.schema_version),
        "producer": envelope.producer,
        "correlation_id": envelope.correlation_id,
        "content-type": "application/json",
    }


async def add_to_outbox(session: AsyncSession, outbox: Table, topic: str, envelope: Envelope) -> None:
    await session.execute(insert(outbox).values(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        topic=topic,
        key=envelope.key,
        envelope=envelope.model_dump_json(),
        created_at=datetime.now(UTC),
        attempts=0,
    ))


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, outbox: Table, publish: Publish, *,
                 name: str, batch_size: int = 200, poll_interval: float = 1.0,
                 max_backoff: float = 30.0) -> None:
        self.engine = engine
        self.outbox = outbox
        self.publish = publish
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self._lock_key = zlib.crc32(f"marelle-outbox-{name}".encode()) & 0x7FFFFFFF
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

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
            try:
                sent = await self.relay_once()
            except Exception:
                log.exception("outbox relay pass failed")
                sent = 0
                self._failures += 1
            if sent:
                continue
            delay = self.poll_interval if not self._failures else min(
                self.max_backoff, 0.5 * 2 ** min(self._failures, 8))
            self._wake.clear()
            try:
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(
                select(func.count()).select_from(self.outbox).where(self.outbox.c.sent_at.is_(None))
            ) or 0)

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
        rows = (await conn.execute(
            select(o.c.id, o.c.topic, o.c.key, o.c.envelope)
            .where(o.c.sent_at.is_(None)).order_by(o.c.id).limit(self.batch_size)
        )).all()
        await conn.commit()
        sent_ids: list[int] = []
        error: Exception | None = None
        failed_id: int | None = None
        for row in rows:
            envelope = Envelope.model_validate_json(row.envelope)
            try:
                await self.publish(row.topic, row.key.encode(), row.envelope.encode(),
                                   envelope_headers(envelope))
            except Exception as exc:  # broker down or timeout: keep order, retry later
                error, failed_id = exc, row.id
                break
            sent_ids.append(row.id)
        now = datetime.now(UTC)
        if sent_ids:
            await conn.execute(update(o).where(o.c.id.in_(sent_ids))
                               .values(sent_at=now, attempts=o.c.attempts + 1))
        if failed_id is not None:
            await conn.execute(update(o).where(o.c.id == failed_id)
                               .values(attempts=o.c.attempts + 1, last_error=repr(error)[:2000]))
        await conn.commit()
        if error is not None:
            self._failures += 1
            log.warning("outbox publish failed, will retry: %r", error)
        else:
            self._failures = 0
        return len(sent_ids)
