"""Kafka: broker factory, explicit topics, and consumers that commit after processing,
retry a bounded number of times, then park the message in `<topic>.dlq` and go on."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel, ValidationError

from marelle_chassis import context
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope, Topics, dlq_topic, parse_payload
from marelle_contracts.registry import UnknownEventType
from marelle_contracts.topics import PARTITIONS

log = logging.getLogger(__name__)


def create_broker(bootstrap_servers: str, client_id: str) -> KafkaBroker:
    # acks=all + idempotence: an acknowledged event survives and is not duplicated by retries.
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        graceful_timeout=15.0,
        request_timeout_ms=15_000,
        logger=logging.getLogger(f"{client_id}.broker"),
    )


async def ensure_topics(bootstrap_servers: str, topics: Sequence[str] | None = None,
                        partitions: int = PARTITIONS, replication: int = 1,
                        timeout: float = 60.0) -> None:
    """Create the topics explicitly (several partitions) instead of relying on auto-creation."""
    names = list(topics or Topics.all())
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="marelle-admin")
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [n for n in names if n not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [NewTopic(n, num_partitions=partitions, replication_factor=replication)
                         for n in missing])
                except TopicAlreadyExistsError:
                    pass
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("Kafka not reachable yet at %s, retrying", bootstrap_servers)
            await asyncio.sleep(1.0)
        finally:
            await admin.close()


class PermanentError(Exception):
    """Retrying cannot help (bad payload, impossible state): straight to the DLQ."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: tuple[float, ...] = (0.2, 1.0, 3.0)

    def delay(self, attempt: int) -> float:
        return self.backoff[min(attempt - 1, len(self.backoff) - 1)]


EnvelopeHandler = Callable[[Envelope], Awaitable[None]]


def subscribe(broker: KafkaBroker, topic: str, *, group_id: str, handle: EnvelopeHandler,
              retry: RetryPolicy = RetryPolicy()) -> Any:
    """Register a consumer of `topic` for the consumer group `group_id`.

    Offsets are committed (manual ack) only once the message is processed or parked in the DLQ;
    if even the DLQ cannot be written, the consumer seeks back and tries again later.
    """

    async def consume(msg: KafkaMessage) -> None:
        record = msg.raw_message
        position = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        try:
            envelope = Envelope.model_validate_json(msg.body)
        except ValidationError as exc:
            await _park(broker, msg, position, f"enveloppe illisible : {exc}", attempts=1,
                        group=group_id)
            return
        context.correlation_id.set(envelope.correlation_id)
        context.causation_id.set(str(envelope.event_id))
        extra = {"event_id": str(envelope.event_id), "event_type": envelope.event_type, **position}
        for attempt in range(1, retry.attempts + 1):
            try:
                await handle(envelope)
                break
            except (PermanentError, ValidationError, UnknownEventType) as exc:
                log.error("event rejected: %r", exc, extra=extra)
                await _park(broker, msg, position, _describe(exc), attempts=attempt, group=group_id)
                return
            except Exception as exc:
                if attempt == retry.attempts:
                    log.error("event failed %d times, to the DLQ: %r", attempt, exc, extra=extra)
                    await _park(broker, msg, position, _describe(exc), attempts=attempt,
                                group=group_id)
                    return
                log.warning("event failed (attempt %d), retrying: %r", attempt, exc, extra=extra)
                await asyncio.sleep(retry.delay(attempt))
        await msg.ack()

    consume.__name__ = f"consume_{group_id.replace('.', '_').replace('-', '_')}"
    return broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        # Our handlers may retry for seconds; stay far from a rebalance.
        max_poll_interval_ms=300_000,
    )(consume)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _park(broker: KafkaBroker, msg: Any, position: dict[str, Any], error: str,
                attempts: int, group: str) -> None:
    record = msg.raw_message
    headers = {
        **{k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
           for k, v in (record.headers or [])},
        "x-original-topic": str(position["topic"]),
        "x-original-partition": str(position["partition"]),
        "x-original-offset": str(position["offset"]),
        "x-error": error[:2000],
        "x-attempts": str(attempts),
        "x-consumer-group": group,
        "x-dlq-id": str(uuid.uuid4()),
    }
    try:
        await broker.publish(msg.body, dlq_topic(position["topic"]), key=record.key, headers=headers)
    except Exception:
        # Not parked: rewind so the message is not lost behind a later commit.
        log.exception("could not write to the DLQ; rewinding", extra=position)
        await msg.nack()
        await asyncio.sleep(1.0)
        return
    await msg.ack()


PayloadHandler = Callable[[Any, Envelope, UnitOfWork], Awaitable[None]]


class EventDispatcher:
    """Routes envelopes to payload handlers, each in one unit of work guarded by the inbox.

    Unknown event types are acknowledged and ignored: a producer may add types within a version.
    """

    def __init__(self, consumer: str, uow_factory: Callable[[], UnitOfWork],
                 handlers: Mapping[str, PayloadHandler]) -> None:
        self.consumer = consumer
        self.uow_factory = uow_factory
        self.handlers = dict(handlers)

    async def __call__(self, envelope: Envelope) -> None:
        handler = self.handlers.get(envelope.event_type)
        if handler is None:
            return
        payload: BaseModel = parse_payload(envelope.event_type, envelope.payload)
        async with self.uow_factory() as uow:
            if not await uow.claim(self.consumer, envelope.event_id):
                log.info("duplicate event ignored", extra={"event_id": str(envelope.event_id)})
                return
            await handler(payload, envelope, uow)
            await uow.commit()


async def publish_raw(broker: KafkaBroker, topic: str, key: bytes, value: bytes,
                      headers: dict[str, str]) -> None:
    await broker.publish(value, topic, key=key, headers=headers)
