"""`HotPath` (the opening queue's acknowledgement): Core statements on the driver directly on
PostgreSQL, each its own transaction; in a unit of work on SQLite; a repeated key is
`DuplicateKey` on both; a pooled connection found dead is never handed out again and the work
runs again on a fresh one."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.exc import StatementError

from marelle_chassis import db
from marelle_chassis.messaging_tables import add_messaging_tables
from marelle_chassis.queue_sql import DuplicateKey, HotPath
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from tests.support.infra import create_pg_database

metadata = MetaData()
add_messaging_tables(metadata)
probe = Table("probe", metadata, Column("id", Integer, primary_key=True),
              Column("key", String(20), nullable=False, unique=True),
              Column("at", db.UtcDateTime, nullable=True))
INSERT = insert(probe).values(id=bindparam("id"), key=bindparam("key"),
                              at=bindparam("at", None)).returning(probe.c.id, probe.c.key)
BY_KEY = select(probe).where(probe.c.key == bindparam("key"))


async def factory(database_url):
    engine = db.create_engine(database_url, pool_size=1)  # the same connection every time
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    return engine, lambda: UnitOfWork(sessions, metadata, producer="test")


@pytest.fixture
async def uow_factory(database_url):
    engine, new = await factory(database_url)
    try:
        yield new
    finally:
        await engine.dispose()


@pytest.fixture
async def pg(pg_base_url):
    """PostgreSQL only: (url, unit of work factory)."""
    url = await create_pg_database(pg_base_url)
    engine, new = await factory(url)
    try:
        yield url, new
    finally:
        await engine.dispose()


def driver_url(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql")


async def test_rows_come_back_by_name_and_a_repeated_key_is_a_duplicate(uow_factory):
    async with HotPath(uow_factory()) as hot:
        [row] = await hot.rows(INSERT, id=1, key="cle-1")
        await hot.commit()
    assert (row.id, row.key) == (1, "cle-1")
    with pytest.raises(DuplicateKey):
        async with HotPath(uow_factory()) as hot:
            await hot.rows(INSERT, id=2, key="cle-1")
    async with HotPath(uow_factory()) as hot:
        assert [r.id for r in await hot.rows(BY_KEY, key="cle-1")] == [1]
        assert await hot.rows(BY_KEY, key="cle-2") == []


async def test_values_go_through_their_types_as_with_a_session(uow_factory):
    paris = datetime(2026, 6, 1, 8, 30, tzinfo=ZoneInfo("Europe/Paris"))
    async with HotPath(uow_factory()) as hot:
        await hot.rows(INSERT, id=1, key="cle-1", at=paris)
        [row] = await hot.rows(BY_KEY, key="cle-1")
        await hot.commit()
    # UtcDateTime's own refusal (wrapped by the session on SQLite).
    with pytest.raises((ValueError, StatementError), match="naive"):
        async with HotPath(uow_factory()) as hot:
            await hot.rows(INSERT, id=2, key="cle-2", at=datetime(2026, 6, 1, 8, 30))
    assert row.at == paris and row.at.tzinfo == UTC  # read back in UTC, as the type says


async def test_postgresql_statements_are_their_own_transactions(pg):
    url, uow_factory = pg
    other = await asyncpg.connect(driver_url(url))
    try:
        async with HotPath(uow_factory()) as hot:
            assert hot.postgres
            await hot.rows(INSERT, id=1, key="cle-1")
            # No commit: the statement was its own transaction, seen by another connection.
            seen = await other.fetch("SELECT key FROM probe")
    finally:
        await other.close()
    assert [r["key"] for r in seen] == ["cle-1"]
    # And the pooled connection is an ordinary transaction again for the next unit of work.
    async with uow_factory() as uow:
        await uow.session.execute(insert(probe).values(id=2, key="cle-2"))
        await uow.session.rollback()
    async with uow_factory() as uow:
        assert (await uow.session.execute(select(probe.c.key))).scalars().all() == ["cle-1"]


async def test_a_dead_pooled_connection_is_replaced_and_the_work_runs_again(pg):
    url, uow_factory = pg
    async with uow_factory() as uow:
        victim = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    killer = await asyncpg.connect(driver_url(url))
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", victim)
    finally:
        await killer.close()
    attempts = []

    async def work() -> int:
        attempts.append(1)
        async with HotPath(uow_factory()) as hot:
            [row] = await hot.rows(INSERT, id=7, key="apres-coupure")
        return row.id

    assert await retry_transaction(work) == 7
    assert len(attempts) == 2  # the dead connection's attempt, then a fresh connection's
    async with uow_factory() as uow:
        now = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert (await uow.session.execute(select(probe.c.key))).scalars().all() == [
            "apres-coupure"]
    assert now != victim
