"""The transactional outbox and its relay, on the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from functools import partial

import pytest
from sqlalchemy import select

from marelle_chassis.messaging import create_broker, ensure_topics, publish_raw
from marelle_chassis.messaging_tables import outbox_table
from marelle_chassis.outbox import OutboxRelay
from marelle_contracts import Topics
from tests.integration.messaging_support import Database, family_event, read_topic

pytestmark = [pytest.mark.kafka]


async def write_events(database: Database, count: int) -> list:
    envelopes = []
    for i in range(count):
        async with database.uow() as uow:
            envelopes.append(uow.publish(family_event(f"Famille N{i % 3}")))
            await uow.commit()
    return envelopes


async def unsent(database: Database) -> list:
    o = outbox_table(database.metadata)
    async with database.engine.connect() as conn:
        return (await conn.execute(select(o).where(o.c.sent_at.is_(None)))).all()


@pytest.fixture
async def broker(kafka_bootstrap):
    await ensure_topics(kafka_bootstrap)
    broker = create_broker(kafka_bootstrap, client_id="test-relay")
    await broker.connect()
    yield broker
    await broker.stop()


async def test_state_and_event_commit_together_or_not_at_all(database_url):
    database = await Database.create(database_url)
    async with database.uow() as uow:
        uow.publish(family_event())
        # Leaving without commit: the event must not survive.
    assert await unsent(database) == []
    with pytest.raises(RuntimeError):
        async with database.uow() as uow:
            uow.publish(family_event())
            raise RuntimeError("use case failed half-way")
    assert await unsent(database) == []
    await write_events(database, 1)
    assert len(await unsent(database)) == 1


async def test_relay_publishes_every_event_once_in_order_and_marks_it_sent(
        database_url, kafka_bootstrap, broker):
    database = await Database.create(database_url)
    envelopes = await write_events(database, 12)
    relay = OutboxRelay(database.engine, outbox_table(database.metadata),
                        partial(publish_raw, broker), name="t", batch_size=5)
    sent = 0
    while n := await relay.relay_once():
        sent += n
    assert sent == 12
    assert await unsent(database) == []

    ours = {str(e.event_id) for e in envelopes}
    records = await read_topic(kafka_bootstrap, Topics.IDENTITY, 12,
                               match=lambda r: json.loads(r.value)["event_id"] in ours)
    assert sorted(json.loads(r.value)["event_id"] for r in records) == sorted(ours)
    # Keyed by family: each family's events on one partition, in the order they were written.
    for record in records:
        body = json.loads(record.value)
        assert record.key.decode() == body["key"] == body["payload"]["family_id"]
        assert dict(record.headers)["event_type"] == b"identity.family_created"
    for key in {json.loads(r.value)["key"] for r in records}:
        written = [str(e.event_id) for e in envelopes if e.key == key]
        received = [json.loads(r.value)["event_id"] for r in records
                    if json.loads(r.value)["key"] == key]
        assert received == written
        assert len({r.partition for r in records if json.loads(r.value)["key"] == key}) == 1


async def test_failed_publish_is_retried_and_a_new_relay_picks_up_after_restart(
        database_url, kafka_bootstrap, broker):
    database = await Database.create(database_url)
    envelopes = await write_events(database, 3)
    outbox = outbox_table(database.metadata)

    async def broker_down(*args):
        raise ConnectionError("broker unreachable")

    failing = OutboxRelay(database.engine, outbox, broker_down, name="t")
    assert await failing.relay_once() == 0
    rows = await unsent(database)
    assert len(rows) == 3
    assert rows[0].attempts == 1 and "broker unreachable" in rows[0].last_error

    # A fresh relay (the service restarted) sends everything that is pending.
    relay = OutboxRelay(database.engine, outbox, partial(publish_raw, broker), name="t")
    relay.start()
    relay.notify()
    await relay.stop()
    assert await unsent(database) == []
    ours = {str(e.event_id) for e in envelopes}
    records = await read_topic(kafka_bootstrap, Topics.IDENTITY, 3,
                               match=lambda r: json.loads(r.value)["event_id"] in ours)
    assert len(records) == 3
