"""Production's Kafka authorization, on a second local broker started with authentication on
(infra/kafka/kafka.sh start --auth) and configured by the same script as docker-compose.yml
(infra/kafka/acls.sh): a service's credentials cannot write another service's topic."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from marelle_chassis.kafka_security import kafka_client_options
from marelle_chassis.messaging import create_broker, ensure_topics, subscribe
from marelle_contracts import Envelope, Topics, new_envelope
from tests.integration.messaging_support import family_event
from tests.support.infra import ROOT, free_port, unavailable

pytestmark = pytest.mark.asyncio


def _password() -> str:
    return secrets.token_urlsafe(18)


class AuthBroker:
    def __init__(self, servers: str, data_dir: Path, passwords: dict[str, str]) -> None:
        self.servers = servers
        self.data_dir = data_dir
        self.passwords = passwords

    def env(self, user: str) -> dict[str, str]:
        """The settings a service gets in docker-compose.yml."""
        return {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "PLAIN" if user == "admin" else "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME": user, "KAFKA_SASL_PASSWORD": self.passwords[user]}

    def client(self, user: str) -> dict[str, Any]:
        return {"bootstrap_servers": self.servers, **kafka_client_options(self.env(user))}


@pytest.fixture(scope="module")
def auth_broker() -> Iterator[AuthBroker]:
    data_dir = Path(tempfile.mkdtemp(prefix="marelle-kafka-auth-"))
    passwords = {user: _password() for user in ("admin", "billing", "identity", "gateway")}
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
        # The event topics, their DLQs and billing's retry topics (what `acls.sh --topics` makes
        # in production: a consumer also reads its own `<topic>.retry.<principal>`).
        asyncio.run(ensure_topics(
            broker.servers,
            [*Topics.all(), *(f"{t}.retry.billing" for t in Topics.all_event_topics())],
            security_env=broker.env("admin")))
        acl_env = {**env, "KAFKA_BOOTSTRAP_SERVERS": broker.servers,
                   "KAFKA_ADMIN_CONFIG": str(data_dir / "admin.properties"),
                   "MARELLE_KAFKA_BILLING_PASSWORD": passwords["billing"],
                   "MARELLE_KAFKA_IDENTITY_PASSWORD": passwords["identity"],
                   "MARELLE_KAFKA_GATEWAY_PASSWORD": passwords["gateway"]}
        done = subprocess.run(["bash", "infra/kafka/acls.sh", "--users",
                               "billing identity gateway"],
                              capture_output=True, text=True, timeout=600, cwd=ROOT, env=acl_env)
        assert done.returncode == 0, done.stderr[-3000:]
        yield broker
    finally:
        subprocess.run(["bash", "infra/kafka/kafka.sh", "stop", "--data-dir", str(data_dir)],
                       cwd=ROOT, capture_output=True, timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)


def _identity_event() -> bytes:
    return new_envelope(family_event(), producer="identity").model_dump_json().encode()


async def test_a_service_writes_its_own_topic_only(auth_broker: AuthBroker) -> None:
    producer = AIOKafkaProducer(**auth_broker.client("billing"), acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(Topics.BILLING, b"{}", key=b"k")
        # A consumer of identity events parks what it cannot process in identity's DLQ.
        await producer.send_and_wait(f"{Topics.IDENTITY}.dlq", b"{}", key=b"k")
        # Forging identity's events (or anyone else's) is refused by the broker.
        for foreign in (Topics.IDENTITY, Topics.ENROLMENT, Topics.QUOTIENT):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(foreign, _identity_event(), key=b"k")
    finally:
        await producer.stop()


async def test_a_service_reads_what_it_consumes_with_its_groups(auth_broker: AuthBroker) -> None:
    # identity publishes with its own credentials...
    producer = AIOKafkaProducer(**auth_broker.client("identity"), acks="all")
    await producer.start()
    try:
        sent = _identity_event()
        sent_id = Envelope.model_validate_json(sent).event_id
        await producer.send_and_wait(Topics.IDENTITY, sent, key=b"k")
    finally:
        await producer.stop()

    # ...and billing's real consumers (the chassis broker, billing's credentials from the
    # environment settings) read every topic billing consumes.
    received: list[Envelope] = []
    broker = create_broker(auth_broker.servers, client_id="billing",
                           security_env=auth_broker.env("billing"))

    async def handle(envelope: Envelope) -> None:
        received.append(envelope)

    suffix = uuid.uuid4().hex[:6]
    for topic in (Topics.IDENTITY, Topics.ENROLMENT, Topics.BOOKING, Topics.QUOTIENT):
        subscribe(broker, topic, group_id=f"billing.{topic}-{suffix}", handle=handle)
    await broker.start()
    try:
        async with asyncio.timeout(60):
            while sent_id not in {e.event_id for e in received}:
                await asyncio.sleep(0.2)
    finally:
        await broker.stop()

    # Another service's consumer group, or a topic billing does not consume: refused.
    refused: list[tuple[str, str, type[Exception]]] = [
        (Topics.IDENTITY, f"identity.{suffix}", GroupAuthorizationFailedError),
        (Topics.SCHOOLS, f"billing.schools-{suffix}", TopicAuthorizationFailedError),
    ]
    for topic, group, error in refused:
        consumer = AIOKafkaConsumer(topic, **auth_broker.client("billing"), group_id=group,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        with pytest.raises(error):
            try:
                await consumer.start()
                async with asyncio.timeout(30):
                    while True:
                        await consumer.getmany(timeout_ms=500)
            finally:
                await consumer.stop()


async def test_wrong_password_is_refused(auth_broker: AuthBroker) -> None:
    options = auth_broker.client("billing")
    options["sasl_plain_password"] = "not-the-password"
    producer = AIOKafkaProducer(**options, request_timeout_ms=5000)
    with pytest.raises(Exception):  # noqa: B017 (aiokafka reports it as a connection failure)
        async with asyncio.timeout(30):
            await producer.start()
    await producer.stop()


async def test_the_portal_reads_ended_sessions_and_writes_nothing(auth_broker: AuthBroker) -> None:
    """The gateway (and the back-office) read identity's topic without a group (every process
    sees every ended session) and may write no topic at all."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    identity = AIOKafkaProducer(**auth_broker.client("identity"), acks="all")
    await identity.start()
    try:
        await identity.send_and_wait(Topics.IDENTITY, _identity_event(), key=b"k")
    finally:
        await identity.stop()
    producer = AIOKafkaProducer(**auth_broker.client("gateway"), acks="all")
    await producer.start()
    try:
        for topic in (Topics.IDENTITY, f"{Topics.IDENTITY}.dlq", Topics.BILLING):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(topic, _identity_event(), key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**auth_broker.client("gateway"), group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(Topics.IDENTITY, p)
                      for p in consumer.partitions_for_topic(Topics.IDENTITY) or {0, 1, 2}]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records = await consumer.getmany(timeout_ms=10_000)
        assert sum(len(batch) for batch in records.values()) >= 1  # identity's event, read
    finally:
        await consumer.stop()
