"""Consumers on the real broker: duplicates, poison messages, retries, restarts."""

from __future__ import annotations

import json
import uuid

import pytest

from marelle_chassis.messaging import RetryPolicy
from marelle_contracts import dlq_topic, new_envelope
from marelle_contracts.identity import ChildUpdated
from tests.integration.messaging_support import (
    Consumer,
    Database,
    envelope_bytes,
    eventually,
    family_event,
    new_topic,
    produce,
    read_topic,
)

pytestmark = [pytest.mark.kafka]


async def test_same_event_delivered_twice_has_one_effect(database_url, kafka_bootstrap):
    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    event = family_event()
    duplicate = envelope_bytes(event)
    other = family_event("Famille Autre")
    await produce(kafka_bootstrap, topic, duplicate, duplicate, envelope_bytes(other))
    async with Consumer(kafka_bootstrap, topic, f"g-{uuid.uuid4().hex}", database):
        revisions = await eventually(
            lambda: _when(database.revisions(), lambda r: len(r) == 2))
    assert revisions == {event.children[0].child_id: 1, other.children[0].child_id: 1}
    assert await database.inbox_count() == 2


async def test_poison_message_goes_to_the_dlq_and_the_consumer_goes_on(database_url, kafka_bootstrap):
    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    not_json = b"{this is not an envelope"
    bad_payload = new_envelope(ChildUpdated.model_construct(
        family_id=uuid.uuid4(), child=None), producer="identity").model_dump_json().encode()
    good = family_event()
    await produce(kafka_bootstrap, topic, not_json, bad_payload, envelope_bytes(good))
    async with Consumer(kafka_bootstrap, topic, f"g-{uuid.uuid4().hex}", database):
        revisions = await eventually(lambda: _when(database.revisions(), bool))
    assert revisions == {good.children[0].child_id: 1}

    parked = await read_topic(kafka_bootstrap, dlq_topic(topic), 2)
    assert [r.value for r in parked] == [not_json, bad_payload]
    headers = [dict(r.headers) for r in parked]
    assert [h["x-original-offset"] for h in headers] == [b"0", b"1"]
    assert all(h["x-original-topic"] == topic.encode() for h in headers)
    assert b"enveloppe illisible" in headers[0]["x-error"]
    assert b"ValidationError" in headers[1]["x-error"]


async def test_transient_failures_are_retried_then_applied_once(database_url, kafka_bootstrap):
    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    event = family_event()
    await produce(kafka_bootstrap, topic, envelope_bytes(event))
    async with Consumer(kafka_bootstrap, topic, f"g-{uuid.uuid4().hex}", database, fail_times=2):
        revisions = await eventually(lambda: _when(database.revisions(), bool))
    assert revisions == {event.children[0].child_id: 1}
    assert await read_topic(kafka_bootstrap, dlq_topic(topic), 1, timeout=3) == []


async def test_a_transient_failure_is_retried_past_the_budget_and_never_parked(
        database_url, kafka_bootstrap):
    """Unreachable dependency: retried without end (here 8 times, beyond the budget of 3), the
    partition held so the next event waits behind it, then both applied in order, DLQ empty."""
    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    event, after = family_event(), family_event("Famille Suivante")
    await produce(kafka_bootstrap, topic, envelope_bytes(event), envelope_bytes(after))
    consumer = Consumer(kafka_bootstrap, topic, f"g-{uuid.uuid4().hex}", database, fail_times=8,
                        retry=RetryPolicy(attempts=3, backoff=(0.01,), max_backoff=0.05))
    async with consumer:
        revisions = await eventually(lambda: _when(database.revisions(), lambda r: len(r) == 2))
    assert revisions == {event.children[0].child_id: 1, after.children[0].child_id: 1}
    held = consumer.invocations[0]
    assert consumer.invocations[:9] == [held] * 9  # nothing overtook the held event
    assert await read_topic(kafka_bootstrap, dlq_topic(topic), 1, timeout=3) == []


async def test_deterministic_failures_beyond_the_retry_budget_park_the_message(
        database_url, kafka_bootstrap):
    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    event, after = family_event(), family_event("Famille Suivante")
    await produce(kafka_bootstrap, topic, envelope_bytes(event))
    group = f"g-{uuid.uuid4().hex}"
    async with Consumer(kafka_bootstrap, topic, group, database, fail_times=3, failure=KeyError):
        parked = await read_topic(kafka_bootstrap, dlq_topic(topic), 1)
        await produce(kafka_bootstrap, topic, envelope_bytes(after))
        revisions = await eventually(lambda: _when(database.revisions(), bool))
    assert json.loads(parked[0].value)["event_id"] and dict(parked[0].headers)["x-attempts"] == b"3"
    assert revisions == {after.children[0].child_id: 1}


async def test_restarted_consumer_resumes_after_its_committed_offset(database_url, kafka_bootstrap):
    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    group = f"g-{uuid.uuid4().hex}"
    first = [family_event(f"Famille A{i}") for i in range(4)]
    await produce(kafka_bootstrap, topic, *map(envelope_bytes, first))
    async with Consumer(kafka_bootstrap, topic, group, database) as before:
        await eventually(lambda: _when(database.revisions(), lambda r: len(r) == 4))
    second = [family_event(f"Famille B{i}") for i in range(4)]
    await produce(kafka_bootstrap, topic, *map(envelope_bytes, second))
    async with Consumer(kafka_bootstrap, topic, group, database) as restarted:
        revisions = await eventually(lambda: _when(database.revisions(), lambda r: len(r) == 8))
    assert len(revisions) == 8 and set(revisions.values()) == {1}
    # Offsets were committed: the restarted consumer's handler was never even invoked for the
    # first four (the inbox would have hidden a redelivery; the invocation count does not).
    assert len(before.invocations) == 4
    assert len(restarted.invocations) == 4
    assert not set(before.invocations) & set(restarted.invocations)


async def _when(awaitable, accept):
    value = await awaitable
    return value if accept(value) else None


async def test_parked_message_is_listed_and_replayed_once_the_cause_is_fixed(
        database_url, kafka_bootstrap):
    from marelle_chassis.dead_letters import read_all, replay, to_dead_letter

    database = await Database.create(database_url)
    topic = await new_topic(kafka_bootstrap)
    event = family_event()
    group = f"g-{uuid.uuid4().hex}"
    await produce(kafka_bootstrap, topic, envelope_bytes(event))
    async with Consumer(kafka_bootstrap, topic, group, database, fail_times=3, failure=KeyError):
        await read_topic(kafka_bootstrap, dlq_topic(topic), 1)
        parked = [to_dead_letter(r) for r in await read_all(kafka_bootstrap, dlq_topic(topic))]
        assert len(parked) == 1
        letter = parked[0]
        assert (letter.original_topic, letter.original_offset) == (topic, 0)
        assert letter.consumer_group == group and letter.attempts == 3
        assert letter.event_type == "identity.family_created"
        assert "KeyError" in letter.error
        assert await database.revisions() == {}
        # The cause is gone (the consumer no longer fails): staff replay the message.
        await replay(kafka_bootstrap, letter.dlq_topic, letter.partition, letter.offset)
        revisions = await eventually(lambda: _when(database.revisions(), bool))
    assert revisions == {event.children[0].child_id: 1}
