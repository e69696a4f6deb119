"""A dependency outage in the middle of a flow: PostgreSQL stops for 10 s under a consumer.

The consumer holds the message it could not apply, retries with backoff (readiness says why),
and once the database is back applies everything exactly once, in order; nothing reaches the DLQ.
The database here is a PostgreSQL cluster of its own, really stopped and started again.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid

import pytest

from marelle_chassis.messaging import RetryPolicy, consumer_health
from marelle_contracts import dlq_topic
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
from tests.support.infra import ROOT, create_pg_database, free_port, unavailable

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def pg(*args: str) -> str:
    result = subprocess.run(["bash", "infra/postgres/pg.sh", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout


@pytest.fixture
def own_postgres(tmp_path_factory):
    port = free_port()
    directory = f"/tmp/marelle-outage-pg-{port}"
    try:
        line = pg("start", "--port", str(port), "--dir", directory, "--databases", "")
    except Exception as exc:
        unavailable("PostgreSQL", str(exc))
    url = line.strip().split("=", 1)[1]
    yield url, directory, port
    pg("stop", "--dir", directory, "--purge")


async def test_postgres_down_for_10_seconds_mid_flow_loses_nothing_and_parks_nothing(
        own_postgres, kafka_bootstrap):
    base, directory, port = own_postgres
    database = await Database.create(await create_pg_database(base, "outage"))
    topic = await new_topic(kafka_bootstrap)
    events = [family_event(f"Famille Panne{i}") for i in range(30)]
    consumer = Consumer(kafka_bootstrap, topic, f"g-{uuid.uuid4().hex}", database,
                        retry=RetryPolicy(attempts=3, backoff=(0.1,), max_backoff=1.0))
    health = consumer_health(consumer.broker)
    async with consumer:
        await produce(kafka_bootstrap, topic, *map(envelope_bytes, events[:10]))
        await eventually(lambda: _count_at_least(database, 10))
        await asyncio.to_thread(pg, "stop", "--dir", directory)
        await produce(kafka_bootstrap, topic, *map(envelope_bytes, events[10:]))
        # The consumer now fails on every attempt: it must hold, and readiness must say so.
        stalled = await eventually(lambda: _stalled(health), timeout=20)
        assert stalled, "readiness never reported the stalled consumer"
        await asyncio.sleep(10)
        assert health.stalled  # still waiting, not skipped ahead
        await asyncio.to_thread(pg, "start", "--port", str(port), "--dir", directory,
                                "--databases", "")
        revisions = await eventually(lambda: _count_at_least(database, 30), timeout=60)
        await eventually(lambda: _recovered(health), timeout=10)
    assert revisions and len(revisions) == 30
    assert set(revisions.values()) == {1}, "an event was applied more than once"
    assert health.stalled == {}
    assert await read_topic(kafka_bootstrap, dlq_topic(topic), 1, timeout=3) == []
    # 30 distinct events reached the handler; the extra invocations are the retries.
    assert len(set(consumer.invocations)) == 30 and len(consumer.invocations) > 30
    await database.engine.dispose()


async def _count_at_least(database: Database, n: int):
    try:
        revisions = await database.revisions()
    except Exception:
        return None
    return revisions if len(revisions) >= n else None


async def _stalled(health) -> bool:
    try:
        health.check()
    except ConnectionError as exc:
        return "en attente" in str(exc)
    return False


async def _recovered(health) -> bool:
    return not health.stalled
