"""Staff tooling for parked messages: list a DLQ, replay one record to the consumer that parked it.

With Kafka ACLs a service may write only its own topic (and the DLQs of what it consumes), so a
replay cannot go back to the original topic, which belongs to its producer: granting that would
let the service forge the producer's events for everyone. A replay goes instead to the retry
topic of the parking consumer's principal, `<original topic>.retry.<principal>`
(`retry_topic`), which only that principal may write and read (infra/kafka/acls.sh); the
consumer reads it with the original topic, checks the producer against the ORIGINAL topic
(`origin_topic`, for `messaging.check_origin`), and skips what it had already applied (inbox),
so replaying is always safe and reaches no other service.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import APIRouter, Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from marelle_chassis.audit import audit_with_engine
from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.kafka_security import kafka_client_options
from marelle_contracts.http.platform import DeadLetter, DeadLetters

REPLAY_HEADER = "x-replayed-from"
# `<event topic>.retry.<principal>`: a consumer principal's own copy of an event topic's replays.
RETRY_INFIX = ".retry."


def principal_of(consumer_group: str) -> str:
    """The Kafka principal owning a consumer group: groups are named "<principal>.…"
    (e.g. billing.identity-events), the only groups acls.sh lets a principal use."""
    return consumer_group.split(".", 1)[0]


def retry_topic(topic: str, consumer_group: str) -> str:
    """Where replays of `topic`'s dead letters parked by `consumer_group` go."""
    return f"{topic}{RETRY_INFIX}{principal_of(consumer_group)}"


def origin_topic(topic: str) -> str:
    """The event topic a record travelled on: for a retry topic, the topic it was replayed
    from, whose owner is the only producer allowed (`messaging.check_origin`)."""
    return topic.split(RETRY_INFIX, 1)[0]


def _header(headers: dict[str, bytes], name: str) -> str | None:
    value = headers.get(name)
    return value.decode("utf-8", "replace") if value is not None else None


def _as_int(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _envelope_fields(value: bytes) -> dict[str, Any]:
    """event_id and event_type from the body when the headers lack them (poison may be anything)."""
    try:
        body = json.loads(value)
        return {"event_id": str(body["event_id"]), "event_type": str(body["event_type"])}
    except (ValueError, KeyError, TypeError):
        return {}


def to_dead_letter(record: Any) -> DeadLetter:
    headers = dict(record.headers or [])
    from_body = _envelope_fields(record.value)
    return DeadLetter(
        dlq_topic=record.topic, partition=record.partition, offset=record.offset,
        parked_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        original_topic=_header(headers, "x-original-topic"),
        original_partition=_as_int(_header(headers, "x-original-partition")),
        original_offset=_as_int(_header(headers, "x-original-offset")),
        consumer_group=_header(headers, "x-consumer-group"),
        error=_header(headers, "x-error"), attempts=_as_int(_header(headers, "x-attempts")),
        event_id=_header(headers, "event_id") or from_body.get("event_id"),
        event_type=_header(headers, "event_type") or from_body.get("event_type"),
    )


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="dlq-reader",
                                **kafka_client_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t.get("error_code", 0) == 0
                  for p in t.get("partitions", []))


async def read_all(bootstrap: str, topic: str, limit: int = 500) -> list[Any]:
    """Every record of `topic`, without joining a consumer group (nothing is committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                **kafka_client_options(),
                                client_id=f"dlq-reader-{uuid.uuid4().hex[:6]}")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for items in batch.values():
                records += items
            if len(records) >= limit:
                break
        return sorted(records, key=lambda r: r.timestamp)[:limit]
    finally:
        await consumer.stop()


async def replay(bootstrap: str, topic: str, partition: int, offset: int) -> DeadLetter:
    """Send one dead letter to the retry topic of the consumer (group) that parked it. A DLQ is
    shared by every consumer of its topic: only the parking consumer's principal may write its
    retry topic, so under ACLs a service replays nothing for another service."""
    records = [r for r in await read_all(bootstrap, topic, limit=100_000)
               if r.partition == partition and r.offset == offset]
    if not records:
        raise NotFound("Ce message en échec n'existe pas (ou plus).")
    record = records[0]
    parked = to_dead_letter(record)
    if not parked.original_topic or not parked.consumer_group:
        raise NotFound("Ce message n'indique pas son sujet d'origine ou son consommateur ; il ne "
                       "peut être rejoué.")
    # The original topic as the consumer saw it (a replayed message parked again names its
    # retry topic): the retry topic is always derived from the event topic.
    target = retry_topic(origin_topic(parked.original_topic), parked.consumer_group)
    # Production: the deployment made it (acls.sh --topics) and this lists it only; a
    # development broker without ACLs gets it here.
    from marelle_chassis.messaging import ensure_topics  # messaging reads the names above

    await ensure_topics(bootstrap, [target], timeout=10.0)
    headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("x-")]
    headers.append((REPLAY_HEADER, f"{topic}/{partition}/{offset}".encode()))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                **kafka_client_options())
    await producer.start()
    try:
        await producer.send_and_wait(target, record.value, key=record.key, headers=headers)
    finally:
        await producer.stop()
    return parked


def dead_letter_router(bootstrap: str, dlq_topics: list[str], consumer_groups: list[str],
                       engine: AsyncEngine | None = None,
                       metadata: MetaData | None = None) -> APIRouter:
    """`/staff/dead-letters`: what this service's consumers parked, and a replay action.

    With the service's engine and metadata, each replay leaves a line in its staff audit log.
    """
    router = APIRouter(prefix="/staff/dead-letters", tags=["dead letters"])
    admin = require_staff(principal_dependency(verifier_from_app), ["administrator"])

    @router.get("", response_model=DeadLetters)
    async def list_dead_letters(_: Principal = Depends(admin)) -> DeadLetters:
        items: list[DeadLetter] = []
        for topic in dlq_topics:
            items += [d for d in map(to_dead_letter, await read_all(bootstrap, topic))
                      if d.consumer_group in consumer_groups]
        return DeadLetters(items=sorted(items, key=lambda d: d.parked_at, reverse=True))

    @router.post("/{topic}/{partition}/{offset}/replay", response_model=DeadLetter)
    async def replay_dead_letter(topic: str, partition: int, offset: int, request: Request,
                                 who: Principal = Depends(admin)) -> DeadLetter:
        if topic not in dlq_topics:
            raise NotFound("Cette file de messages en échec n'appartient pas à ce service.")
        # The record goes to the retry topic of the group that parked it (see `replay`).
        parked = await replay(bootstrap, topic, partition, offset)
        if engine is not None and metadata is not None:
            # After the send: Kafka and the database share no transaction, and a replay is
            # idempotent (inbox), so the line records a replay that did happen.
            await audit_with_engine(
                engine, metadata, who, "message.rejoue", f"dlq:{topic}/{partition}/{offset}",
                before={"dlq_topic": topic, "error": parked.error,
                        "event_type": parked.event_type, "event_id": parked.event_id},
                after={"topic": parked.original_topic})
        return parked

    return router
