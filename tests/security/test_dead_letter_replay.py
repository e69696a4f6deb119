"""Replaying a dead letter under production's Kafka ACLs, with the least privilege: a service
may write only its own topic, so a staff replay goes to the parking consumer's own retry topic
`<topic>.retry.<principal>` (marelle_chassis.dead_letters), which only that principal may write
and read (infra/kafka/acls.sh), never back to the producer's topic; the producer is still checked
against the ORIGINAL topic (a forged event on a retry topic is parked).

The grants are read from acls.sh run with stand-in Kafka tools (fast, no broker); the replay runs
on a second local broker started with authentication on (infra/kafka/kafka.sh start --auth),
configured by the same acls.sh as docker-compose.yml."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from marelle_chassis.dead_letters import (
    REPLAY_HEADER,
    origin_topic,
    read_all,
    replay,
    retry_topic,
    to_dead_letter,
)
from marelle_chassis.messaging import ForeignEvent, check_origin, ensure_topics
from marelle_contracts import Envelope, Topics, dlq_topic, new_envelope
from tests.integration.messaging_support import family_event
from tests.integration.test_kafka_acl import AuthBroker, _password
from tests.support.infra import ROOT, free_port, unavailable

USERS = ("identity", "enrolment", "booking", "billing", "caf", "schools", "gateway", "backoffice")
BILLING_GROUP = "billing.identity-events"


# --- naming and the producer check ---------------------------------------------------------------

def test_the_retry_topic_belongs_to_the_parking_consumer_s_principal():
    assert retry_topic(Topics.IDENTITY, BILLING_GROUP) == "marelle.identity.v1.retry.billing"
    assert retry_topic(Topics.IDENTITY, "booking.identity-events") == \
        "marelle.identity.v1.retry.booking"
    # A message replayed then parked again names its retry topic: same retry topic.
    again = retry_topic(origin_topic(retry_topic(Topics.IDENTITY, BILLING_GROUP)), BILLING_GROUP)
    assert again == "marelle.identity.v1.retry.billing"
    assert origin_topic("marelle.identity.v1.retry.billing") == Topics.IDENTITY
    assert origin_topic(Topics.IDENTITY) == Topics.IDENTITY


def test_a_forged_event_on_a_retry_topic_is_still_foreign():
    """The consumer checks a replayed event against the topic it was replayed from: only that
    topic's owner may have produced it."""
    retry = retry_topic(Topics.IDENTITY, BILLING_GROUP)
    check_origin(new_envelope(family_event(), producer="identity"), origin_topic(retry))
    with pytest.raises(ForeignEvent):
        check_origin(new_envelope(family_event(), producer="billing"), origin_topic(retry))


# --- the grants of acls.sh (stand-in tools) ------------------------------------------------------

def _grants(tmp_path: Path) -> tuple[list[str], dict[str, dict[str, set[str]]]]:
    """Run acls.sh --topics with stand-in kafka-*.sh tools that log their arguments: (topics
    created, {user: {operation: literal topics}})."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("acls", "configs", "topics"):
        tool = bin_dir / f"kafka-{name}.sh"
        tool.write_text(f'#!/usr/bin/env bash\nprintf "{name}\\t%s\\n" "$*" >> "{log}"\n')
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    admin = tmp_path / "admin.properties"
    admin.write_text("security.protocol=SASL_PLAINTEXT\n")
    env = {**os.environ, "KAFKA_BIN": str(bin_dir), "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
           "KAFKA_ADMIN_CONFIG": str(admin),
           **{f"MARELLE_KAFKA_{u.upper()}_PASSWORD": "un-mot-de-passe-" + u for u in USERS}}
    done = subprocess.run(["bash", "infra/kafka/acls.sh", "--topics"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    created: list[str] = []
    grants: dict[str, dict[str, set[str]]] = {}
    for line in log.read_text().splitlines():
        name, args = line.split("\t", 1)
        if name == "topics":
            created += re.findall(r"--topic (\S+)", args)
        elif name == "acls" and "--resource-pattern-type prefixed" not in args:
            user = re.search(r"--allow-principal User:(\S+)", args)[1]
            for operation in re.findall(r"--operation (\S+)", args):
                grants.setdefault(user, {}).setdefault(operation, set()).update(
                    re.findall(r"--topic (\S+)", args))
    return created, grants


def test_each_consumer_writes_and_reads_only_its_own_retry_topics(tmp_path: Path):
    created, grants = _grants(tmp_path)
    retries = {t for t in created if ".retry." in t}
    # One per (principal, topic it consumes), created with the event topics and their DLQs.
    assert {retry_topic(Topics.IDENTITY, "billing.x"), retry_topic(Topics.BOOKING, "billing.x"),
            retry_topic(Topics.IDENTITY, "booking.x"), retry_topic(Topics.ENROLMENT, "identity.x"),
            retry_topic(Topics.SCHOOLS, "enrolment.x"),
            retry_topic(Topics.BILLING, "enrolment.billing-events")} <= retries
    assert not any(t.endswith((".retry.gateway", ".retry.backoffice")) for t in retries)
    for user, operations in grants.items():
        writes, reads = operations.get("Write", set()), operations.get("Read", set())
        own = {t for t in retries if t.endswith(f".retry.{user}")}
        assert {t for t in writes if ".retry." in t} == own, user
        assert {t for t in reads if ".retry." in t} == own, user
        # Replaying never needs another service's topic: each writes one event topic, its own.
        event_topics = {t for t in writes if ".retry." not in t and not t.endswith(".dlq")}
        assert len(event_topics) <= 1, (user, event_topics)
        assert all(origin_topic(t) in reads for t in own), user
    assert grants["billing"]["Write"] >= {"marelle.billing.v1",
                                          "marelle.identity.v1.retry.billing"}
    assert "marelle.identity.v1" not in grants["billing"]["Write"]
    # Enrolment reads billing's residency (the residents' opening), never writes billing's topic.
    assert grants["enrolment"]["Read"] >= {"marelle.billing.v1",
                                           "marelle.billing.v1.retry.enrolment"}
    assert "marelle.billing.v1" not in grants["enrolment"]["Write"]


# --- the replay on an authenticated broker --------------------------------------------------------

@pytest.fixture(scope="module")
def auth_broker() -> Iterator[AuthBroker]:
    data_dir = Path(tempfile.mkdtemp(prefix="marelle-kafka-replay-"))
    passwords = {user: _password() for user in ("admin", "identity", "billing", "booking")}
    env = {**os.environ, "MARELLE_KAFKA_ADMIN_PASSWORD": passwords["admin"]}
    cmd = ["bash", "infra/kafka/kafka.sh", "start", "--auth", "--port", str(free_port()),
           "--controller-port", str(free_port()), "--data-dir", str(data_dir)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
        line = [x for x in result.stdout.splitlines() if x.startswith("KAFKA_BOOTSTRAP_SERVERS=")]
        if result.returncode != 0 or not line:
            raise RuntimeError(f"kafka.sh start --auth failed ({result.returncode}):\n"
                               f"{result.stderr[-3000:]}")
    except Exception as exc:
        shutil.rmtree(data_dir, ignore_errors=True)
        unavailable("Kafka (--auth)", str(exc))
    broker = AuthBroker(line[0].split("=", 1)[1].strip(), data_dir, passwords)
    try:
        asyncio.run(ensure_topics(broker.servers, Topics.all(), security_env=broker.env("admin")))
        acl_env = {**env, "KAFKA_BOOTSTRAP_SERVERS": broker.servers,
                   "KAFKA_ADMIN_CONFIG": str(data_dir / "admin.properties"),
                   **{f"MARELLE_KAFKA_{u.upper()}_PASSWORD": passwords[u]
                      for u in ("identity", "billing", "booking")}}
        # --topics: the retry topics are the deployment's, like the event topics.
        done = subprocess.run(["bash", "infra/kafka/acls.sh", "--topics", "--users",
                               "identity billing booking"],
                              capture_output=True, text=True, timeout=600, cwd=ROOT, env=acl_env)
        assert done.returncode == 0, done.stderr[-3000:]
        yield broker
    finally:
        subprocess.run(["bash", "infra/kafka/kafka.sh", "stop", "--data-dir", str(data_dir)],
                       cwd=ROOT, capture_output=True, timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _park(broker: AuthBroker, user: str, value: bytes, group: str) -> tuple[int, int]:
    """What `messaging._park` writes, with `user`'s credentials: (partition, offset)."""
    producer = AIOKafkaProducer(**broker.client(user), acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(dlq_topic(Topics.IDENTITY), value, key=b"k", headers=[
            ("x-original-topic", Topics.IDENTITY.encode()), ("x-original-partition", b"0"),
            ("x-original-offset", b"0"), ("x-error", b"KeyError: 'x'"), ("x-attempts", b"3"),
            ("x-consumer-group", group.encode())])
    finally:
        await producer.stop()
    return sent.partition, sent.offset


async def _read(broker: AuthBroker, user: str, topic: str) -> list[tuple[bytes, dict]]:
    """Every record of `topic` (value, headers), read with `user`'s credentials."""
    consumer = AIOKafkaConsumer(**broker.client(user), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records = await consumer.getmany(timeout_ms=5_000)
        return [(r.value, dict(r.headers)) for batch in records.values() for r in batch]
    finally:
        await consumer.stop()


@pytest.mark.timeout(900)
async def test_a_service_replays_its_dead_letter_under_acls(auth_broker: AuthBroker,
                                                            monkeypatch: pytest.MonkeyPatch):
    value = new_envelope(family_event(), producer="identity").model_dump_json().encode()
    mine = await _park(auth_broker, "billing", value, BILLING_GROUP)
    theirs = await _park(auth_broker, "booking", value, f"booking.identity-events-{uuid.uuid4()}")
    # The dead-letter tooling runs with billing's credentials (its process environment).
    for name, setting in auth_broker.env("billing").items():
        monkeypatch.setenv(name, setting)

    parked = await replay(auth_broker.servers, dlq_topic(Topics.IDENTITY), *mine)
    assert parked.consumer_group == BILLING_GROUP
    [(sent, headers)] = await _read(auth_broker, "billing",
                                    retry_topic(Topics.IDENTITY, BILLING_GROUP))
    assert sent == value
    assert headers[REPLAY_HEADER] == f"{dlq_topic(Topics.IDENTITY)}/{mine[0]}/{mine[1]}".encode()
    assert not [k for k in headers if k.startswith("x-") and k != REPLAY_HEADER]
    # What replaying to the original topic needed is not granted (and never will be).
    producer = AIOKafkaProducer(**auth_broker.client("billing"), acks="all")
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(Topics.IDENTITY, value, key=b"k")
    finally:
        await producer.stop()
    # Another service's dead letter (same shared DLQ): billing cannot replay it for booking.
    with pytest.raises(TopicAuthorizationFailedError):
        await replay(auth_broker.servers, dlq_topic(Topics.IDENTITY), *theirs)
    # Listing reads the DLQ with billing's rights.
    letters = [to_dead_letter(r) for r in await read_all(auth_broker.servers,
                                                         dlq_topic(Topics.IDENTITY))]
    assert {d.consumer_group for d in letters} >= {BILLING_GROUP}
    # The replayed envelope is intact, producer included (checked against the original topic).
    envelope = Envelope.model_validate_json(value)
    check_origin(envelope, origin_topic(retry_topic(Topics.IDENTITY, BILLING_GROUP)))
