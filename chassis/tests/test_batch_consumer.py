"""Batch consumption (`subscribe(batch=True)` + `EventDispatcher.batch`): the guarantees of the
one-by-one consumer, kept for a batch: duplicates applied once, a poison event parked alone,
nothing committed while a dependency is down, and bulk copies equal to one-by-one copies."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import MetaData, Table, select, update

from marelle_chassis import db
from marelle_chassis.identity_copy import (
    ANONYMOUS,
    add_child_copy_table,
    add_family_copy_table,
    child_copy_handlers,
)
from marelle_chassis.messaging import (
    EventDispatcher,
    RetryPolicy,
    consumer_health,
    create_broker,
    subscribe,
    with_bulk,
)
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope, dlq_topic, new_envelope
from marelle_contracts.identity import ChildFacts, ChildUpdated, FamilyCreated, Sex
from tests.integration.messaging_support import (
    eventually,
    family_event,
    new_topic,
    produce,
    read_topic,
)


# What a JSON or an SQL text could garble: quotes, a backslash, a line break, an emoji.
TRICKY = 'L\'Été « "Zoé" » \\ n°1\nβ 😀'


class Copy:
    """A consuming service's database: child and family copies, inbox, outbox."""

    def __init__(self, metadata: MetaData, children: Table, families: Table, engine: Any) -> None:
        self.metadata, self.children, self.families, self.engine = (
            metadata, children, families, engine)
        self.sessions = db.session_factory(engine)

    @classmethod
    async def create(cls, url: str) -> Copy:
        metadata = db.new_metadata()
        children, families = add_child_copy_table(metadata), add_family_copy_table(metadata)
        engine = db.create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return cls(metadata, children, families, engine)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.metadata, producer="test")

    def dispatcher(self, group: str, handlers: dict[str, Any] | None = None) -> EventDispatcher:
        return EventDispatcher(group, self.uow,
                               handlers or child_copy_handlers(self.children, self.families))

    async def rows(self, table: Table) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(table).order_by(*table.primary_key.columns))
                     ).mappings().all()
        return [{k: v for k, v in r.items() if k != "updated_at"} for r in found]

    async def revisions(self) -> dict[uuid.UUID, int]:
        return {r["child_id"]: r["revision"] for r in await self.rows(self.children)}


class Counting:
    """The copy's handlers, counting each event that reaches them (one by one or in bulk)."""

    def __init__(self, copy: Copy) -> None:
        self.applied: list[uuid.UUID] = []
        self.bulk_calls = 0
        inner = child_copy_handlers(copy.children, copy.families)
        created = inner["identity.family_created"]

        async def one(p: Any, e: Envelope, uow: UnitOfWork) -> None:
            self.applied.append(e.event_id)
            await created(p, e, uow)

        async def bulk(items: Any, uow: UnitOfWork) -> None:
            self.bulk_calls += 1
            self.applied += [e.event_id for _, e in items]
            await created.bulk(items, uow)

        self.handlers = {**inner, "identity.family_created": with_bulk(one, bulk)}


class BatchConsumer:
    """A broker with one batch subscriber; `fail` may make a batch fail before the dispatcher."""

    def __init__(self, bootstrap: str, topic: str, group: str, dispatcher: EventDispatcher,
                 retry: RetryPolicy = RetryPolicy(attempts=2, backoff=(0.05,), max_backoff=0.2),
                 transient_failures: int = 0) -> None:
        self.broker = create_broker(bootstrap, client_id=f"test-{group}")
        self.failures_left = transient_failures
        self.batches: list[list[uuid.UUID]] = []

        async def handle_batch(envelopes: Any) -> None:
            self.batches.append([e.event_id for e in envelopes])
            if self.failures_left:
                self.failures_left -= 1
                raise ConnectionError("database down (test)")
            await dispatcher.batch(envelopes)

        subscribe(self.broker, topic, group_id=group, handle=dispatcher, retry=retry,
                  batch=True, handle_batch=handle_batch)

    async def __aenter__(self) -> BatchConsumer:
        await self.broker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()


def env(payload: Any, version: int | None = 1, event_id: uuid.UUID | None = None) -> Envelope:
    envelope = new_envelope(payload, producer="identity", version=version)
    return envelope.model_copy(update={"event_id": event_id}) if event_id else envelope


def raw(envelope: Envelope) -> bytes:
    return envelope.model_dump_json().encode()


async def committed(bootstrap: str, topic: str, group: str) -> int:
    """Offsets committed by `group` on `topic`, summed over its partitions."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        total = 0
        for partition in consumer.partitions_for_topic(topic) or ():
            total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()


async def consume_all(bootstrap: str, topic: str, group: str, dispatcher: EventDispatcher,
                      records: list[tuple[bytes, list[tuple[str, bytes]]]]) -> None:
    """Produce `records` (value, headers) as they are, then consume them with a batch
    subscriber until every offset is committed."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value, headers in records:
            await producer.send_and_wait(topic, value, key=b"k", headers=headers)
    finally:
        await producer.stop()
    async with BatchConsumer(bootstrap, topic, group, dispatcher):
        await eventually(lambda: _when(committed(bootstrap, topic, group),
                                       lambda n: n == len(records)), timeout=30)


async def _when(awaitable: Any, accept: Any) -> Any:
    value = await awaitable
    return value if accept(value) else None


# ------------------------------------------------------------------------- on the real broker

@pytest.mark.kafka
async def test_duplicates_in_the_batch_and_already_claimed_are_applied_once(
        database_url, kafka_bootstrap):
    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    counting = Counting(copy)
    dispatcher = copy.dispatcher(group, counting.handlers)
    a, b, c = (env(family_event(f"Famille {n}")) for n in "ABC")
    await dispatcher(c)  # already applied (and claimed) before the batch
    assert counting.applied == [c.event_id]
    await produce(kafka_bootstrap, topic, raw(a), raw(c), raw(b), raw(a), raw(c))
    async with BatchConsumer(kafka_bootstrap, topic, group, dispatcher) as consumer:
        await eventually(lambda: _when(committed(kafka_bootstrap, topic, group),
                                       lambda n: n == 5), timeout=30)
    assert sorted(counting.applied) == sorted([c.event_id, a.event_id, b.event_id])
    assert set(map(len, consumer.batches)) and sum(map(len, consumer.batches)) == 5
    revisions = await copy.revisions()
    assert len(revisions) == 3 and set(revisions.values()) == {1}
    await copy.engine.dispose()


@pytest.mark.kafka
async def test_a_poison_event_in_the_middle_is_parked_alone_and_the_rest_applied(
        database_url, kafka_bootstrap):
    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    inner = child_copy_handlers(copy.children, copy.families)
    bug = family_event("Famille Bogue")

    async def created(p: Any, e: Envelope, uow: UnitOfWork) -> None:
        if p.family_id == bug.family_id:
            raise KeyError("a bug met by this household only")
        await inner["identity.family_created"](p, e, uow)

    async def created_in_bulk(items: Any, uow: UnitOfWork) -> None:
        for p, e in items:
            await created(p, e, uow)

    handlers = {**inner, "identity.family_created": with_bulk(created, created_in_bulk)}
    good = [env(family_event(f"Famille Bonne{i}")) for i in range(4)]
    bad_payload = new_envelope(ChildUpdated.model_construct(family_id=uuid.uuid4(), child=None),
                               producer="identity")
    values = [raw(good[0]), raw(env(bug)), raw(good[1]), b"{not an envelope", raw(good[2]),
              raw(bad_payload), raw(good[3])]
    await produce(kafka_bootstrap, topic, *values)
    async with BatchConsumer(kafka_bootstrap, topic, group, copy.dispatcher(group, handlers)):
        parked = await read_topic(kafka_bootstrap, dlq_topic(topic), 3)
        await eventually(lambda: _when(committed(kafka_bootstrap, topic, group),
                                       lambda n: n == len(values)), timeout=30)
    assert [r.value for r in parked] == [values[3], values[1], values[5]]  # parse errors first
    headers = [dict(r.headers) for r in parked]
    assert [h["x-original-offset"] for h in headers] == [b"3", b"1", b"5"]
    assert b"KeyError" in headers[1]["x-error"] and headers[1]["x-attempts"] == b"2"
    assert b"ValidationError" in headers[2]["x-error"]
    assert await committed(kafka_bootstrap, topic, group) == len(values)
    revisions = await copy.revisions()
    assert {str(k) for k in revisions} == {g.payload["children"][0]["child_id"] for g in good}
    assert set(revisions.values()) == {1}
    await copy.engine.dispose()


@pytest.mark.kafka
async def test_records_of_types_the_service_does_not_handle_are_skipped_unread(
        database_url, kafka_bootstrap):
    """By their `event_type` header (as the relay writes it): never parsed, so never parked
    even when unreadable, and committed; handled types are read and applied as always, and a
    record without the header is read (and parked if unreadable)."""
    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    counting = Counting(copy)
    dispatcher = copy.dispatcher(group, counting.handlers)
    family = env(family_event("Famille Lue"))
    records = [
        (b"{unread", [("event_type", b"enrolment.registration_requested")]),
        (raw(family), [("event_type", b"identity.family_created")]),
        (b"{no header, read", []),
    ]
    await consume_all(kafka_bootstrap, topic, group, dispatcher, records)
    parked = await read_topic(kafka_bootstrap, dlq_topic(topic), 2, timeout=3)
    assert [r.value for r in parked] == [b"{no header, read"]
    assert counting.applied == [family.event_id]
    await copy.engine.dispose()


@pytest.mark.kafka
async def test_a_record_with_its_type_header_is_read_in_one_pass_and_judged_by_its_own_type(
        database_url, kafka_bootstrap, monkeypatch):
    """With the `event_type` header the relay writes, the envelope and its payload are validated
    in one pass from the JSON (the payload is never parsed again from a dict). A header that
    names another type than the envelope's own changes nothing: the event is applied as what
    it says inside; an invalid payload is parked alone, as without the header."""
    import json

    from marelle_contracts import registry

    parsed: list[Any] = []
    parse_payload = registry.parse_payload

    def counting(event_type: str, payload: Any) -> Any:
        parsed.append(payload.get("family_id"))
        return parse_payload(event_type, payload)

    monkeypatch.setattr(registry, "parse_payload", counting)

    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    counting_handlers = Counting(copy)
    dispatcher = copy.dispatcher(group, counting_handlers.handlers)
    plain, mislabelled, invalid = (env(family_event(n)) for n in (
        "Famille Entête", "Famille Étiquette", "Famille Invalide"))
    broken = json.loads(raw(invalid))
    broken["payload"]["children"][0]["birth_date"] = "pas une date"
    created = [("event_type", b"identity.family_created")]
    records = [(raw(plain), created),
               (raw(mislabelled), [("event_type", b"identity.child_updated")]),
               (json.dumps(broken).encode(), created)]
    await consume_all(kafka_bootstrap, topic, group, dispatcher, records)
    parked = await read_topic(kafka_bootstrap, dlq_topic(topic), 1, timeout=10)
    assert [r.value for r in parked] == [records[2][0]]
    assert b"ValidationError" in dict(parked[0].headers)["x-error"]
    assert sorted(counting_handlers.applied) == sorted([plain.event_id, mislabelled.event_id])
    families = {r["family_id"]: r["name"] for r in await copy.rows(copy.families)}
    assert families == {uuid.UUID(e.payload["family_id"]): e.payload["name"]
                        for e in (plain, mislabelled)}
    # Only the mislabelled and the invalid records were parsed from a dict.
    assert str(plain.payload["family_id"]) not in {str(f) for f in parsed}
    assert {str(mislabelled.payload["family_id"]), str(invalid.payload["family_id"])} <= {
        str(f) for f in parsed}
    await copy.engine.dispose()


class Pipelined:
    """A broker whose subscriber applies batches with the EventDispatcher itself, in chunks of
    two (what the services run); `failing` maps a family to what its event raises, and how
    many times, before it is applied. Each application writes a row in the handler's unit of
    work: rolled back with it, so the rows are the applications that counted."""

    def __init__(self, bootstrap: str, topic: str, group: str, copy: Copy,
                 failing: dict[uuid.UUID, tuple[type[Exception], int]]) -> None:
        from sqlalchemy import Column, Uuid, insert

        self.broker = create_broker(bootstrap, client_id=f"test-{group}")
        self.copy = copy
        self.failing = dict(failing)
        self.applications = Table("applications", MetaData(), Column("event_id", Uuid))
        created = child_copy_handlers(copy.children, copy.families)["identity.family_created"]

        async def one(p: Any, e: Envelope, uow: UnitOfWork) -> None:
            error, times = self.failing.get(p.family_id, (None, 0))
            if error is not None and times:
                self.failing[p.family_id] = (error, times - 1)
                raise error("this household's event fails (test)")
            await created(p, e, uow)
            await uow.session.execute(insert(self.applications).values(event_id=e.event_id))

        async def bulk(items: Any, uow: UnitOfWork) -> None:
            for p, e in items:
                await one(p, e, uow)

        dispatcher = EventDispatcher(group, copy.uow, {
            **child_copy_handlers(copy.children, copy.families),
            "identity.family_created": with_bulk(one, bulk)})
        subscribe(self.broker, topic, group_id=group, handle=dispatcher, batch=True, chunk=2,
                  retry=RetryPolicy(attempts=2, backoff=(0.05,), max_backoff=0.2))

    async def applied(self) -> list[uuid.UUID]:
        async with self.copy.engine.connect() as conn:
            return list((await conn.execute(select(self.applications.c.event_id))).scalars())

    async def __aenter__(self) -> Pipelined:
        async with self.copy.engine.begin() as conn:
            await conn.run_sync(self.applications.metadata.create_all)
        await self.broker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()


@pytest.mark.kafka
@pytest.mark.parametrize("failure", ["poison", "transient"])
async def test_a_batch_applied_in_chunks_applies_each_event_once_whatever_fails(
        database_url, kafka_bootstrap, failure):
    """Chunks of two, the fourth event failing: a poison one is parked alone after two
    attempts, a transient one holds the batch until it passes; either way every other event
    is applied exactly once (the chunks committed before the failure are not applied again)
    and every offset is committed."""
    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    families = [family_event(f"Famille Étape{i}") for i in range(9)]
    events = [env(f) for f in families]
    error = (KeyError, 10) if failure == "poison" else (ConnectionError, 2)
    values = [raw(e) for e in events[:6]] + [b"{not an envelope"] + [raw(e) for e in events[6:]]
    await produce(kafka_bootstrap, topic, *values)
    async with Pipelined(kafka_bootstrap, topic, group, copy,
                         {families[3].family_id: error}) as consumer:
        await eventually(lambda: _when(committed(kafka_bootstrap, topic, group),
                                       lambda n: n == len(values)), timeout=30)
    parked = await read_topic(kafka_bootstrap, dlq_topic(topic), 3, timeout=3)
    expected = [e.event_id for e in events]
    if failure == "poison":
        expected.remove(events[3].event_id)
        assert [r.value for r in parked] == [b"{not an envelope", raw(events[3])]
    else:
        assert [r.value for r in parked] == [b"{not an envelope"]
    assert sorted(await consumer.applied()) == sorted(expected), "each event applied once"
    assert len(await copy.revisions()) == len(expected)
    await copy.engine.dispose()


@pytest.mark.kafka
async def test_a_transient_failure_commits_nothing_and_the_batch_is_applied_once_back(
        database_url, kafka_bootstrap):
    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    events = [env(family_event(f"Famille Panne{i}")) for i in range(6)]
    await produce(kafka_bootstrap, topic, *map(raw, events))
    consumer = BatchConsumer(kafka_bootstrap, topic, group, copy.dispatcher(group),
                             transient_failures=6)
    health = consumer_health(consumer.broker)
    async with consumer:
        await eventually(lambda: _when(asyncio.sleep(0, len(consumer.batches)),
                                       lambda n: n >= 3), timeout=30)
        assert health.stalled  # readiness says why
        assert await committed(kafka_bootstrap, topic, group) == 0
        assert await copy.revisions() == {}
        revisions = await eventually(lambda: _when(copy.revisions(), lambda r: len(r) == 6))
        await eventually(lambda: _when(committed(kafka_bootstrap, topic, group),
                                       lambda n: n == 6), timeout=30)
    assert set(revisions.values()) == {1}
    assert health.stalled == {}
    assert await read_topic(kafka_bootstrap, dlq_topic(topic), 1, timeout=3) == []
    await copy.engine.dispose()


@pytest.mark.kafka
async def test_stopping_while_holding_commits_nothing_and_a_restart_applies_all(
        database_url, kafka_bootstrap):
    copy = await Copy.create(database_url)
    topic, group = await new_topic(kafka_bootstrap), f"g-{uuid.uuid4().hex}"
    events = [env(family_event(f"Famille Arrêt{i}")) for i in range(5)]
    await produce(kafka_bootstrap, topic, *map(raw, events))
    holding = BatchConsumer(kafka_bootstrap, topic, group, copy.dispatcher(group),
                            transient_failures=10_000)
    async with holding:
        await eventually(lambda: _when(asyncio.sleep(0, len(holding.batches)), bool))
        consumer_health(holding.broker).stopping.set()
    assert await committed(kafka_bootstrap, topic, group) == 0
    async with BatchConsumer(kafka_bootstrap, topic, group, copy.dispatcher(group)):
        revisions = await eventually(lambda: _when(copy.revisions(), lambda r: len(r) == 5))
        await eventually(lambda: _when(committed(kafka_bootstrap, topic, group),
                                       lambda n: n == 5), timeout=30)
    assert set(revisions.values()) == {1}
    await copy.engine.dispose()


# ------------------------------------------------------------------------- the copies themselves

async def test_an_older_version_after_a_newer_one_in_a_batch_keeps_the_newer(database_url):
    copy = await Copy.create(database_url)
    dispatcher = copy.dispatcher("batch-test")
    family_id, child_id = uuid.uuid4(), uuid.uuid4()

    def created(name: str, email: str) -> FamilyCreated:
        return FamilyCreated(family_id=family_id, name="Famille Martin", email=email,
                             children=[ChildFacts(child_id=child_id, first_name=name,
                                                  last_name="Martin",
                                                  birth_date=date(2017, 5, 14))])

    newer = env(created("Léa-Rose", "b@example.org"), version=3)
    older = env(created("Léa", "a@example.org"), version=2)
    same = env(created("Autre", "c@example.org"), version=3)
    await dispatcher.batch([newer, older, same])
    [child] = await copy.rows(copy.children)
    [family] = await copy.rows(copy.families)
    assert (child["first_name"], child["version"], child["revision"]) == ("Léa-Rose", 3, 1)
    assert (family["email"], family["email_version"], family["revision"]) == (
        "b@example.org", 3, 1)
    await copy.engine.dispose()


async def test_bulk_copies_equal_one_by_one_copies(database_url, tmp_path, request):
    """Random streams of `family_created` (repeated households and children, versions up and
    down, anonymised households, rows already there) give the same rows applied as one batch
    and one by one; names with quotes, backslashes, line breaks and emoji come back as sent
    (on PostgreSQL a batch's rows travel as one JSON parameter)."""
    if database_url.startswith("sqlite"):
        other_url = f"sqlite+aiosqlite:///{tmp_path / 'one-by-one.sqlite3'}"
    else:
        from tests.support.infra import create_pg_database
        other_url = await create_pg_database(request.getfixturevalue("pg_base_url"))
    batched, single = await Copy.create(database_url), await Copy.create(other_url)
    rng = random.Random(20261130)
    started = datetime.now(UTC)
    families = [uuid.uuid4() for _ in range(6)]
    children = {f: [uuid.uuid4() for _ in range(2)] for f in families}
    stream = []
    for i in range(120):
        f = rng.choice(families)
        kids = rng.sample(children[f], rng.randint(0, 2))
        payload = FamilyCreated(
            family_id=f, name=rng.choice(["Famille Un", "Famille Deux", ANONYMOUS, TRICKY]),
            email=rng.choice([None, "x@example.org", f"f{i}@example.org"]),
            children=[ChildFacts(child_id=k, first_name=rng.choice([f"Prénom{i}", TRICKY]),
                                 last_name="Nom", birth_date=date(2016, 1, 1) + timedelta(i),
                                 sex=rng.choice([None, Sex.FEMALE, Sex.MALE])) for k in kids])
        stream.append(env(payload, version=rng.randint(0, 5) or None))
    # A child named twice in one event: applied once, as listed first.
    twice = FamilyCreated(family_id=families[1], name="Famille Deux", children=[
        ChildFacts(child_id=children[families[1]][0], first_name=first, last_name="Nom",
                   birth_date=date(2017, 2, 2)) for first in ("Premier", "Second")])
    stream.insert(60, env(twice, version=9))
    # Some rows already there, as older events left them.
    seeds = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in stream[:10]]
    for target in (batched, single):
        for envelope in seeds:
            await target.dispatcher("seed")(envelope)
        async with target.engine.begin() as conn:
            await conn.execute(update(target.families)
                               .where(target.families.c.family_id == families[0])
                               .values(name=ANONYMOUS))
    for start in range(10, len(stream), 37):
        await batched.dispatcher("test").batch(stream[start:start + 37])
    for envelope in stream[10:]:
        await single.dispatcher("test")(envelope)
    assert await batched.rows(batched.children) == await single.rows(single.children)
    assert await batched.rows(batched.families) == await single.rows(single.families)
    assert TRICKY in {r["first_name"] for r in await batched.rows(batched.children)}
    assert {r["first_name"] for r in await batched.rows(batched.children)
            if r["child_id"] == children[families[1]][0]} == {"Premier"}
    async with batched.engine.connect() as conn:
        stamps = (await conn.execute(select(batched.children.c.updated_at))).scalars().all()
    assert stamps and all(s.utcoffset() is not None and s > started - timedelta(minutes=5)
                          for s in stamps)
    await batched.engine.dispose()
    await single.engine.dispose()
