"""Kafka: broker factory, explicit topics, and consumers that commit after processing,
retry a bounded number of times, then park the message in `<topic>.dlq` and go on."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)
from faststream.exceptions import IncorrectState
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel, ValidationError

from marelle_chassis import context
from marelle_chassis.kafka_security import faststream_security, kafka_client_options
from marelle_chassis.transactions import is_transient
from marelle_chassis.uow import UnitOfWork
from marelle_chassis.dead_letters import origin_topic, retry_topic
from marelle_contracts import Envelope, Topics, dlq_topic
from marelle_contracts.registry import UnknownEventType, event_spec, payload_of, typed_envelope
from marelle_contracts.topics import PARTITIONS

log = logging.getLogger(__name__)


def create_broker(bootstrap_servers: str, client_id: str,
                  security_env: Mapping[str, str] | None = None) -> KafkaBroker:
    """`security_env`: where the KAFKA_SECURITY_PROTOCOL/KAFKA_SASL_* settings are read
    (default: the process environment; see kafka_security)."""
    # acks=all + idempotence: an acknowledged event survives and is not duplicated by retries.
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=faststream_security(security_env),
        acks="all",
        enable_idempotence=True,
        # Fewer, larger produce requests when the outbox relay sends a burst (an opening):
        # the broker's CPU goes per request more than per record. Within the broker's
        # default message.max.bytes (1 MiB).
        max_batch_size=512 * 1024,
        linger_ms=5,
        graceful_timeout=15.0,
        request_timeout_ms=15_000,
        logger=logging.getLogger(f"{client_id}.broker"),
    )


async def ensure_topics(bootstrap_servers: str, topics: Sequence[str] | None = None,
                        partitions: int = PARTITIONS, replication: int = 1,
                        timeout: float = 60.0,
                        security_env: Mapping[str, str] | None = None) -> None:
    """Create the topics explicitly (several partitions) instead of relying on auto-creation."""
    names = list(topics or Topics.all())
    security = kafka_client_options(security_env)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="marelle-admin",
                                    **security)
        missing: list[str] = []
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
        except (TopicAuthorizationFailedError, ClusterAuthorizationFailedError) as exc:
            # With ACLs (production) the deployment creates the topics, not the services.
            log.warning("not allowed to create the missing topics %s (%r): they must be created "
                        "by the deployment (infra/kafka/acls.sh --topics)", missing, exc)
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


class ForeignEvent(PermanentError):
    """An event on a topic its producer does not own, or of a type that belongs elsewhere."""


# marelle.<service>.v<N> is written by <service> only; marelle.inbound.<name>.v<N> by another
# municipal system (any producer name) and carries only the event types registered for it.
_OWNED_TOPIC = re.compile(r"^marelle\.(?P<owner>[a-z][a-z0-9_]*)\.v[0-9]+$")
_INBOUND_TOPIC = re.compile(r"^marelle\.inbound\.[a-z0-9_]+\.v[0-9]+$")


# (producer, event type, topic) already found allowed: the check depends on nothing else, and a
# consumer's batch of 1,000 records would otherwise run the regular expressions 1,000 times.
_ALLOWED: set[tuple[str, str, str]] = set()


def check_origin(envelope: Envelope, topic: str) -> None:
    """Raise ForeignEvent when `envelope` may not travel on `topic`.

    ACLs keep other principals from writing a service's topic; this check is the consumer's own
    guard (a mistaken producer, a replay, a broker without ACLs). Topics outside Marelle's naming
    (tests' scratch topics) have no owner to check."""
    seen = (envelope.producer, envelope.event_type, topic)
    if seen in _ALLOWED:
        return
    _check_origin(envelope, topic)
    if len(_ALLOWED) < 10_000:
        _ALLOWED.add(seen)


def _check_origin(envelope: Envelope, topic: str) -> None:
    inbound = _INBOUND_TOPIC.match(topic)
    owned = None if inbound else _OWNED_TOPIC.match(topic)
    if not inbound and not owned:
        return
    kind = envelope.event_type
    if owned:
        owner = owned["owner"]
        if envelope.producer != owner:
            raise ForeignEvent(f"producteur « {envelope.producer} » refusé : le sujet {topic} "
                               f"appartient à « {owner} »")
        if not kind.startswith(f"{owner}."):
            raise ForeignEvent(f"type « {kind} » refusé : le sujet {topic} ne porte que des "
                               f"événements {owner}.*")
    try:
        spec = event_spec(kind)
    except UnknownEventType:
        if inbound:
            raise ForeignEvent(f"type « {kind} » inconnu sur le sujet entrant {topic}") from None
        return  # the owner added a type within the version: the dispatcher ignores it
    if spec.topic != topic:
        raise ForeignEvent(f"type « {kind} » refusé : il appartient au sujet {spec.topic}, "
                           f"pas à {topic}")


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` bounds the retries of a deterministic failure (a bug, a rule that fails) before
    the DLQ. Transient failures (database or broker unreachable, timeouts: see
    `transactions.is_transient`) are retried without end, with backoff up to `max_backoff`."""

    attempts: int = 4
    backoff: tuple[float, ...] = (0.2, 1.0, 3.0)
    max_backoff: float = 30.0

    def delay(self, attempt: int) -> float:
        return self.backoff[min(attempt - 1, len(self.backoff) - 1)]

    def transient_delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff[0] * 2 ** min(attempt - 1, 16))


class ConsumerHealth:
    """What the consumers of one process are doing, for readiness: a consumer that holds its
    partition while a dependency is down makes the service "not ready", and says why."""

    def __init__(self) -> None:
        self.stalled: dict[str, tuple[float, str]] = {}
        self.stopping = asyncio.Event()

    def stall(self, group: str, error: str) -> None:
        since = self.stalled.get(group, (time.monotonic(), ""))[0]
        self.stalled[group] = (since, error)

    def recover(self, group: str) -> None:
        self.stalled.pop(group, None)

    def check(self) -> None:
        if self.stalled:
            now = time.monotonic()
            raise ConnectionError("; ".join(
                f"{group} en attente depuis {now - since:.0f} s ({error})"
                for group, (since, error) in sorted(self.stalled.items())))


_health: weakref.WeakKeyDictionary[KafkaBroker, ConsumerHealth] = weakref.WeakKeyDictionary()


def consumer_health(broker: KafkaBroker) -> ConsumerHealth:
    """The health of the consumers registered on `broker` (one per broker, created on demand)."""
    health = _health.get(broker)
    if health is None:
        health = _health[broker] = ConsumerHealth()
    return health


EnvelopeHandler = Callable[[Envelope], Awaitable[None]]
BatchEnvelopeHandler = Callable[[Sequence[Envelope]], Awaitable[None]]

# Outcomes of one record's processing.
_DONE, _PARKED, _REWOUND, _IGNORED = "done", "parked", "rewound", "ignored"


def subscribe(broker: KafkaBroker, topic: str, *, group_id: str, handle: EnvelopeHandler,
              retry: RetryPolicy = RetryPolicy(), batch: bool = False,
              handle_batch: BatchEnvelopeHandler | None = None,
              max_records: int = 5000, chunk: int = 500) -> Any:
    """Register a consumer of `topic` for the consumer group `group_id`.

    Offsets are committed (manual ack) only once the message is processed or parked in the DLQ.
    A transient failure holds the message (and so the order of its partition) and is retried
    until the dependency is back; a deterministic one is retried `retry.attempts` times, then
    parked. If even the DLQ cannot be written, or the process stops meanwhile, the consumer seeks
    back so the message is delivered again.

    `batch=True`: up to `max_records` records at a time are handed to `handle_batch` (default:
    `handle.batch`, see `EventDispatcher.batch`) at once, and the offsets committed once per
    batch (with an EventDispatcher, applied `chunk` records at a time, the next chunk read while
    the database works on the one before). Same guarantees: an unreadable or foreign record is
    parked alone; a transient failure holds the whole batch (no offset committed; chunks
    already applied are skipped by the inbox when it comes back); a deterministic one makes
    the batch be processed again record by record through `handle`, exactly as without
    `batch`, so only the bad record reaches the DLQ.
    """
    health = consumer_health(broker)

    async def process(msg: Any, record: Any, envelope: Envelope) -> str:
        """One record, as the consumer always did: retried, held or parked."""
        position = _position(record)
        context.correlation_id.set(envelope.correlation_id)
        context.causation_id.set(str(envelope.event_id))
        extra = {"event_id": str(envelope.event_id), "event_type": envelope.event_type, **position}
        failures = transient = 0
        while True:
            try:
                await handle(envelope)
                return _DONE
            except (PermanentError, ValidationError, UnknownEventType) as exc:
                log.error("event rejected: %r", exc, extra=extra)
                health.recover(group_id)
                return await _park(broker, msg, record, _describe(exc), attempts=failures + 1,
                                   group=group_id)
            except Exception as exc:
                if is_transient(exc):
                    transient += 1
                    health.stall(group_id, type(exc).__name__)
                    delay = retry.transient_delay(transient)
                    log.warning("dependency unavailable (attempt %d), holding the partition and "
                                "retrying in %.1f s: %r", transient, delay, exc, extra=extra)
                else:
                    failures += 1
                    if failures >= retry.attempts:
                        log.error("event failed %d times, to the DLQ: %r", failures, exc,
                                  extra=extra)
                        health.recover(group_id)
                        return await _park(broker, msg, record, _describe(exc),
                                           attempts=failures, group=group_id)
                    delay = retry.delay(failures)
                    log.warning("event failed (attempt %d), retrying: %r", failures, exc,
                                extra=extra)
                if await _stopping_within(health, delay):
                    # Shutting down: not processed, so not committed; seek back for the next run.
                    await msg.nack()
                    return _REWOUND

    handles = getattr(handle, "handles", None)

    async def admit(msg: Any, record: Any) -> Envelope | str:
        """The record's envelope, or the outcome of parking it (unreadable, foreign), or
        `_IGNORED` when its `event_type` header names a type `handle` does nothing with."""
        said = _header(record, b"event_type", "event_type")
        if handles is not None and not handles(said):
            # Not even read: a service consumes a topic for a few of its types (booking, the
            # validated registrations of enrolment's; at an opening, one in three events).
            return _IGNORED
        envelope: Envelope | None = None
        typed = typed_envelope(said)
        if typed is not None:
            # The envelope and its payload in one pass, when the header says the type; a
            # record that does not validate so (or says another type inside) is read as before.
            try:
                envelope = typed.model_validate_json(record.value or b"")
            except ValidationError:
                pass
            if envelope is not None and envelope.event_type != said:
                envelope = None
        if envelope is None:
            try:
                envelope = Envelope.model_validate_json(record.value or b"")
            except ValidationError as exc:
                return await _park(broker, msg, record, f"enveloppe illisible : {exc}",
                                   attempts=1, group=group_id)
        try:
            # A staff replay arrives on the group's retry topic: checked against the topic it
            # was replayed from, whose owner alone may have produced it.
            check_origin(envelope, origin_topic(record.topic))
        except ForeignEvent as exc:
            log.error("event rejected: %r", exc, extra={
                "event_id": str(envelope.event_id), "event_type": envelope.event_type,
                **_position(record)})
            return await _park(broker, msg, record, _describe(exc), attempts=1, group=group_id)
        return envelope

    async def consume(msg: KafkaMessage) -> None:
        record = msg.raw_message
        admitted = await admit(msg, record)
        if admitted is _REWOUND:
            return
        if type(admitted) is not str and await process(msg, record, admitted) is _REWOUND:
            return
        health.recover(group_id)
        await msg.ack()

    run_batch = handle_batch or (getattr(handle, "batch", None) if batch else None)
    if batch and run_batch is None:
        raise TypeError("subscribe(batch=True) needs handle_batch or a handle with .batch")

    # `handle.batch` in steps (EventDispatcher): the next chunk is read and parsed while the
    # database works on the one before (bench/events.py: the consumer waited for PostgreSQL a
    # quarter of the time). Chunks are applied one after the other, each its own transaction.
    pipelined = (handle_batch is None and hasattr(handle, "prepare")
                 and hasattr(handle, "apply"))

    async def consume_batch(msg: KafkaMessage) -> None:
        assert run_batch is not None
        admitted: list[tuple[Any, Envelope]] = []
        applying: asyncio.Future[None] | None = None
        failed = not pipelined
        records = msg.raw_message
        try:
            for start in range(0, len(records), chunk):
                step: list[Envelope] = []
                for n, record in enumerate(records[start:start + chunk], 1):
                    outcome = await admit(msg, record)
                    # Outcomes are these str constants, compared by identity (an envelope's
                    # __eq__ and isinstance on pydantic's ABC metaclass cost per record).
                    if type(outcome) is str:
                        if outcome is _REWOUND:
                            return
                    else:
                        admitted.append((record, outcome))
                        step.append(outcome)
                    if n % 100 == 0:
                        await asyncio.sleep(0)  # the chunk being applied goes on meanwhile
                if failed:
                    continue
                try:
                    prepared = handle.prepare(step)
                    if applying is not None:
                        await applying
                except Exception:
                    failed = True  # the whole batch again below: retried or record by record
                    continue
                applying = asyncio.ensure_future(handle.apply(prepared))
                await asyncio.sleep(0)  # its first statement is sent before the next chunk
            if not failed and applying is not None:
                try:
                    await applying
                except Exception:
                    failed = True
        finally:
            if applying is not None and not applying.done():
                await asyncio.gather(applying, return_exceptions=True)
        if not failed:
            health.recover(group_id)
            await msg.ack()
            return
        # Chunks already committed are in the inbox: applying the batch again skips them.
        transient = 0
        while admitted:
            try:
                await run_batch([envelope for _, envelope in admitted])
                break
            except Exception as exc:
                first, last = admitted[0][0], admitted[-1][0]
                extra = {"records": len(admitted), "first": _position(first),
                         "last": _position(last)}
                if not is_transient(exc):
                    # Find the culprit: one record (one unit of work) at a time, as always.
                    log.warning("batch of %d failed, processing it record by record: %r",
                                len(admitted), exc, extra=extra)
                    for record, envelope in admitted:
                        if await process(msg, record, envelope) == _REWOUND:
                            return
                    break
                transient += 1
                health.stall(group_id, type(exc).__name__)
                delay = retry.transient_delay(transient)
                log.warning("dependency unavailable (attempt %d), holding the batch and retrying "
                            "in %.1f s: %r", transient, delay, exc, extra=extra)
                if await _stopping_within(health, delay):
                    await msg.nack()
                    return
        health.recover(group_id)
        await msg.ack()

    name = f"{group_id.replace('.', '_').replace('-', '_')}"
    consume.__name__ = f"consume_{name}"
    consume_batch.__name__ = f"consume_batch_{name}"
    retry_topics(broker).add(retry_topic(topic, group_id))
    batching: dict[str, Any] = (
        # The envelopes are read from the records: no decoding of the bodies by FastStream.
        {"batch": True, "max_records": max_records, "decoder": _no_decoding,
         # A fetch that can fill a batch: at 1 MiB per partition (the default) a batch of
         # 5,000 records waited for several fetches.
         "max_partition_fetch_bytes": 4 << 20}
        if run_batch is not None else {})
    return broker.subscriber(
        topic,
        # The dead letters staff replay for this group (marelle_chassis.dead_letters).
        retry_topic(topic, group_id),
        group_id=group_id,
        ack_policy=AckPolicy.MANUAL,
        auto_offset_reset="earliest",
        # A handler may hold its message for as long as a dependency is down; past this the group
        # rebalances and the uncommitted message is simply delivered again (nothing lost).
        max_poll_interval_ms=3_600_000,
        **batching,
    )(consume_batch if run_batch is not None else consume)


async def _no_decoding(msg: Any) -> None:
    return None


def _header(record: Any, *names: bytes | str) -> str | None:
    """A record's header (the relay writes the envelope's fields there), or None."""
    for key, value in record.headers or ():
        if key in names:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def _position(record: Any) -> dict[str, Any]:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


def retry_topics(broker: KafkaBroker) -> set[str]:
    """The retry topics of the groups subscribed on `broker` (created with the event topics)."""
    if not hasattr(broker, "_marelle_retry_topics"):
        broker._marelle_retry_topics = set()  # type: ignore[attr-defined]
    return broker._marelle_retry_topics  # type: ignore[attr-defined,no-any-return]


async def _stopping_within(health: ConsumerHealth, delay: float) -> bool:
    try:
        async with asyncio.timeout(delay):
            await health.stopping.wait()
        return True
    except TimeoutError:
        return False


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _park(broker: KafkaBroker, msg: Any, record: Any, error: str, attempts: int,
                group: str) -> str:
    """Write `record` to its DLQ. `_PARKED` once written (the caller commits past it); if the
    DLQ cannot be written, rewind `msg` (its record, or the whole batch) so nothing is lost
    behind a later commit, and return `_REWOUND`."""
    position = _position(record)
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
        await broker.publish(record.value or b"", dlq_topic(origin_topic(position["topic"])),
                             key=record.key, headers=headers)
    except Exception:
        log.exception("could not write to the DLQ; rewinding", extra=position)
        await msg.nack()
        await asyncio.sleep(1.0)
        return _REWOUND
    return _PARKED


PayloadHandler = Callable[[Any, Envelope, UnitOfWork], Awaitable[None]]
BulkPayloadHandler = Callable[[Sequence[tuple[Any, Envelope]], UnitOfWork], Awaitable[None]]


def with_bulk(handler: PayloadHandler, bulk: BulkPayloadHandler) -> PayloadHandler:
    """Attach to `handler` its batch form, used by `EventDispatcher.batch` for consecutive
    events of its type: `bulk(items, uow)` must leave exactly the state that calling
    `handler` for each item, in order, would. A handler wrapping this one does not inherit
    it (the wrapper's extra effects would be skipped): it attaches its own, or has none."""
    handler.bulk = bulk  # type: ignore[attr-defined]
    return handler


class EventDispatcher:
    """Routes envelopes to payload handlers, each in one unit of work guarded by the inbox.

    Unknown event types are acknowledged and ignored: a producer may add types within a version.
    """

    def __init__(self, consumer: str, uow_factory: Callable[[], UnitOfWork],
                 handlers: Mapping[str, PayloadHandler]) -> None:
        self.consumer = consumer
        self.uow_factory = uow_factory
        self.handlers = dict(handlers)

    def handles(self, event_type: str | None) -> bool:
        """False for a type with no handler, which `subscribe` then skips unread (a record
        without the header is read, as before)."""
        return event_type is None or event_type in self.handlers

    async def __call__(self, envelope: Envelope) -> None:
        handler = self.handlers.get(envelope.event_type)
        if handler is None:
            return
        payload = payload_of(envelope)
        async with self.uow_factory() as uow:
            if not await uow.claim(self.consumer, envelope.event_id):
                log.info("duplicate event ignored", extra={"event_id": str(envelope.event_id)})
                return
            await handler(payload, envelope, uow)
            await uow.commit()

    async def batch(self, envelopes: Sequence[Envelope]) -> None:
        """Several envelopes in ONE unit of work: their ids claimed in one statement (a
        duplicate, already in the inbox or earlier in the batch, is skipped), the handlers run
        in order, one commit. Consecutive events of a type whose handler has a bulk form (see
        `with_bulk`) go to it in one call, so each aggregate's events keep their order.

        All or nothing: on failure nothing is applied, and the caller (`subscribe(batch=True)`)
        retries the batch or processes it again event by event."""
        await self.apply(self.prepare(envelopes))

    def prepare(self, envelopes: Sequence[Envelope]) -> list[tuple[BaseModel, Envelope]]:
        """The payloads of the envelopes this dispatcher handles, parsed (no I/O)."""
        return [(payload_of(e), e) for e in envelopes if e.event_type in self.handlers]

    async def apply(self, known: list[tuple[BaseModel, Envelope]]) -> None:
        """`batch` for envelopes already `prepare`d."""
        if not known:
            return
        async with self.uow_factory() as uow:
            fresh = await uow.claim_many(self.consumer, [e.event_id for _, e in known])
            todo = []
            for payload, envelope in known:
                if envelope.event_id in fresh:
                    fresh.discard(envelope.event_id)  # a second copy in the batch is a duplicate
                    todo.append((payload, envelope))
            if len(todo) < len(known):
                log.info("%d duplicate events ignored", len(known) - len(todo))
            for event_type, run in itertools.groupby(todo, key=lambda item: item[1].event_type):
                handler = self.handlers[event_type]
                items = list(run)
                bulk = getattr(handler, "bulk", None)
                if bulk is not None and len(items) > 1:
                    await bulk(items, uow)
                    continue
                for payload, envelope in items:
                    # What a handler publishes is caused by its event, as in the one-by-one path.
                    context.correlation_id.set(envelope.correlation_id)
                    context.causation_id.set(str(envelope.event_id))
                    await handler(payload, envelope, uow)
            await uow.commit()


async def publish_raw(broker: KafkaBroker, topic: str, key: bytes, value: bytes,
                      headers: dict[str, str]) -> Any:
    """Hand one record to the producer; returns its delivery future (await it for the ack).

    Straight to the aiokafka producer under the broker (FastStream is pinned): FastStream's
    publish path (a command object, middlewares, headers of its own) cost twice the send
    itself per event of the outbox relay (0.06 against 0.03 ms of CPU, bench/rush.py's profile
    and a loop of 20,000 sends). FastStream's own publish if that producer is not found."""
    producer = _aiokafka_producer(broker)
    if producer is None:
        return await broker.publish(value, topic, key=key, headers=headers, no_confirm=True)
    return await producer.send(topic, value, key=key,
                               headers=[(k, v.encode()) for k, v in headers.items()])


def _aiokafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    try:
        producer = broker.config.producer._producer.producer  # type: ignore[attr-defined]
    except (AttributeError, IncorrectState):
        return None  # not started, or another FastStream
    return producer if isinstance(producer, AIOKafkaProducer) else None
