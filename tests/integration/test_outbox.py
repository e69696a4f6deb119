"""The transactional outbox and its relay, on the real broker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

from aiokafka.errors import KafkaConnectionError

import pytest
from sqlalchemy import select

from marelle_chassis.messaging import create_broker, ensure_topics, publish_raw
from marelle_chassis.messaging_tables import inbox_table, outbox_table
from marelle_chassis.outbox import OutboxRelay, Retention, add_to_outbox
from marelle_contracts import Topics
from tests.integration.messaging_support import Database, eventually, family_event, read_topic

pytestmark = [pytest.mark.kafka]


async def write_events(database: Database, count: int) -> list:
    envelopes = []
    for i in range(count):
        async with database.uow() as uow:
            envelopes.append(uow.publish(family_event(f"Famille N{i % 3}"), version=1))
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
        uow.publish(family_event(), version=1)
        # Leaving without commit: the event must not survive.
    assert await unsent(database) == []
    with pytest.raises(RuntimeError):
        async with database.uow() as uow:
            uow.publish(family_event(), version=1)
            raise RuntimeError("use case failed half-way")
    assert await unsent(database) == []
    await write_events(database, 1)
    assert len(await unsent(database)) == 1


async def test_a_commit_that_fails_leaves_neither_the_state_nor_the_event(database_url):
    """Real state (a child row) and its event in one unit of work; the COMMIT itself fails
    (PostgreSQL: a deferred constraint trigger that fires at commit; SQLite: the outbox row
    clashes at the flush the commit makes): the database holds neither afterwards."""
    database = await Database.create(database_url)
    event = family_event()
    child = event.children[0]
    postgres = database.engine.dialect.name == "postgresql"
    if postgres:
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql(
                "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'commit refused (test)'; END $$")
            await conn.exec_driver_sql(
                "CREATE CONSTRAINT TRIGGER refuse_outbox AFTER INSERT ON outbox_message "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()")
    async with database.uow() as uow:
        await uow.session.execute(database.children.insert().values(
            child_id=child.child_id, family_id=event.family_id, first_name=child.first_name,
            last_name=child.last_name, birth_date=child.birth_date, revision=1, version=1,
            source_event_id=uuid.uuid4(), updated_at=datetime.now(UTC)))
        envelope = uow.publish(event, version=1)
        if not postgres:  # the same event id already in the outbox: the commit's flush fails
            await add_to_outbox(uow.session, outbox_table(database.metadata), Topics.IDENTITY,
                                envelope)
        with pytest.raises(Exception, match="commit refused|UNIQUE|unique"):
            await uow.commit()
    assert await database.revisions() == {}
    assert await unsent(database) == []


async def test_relay_publishes_every_event_once_in_order_and_marks_it_sent(
        database_url, kafka_bootstrap, broker):
    from marelle_chassis.messaging import _aiokafka_producer

    # The relay hands records to aiokafka's producer itself (FastStream's path is the
    # fallback): if FastStream moves it, this says so rather than the relay slowing down.
    assert _aiokafka_producer(broker) is not None
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
        raise KafkaConnectionError("broker unreachable")

    failing = OutboxRelay(database.engine, outbox, broker_down, name="t")
    assert await failing.relay_once() == 0
    rows = await unsent(database)
    assert len(rows) == 3
    assert rows[0].attempts == 1 and "broker unreachable" in rows[0].last_error
    # The producer refused the first row: nothing behind it was handed over (order kept).
    assert [r.attempts for r in rows] == [1, 0, 0]

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


async def test_relay_hands_the_whole_batch_over_before_awaiting_any_acknowledgement(database_url):
    database = await Database.create(database_url)
    await write_events(database, 6)
    handed: list[str] = []
    acks: list[asyncio.Future] = []

    async def send(topic, key, value, headers):
        handed.append(headers["event_id"])
        acks.append(asyncio.get_running_loop().create_future())
        return acks[-1]

    relay = OutboxRelay(database.engine, outbox_table(database.metadata), send, name="t")
    passing = asyncio.create_task(relay.relay_once())
    # Awaiting each acknowledgement in turn would stop at the first record.
    while len(handed) < 6 and not passing.done():
        await asyncio.sleep(0.01)
    assert len(handed) == 6 and not passing.done()
    for ack in acks:
        ack.set_result(None)
    assert await passing == 6
    assert await unsent(database) == []


async def test_a_commit_during_an_empty_pass_is_published_without_waiting_for_the_next_poll(
        database_url, kafka_bootstrap, broker):
    database = await Database.create(database_url)
    relay = OutboxRelay(database.engine, outbox_table(database.metadata),
                        partial(publish_raw, broker), name="t", poll_interval=60.0)
    empty_pass = asyncio.Event()
    real_batch = relay._relay_batch
    written: list = []

    async def batch_then_commit(conn):
        sent = await real_batch(conn)
        if not written:  # the first pass found nothing; a use case commits right now
            written.extend(await write_events(database, 1))
            relay.notify()
            empty_pass.set()
        return sent

    relay._relay_batch = batch_then_commit  # type: ignore[method-assign]
    relay.start()
    try:
        await asyncio.wait_for(empty_pass.wait(), 10)
        sent = await eventually(lambda: _none_unsent(database), timeout=5)
    finally:
        await relay.stop(drain_timeout=0.01)
    assert sent, "the event waited for the next poll (60 s): the wake-up was lost"


async def _none_unsent(database: Database) -> bool:
    return await unsent(database) == []


async def test_a_row_that_can_never_be_published_is_set_aside_and_does_not_block_the_others(
        database_url, kafka_bootstrap, broker):
    database = await Database.create(database_url)
    before = await write_events(database, 1)
    async with database.uow() as uow:  # 2 MB: more than the producer may ever send
        huge = uow.publish(family_event("Famille " + "X" * 2_000_000), version=1)
        await uow.commit()
    after = await write_events(database, 2)
    relay = OutboxRelay(database.engine, outbox_table(database.metadata),
                        partial(publish_raw, broker), name="t", max_attempts=2)
    for _ in range(4):
        await relay.relay_once()
    o = outbox_table(database.metadata)
    async with database.engine.connect() as conn:
        rows = {r.event_id: r for r in (await conn.execute(select(o))).all()}
    assert rows[huge.event_id].parked_at is not None and rows[huge.event_id].sent_at is None
    assert rows[huge.event_id].attempts == 2
    assert "TooLarge" in rows[huge.event_id].last_error
    assert all(rows[e.event_id].sent_at is not None for e in before + after)
    assert await relay.pending() == 0
    ours = {str(e.event_id) for e in before + after}
    records = await read_topic(kafka_bootstrap, Topics.IDENTITY, 3,
                               match=lambda r: json.loads(r.value)["event_id"] in ours)
    assert len(records) == 3


async def test_sent_rows_and_old_inbox_rows_are_pruned_after_their_retention(database_url):
    database = await Database.create(database_url)
    await write_events(database, 3)
    o, i = outbox_table(database.metadata), inbox_table(database.metadata)
    long_ago = datetime.now(UTC) - timedelta(days=10)
    async with database.engine.begin() as conn:
        ids = (await conn.execute(select(o.c.id).order_by(o.c.id))).scalars().all()
        await conn.execute(o.update().where(o.c.id == ids[0]).values(sent_at=long_ago))
        await conn.execute(o.update().where(o.c.id == ids[1]).values(sent_at=datetime.now(UTC)))
        await conn.execute(i.insert(), [
            {"consumer": "c", "event_id": uuid.uuid4(), "processed_at": long_ago},
            {"consumer": "c", "event_id": uuid.uuid4(), "processed_at": datetime.now(UTC)}])
    relay = OutboxRelay(database.engine, o, None, name="t", inbox=i,  # type: ignore[arg-type]
                        retention=Retention(outbox_days=7, inbox_days=7))
    assert await relay.prune() == (1, 1)
    async with database.engine.connect() as conn:
        left = (await conn.execute(select(o.c.id).order_by(o.c.id))).scalars().all()
        inbox_left = (await conn.execute(select(i.c.processed_at))).scalars().all()
    # The recent sent row and the unsent one stay; so does the recent inbox row.
    assert left == ids[1:] and len(inbox_left) == 1
