"""`statement_per_transaction` (the opening queue's hot path) makes a unit of work autocommit on
PostgreSQL only, and never leaks it: the next unit of work on the same pooled connection is an
ordinary transaction again, whose writes vanish when it is not committed."""

from __future__ import annotations

from sqlalchemy import text

from marelle_chassis import db
from marelle_chassis.transactions import statement_per_transaction


async def test_autocommit_for_one_unit_of_work_never_for_the_next(database_url):
    engine = db.create_engine(database_url, pool_size=1)  # the same connection every time
    sessions = db.session_factory(engine)
    try:
        async with sessions() as session:
            await session.execute(text("CREATE TABLE probe (x integer)"))
            await session.commit()
        async with sessions() as session:
            postgres = await statement_per_transaction(session)
            await session.execute(text("INSERT INTO probe VALUES (1)"))
            await session.rollback()  # too late on PostgreSQL: the statement was its own
        async with sessions() as session:
            await session.execute(text("INSERT INTO probe VALUES (2)"))
            await session.rollback()  # an ordinary transaction again: nothing kept
        async with sessions() as session:
            kept = sorted((await session.execute(text("SELECT x FROM probe"))).scalars())
    finally:
        await engine.dispose()
    assert postgres == database_url.startswith("postgresql")
    assert kept == ([1] if postgres else [])
