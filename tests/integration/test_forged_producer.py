"""A consumer parks (DLQ, with the reason) an event whose producer does not own the topic, and
goes on with the next one."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition

from marelle_chassis.messaging import ensure_topics
from marelle_contracts import Topics, dlq_topic, new_envelope
from tests.integration.messaging_support import (
    Consumer,
    Database,
    envelope_bytes,
    eventually,
    family_event,
    produce,
    read_topic,
)


async def _start_at_the_end(bootstrap: str, topic: str, group: str) -> None:
    """Commit `group` at the end of `topic`: the consumer sees only this test's events (the
    topic is the real, shared one: the ownership rule is about its name)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            partitions = [TopicPartition(topic, p)
                          for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def test_forged_producer_goes_to_the_dlq(kafka_bootstrap: str, database_url: str) -> None:
    topic = Topics.IDENTITY
    await ensure_topics(kafka_bootstrap, [topic, dlq_topic(topic)])
    group = f"test-forged-{uuid.uuid4().hex[:8]}"
    await _start_at_the_end(kafka_bootstrap, topic, group)
    database = await Database.create(database_url)

    forged = new_envelope(family_event("Famille Usurpée"), producer="billing")
    genuine = family_event("Famille Vraie")
    await produce(kafka_bootstrap, topic, forged.model_dump_json().encode(),
                  envelope_bytes(genuine))
    async with Consumer(kafka_bootstrap, topic, group, database) as consumer:
        # The genuine event after the forged one is applied: the consumer did not stop.
        applied = await eventually(
            lambda: _has(database, genuine.children[0].child_id), timeout=60)
        assert applied
        # The forged event reached no handler.
        assert consumer.invocations.count(forged.event_id) == 0
    parked = await read_topic(
        kafka_bootstrap, dlq_topic(topic), 1,
        match=lambda r: dict(r.headers).get("x-consumer-group") == group.encode())
    assert len(parked) == 1
    headers = dict(parked[0].headers)
    assert headers["x-original-topic"] == topic.encode()
    error = headers["x-error"].decode()
    assert error.startswith("ForeignEvent: ") and "« billing »" in error and "identity" in error


async def _has(database: Database, child_id: uuid.UUID) -> bool:
    return child_id in await database.revisions()
