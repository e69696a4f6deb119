"""Session fixtures for the real infrastructure: a Kafka broker and a PostgreSQL cluster.

Each is taken, in order, from the environment (`KAFKA_BOOTSTRAP_SERVERS`, `MARELLE_PG_URL`),
from testcontainers when a Docker engine answers, or started locally with the project's own
scripts (`infra/kafka/kafka.sh`, `infra/postgres/pg.sh`). With `CI` set, a missing service fails
the run instead of skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.scripts import script_line

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(what: str, why: str) -> None:
    message = f"{what} unavailable: {why}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def docker_engine() -> bool:
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield servers
        return
    if docker_engine():
        from testcontainers.community.kafka import KafkaContainer  # type: ignore[import-not-found]

        with KafkaContainer().with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    port = free_port()
    data_dir = ROOT / "var" / f"test-kafka-{port}"
    try:
        servers = script_line(
            ["bash", "infra/kafka/kafka.sh", "start", "--port", str(port),
             "--controller-port", str(free_port()), "--data-dir", str(data_dir)],
            "KAFKA_BOOTSTRAP_SERVERS=", timeout=600)
    except Exception as exc:
        unavailable("Kafka", str(exc))
    try:
        yield servers
    finally:
        subprocess.run(["bash", "infra/kafka/kafka.sh", "stop", "--data-dir", str(data_dir)],
                       cwd=ROOT, capture_output=True, timeout=60)
        subprocess.run(["rm", "-rf", str(data_dir)])


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """`postgresql://user@host:port` of a server where tests may create databases."""
    if url := os.environ.get("MARELLE_PG_URL"):
        yield url.rstrip("/")
        return
    if docker_engine():
        from testcontainers.community.postgres import PostgresContainer  # type: ignore[import-not-found]

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url().rsplit("/", 1)[0]
        return
    port = free_port()
    try:
        url = script_line(["bash", "infra/postgres/pg.sh", "start", "--port", str(port),
                            "--databases", ""], "MARELLE_PG_URL=", timeout=600)
    except Exception as exc:
        unavailable("PostgreSQL", str(exc))
    try:
        yield url.rstrip("/")
    finally:
        subprocess.run(["bash", "infra/postgres/pg.sh", "stop", "--port", str(port), "--purge"],
                       cwd=ROOT, capture_output=True, timeout=60)


async def create_pg_database(base_url: str, prefix: str = "t") -> str:
    """A fresh, empty database on the test server; returns its asyncpg URL."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(f"{base_url}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base_url.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
