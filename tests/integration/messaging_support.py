"""Helpers for the messaging tests: a consuming 'service' made of the real chassis pieces."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import MetaData, Table, select

from marelle_chassis import db
from marelle_chassis.identity_copy import add_child_copy_table, child_copy_handlers
from marelle_chassis.messaging import EventDispatcher, RetryPolicy, create_broker, ensure_topics, subscribe
from marelle_chassis.messaging_tables import inbox_table
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope, dlq_topic, new_envelope
from marelle_contracts.identity import ChildFacts, FamilyCreated


def family_event(name: str = "Famille Test") -> FamilyCreated:
    return FamilyCreated(family_id=uuid.uuid4(), name=name, children=[ChildFacts(
        child_id=uuid.uuid4(), first_name="Léa", last_name=name.split()[-1],
        birth_date=date(2017, 5, 14))])


@dataclass
class Database:
    metadata: MetaData
    children: Table
    engine: Any
    sessions: Any

    @classmethod
    async def create(cls, url: str) -> Database:
        metadata = db.new_metadata()
        children = add_child_copy_table(metadata)
        engine = db.create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return cls(metadata, children, engine, db.session_factory(engine))

    def uow(self, on_commit: Any = None) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.metadata, producer="test", on_commit=on_commit)

    async def revisions(self) -> dict[uuid.UUID, int]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(self.children.c.child_id, self.children.c.revision))).all()
        return {r.child_id: r.revision for r in rows}

    async def inbox_count(self) -> int:
        async with self.engine.connect() as conn:
            return len((await conn.execute(select(inbox_table(self.metadata)))).all())


class Consumer:
    """A broker with one subscriber on `topic`, applying identity events to the child copy."""

    def __init__(self, bootstrap: str, topic: str, group: str, database: Database,
                 fail_times: int = 0, retry: RetryPolicy = RetryPolicy(attempts=3, backoff=(0.05,)),
                 failure: type[Exception] = ConnectionError):
        self.broker = create_broker(bootstrap, client_id=f"test-{group}")
        self.failures_left = fail_times
        self.invocations: list[uuid.UUID] = []  # every call of the handler, duplicates included
        dispatcher = EventDispatcher(group, database.uow, child_copy_handlers(database.children))

        async def handle(envelope: Envelope) -> None:
            self.invocations.append(envelope.event_id)
            if self.failures_left:
                self.failures_left -= 1
                raise failure("failure (test)")
            await dispatcher(envelope)

        subscribe(self.broker, topic, group_id=group, handle=handle, retry=retry)

    async def __aenter__(self) -> Consumer:
        await self.broker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()


async def new_topic(bootstrap: str) -> str:
    topic = f"test.{uuid.uuid4().hex[:10]}"
    await ensure_topics(bootstrap, [topic, dlq_topic(topic)])
    return topic


async def produce(bootstrap: str, topic: str, *values: bytes, key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30.0,
                     match: Any = None) -> list[Any]:
    """Records of `topic` (from the start) accepted by `match`, until `expected` are seen."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=f"reader-{uuid.uuid4().hex}", enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    found += [r for r in records if match is None or match(r)]
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return found


async def eventually(check: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(interval)


def envelope_bytes(payload: FamilyCreated) -> bytes:
    return new_envelope(payload, producer="identity").model_dump_json().encode()
