"""Each service's Alembic migrations build exactly its tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from marelle_chassis import db, migrations

SERVICES = ["identity", "enrolment", "booking", "billing"]


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_the_models_and_can_run_twice(service, database_url):
    main = importlib.import_module(f"marelle_{service}.main")
    metadata = importlib.import_module(f"marelle_{service}.db").metadata
    # Alembic's env runs its own event loop: run it in a thread, as the CLI would.
    await asyncio.to_thread(migrations.upgrade, main.MIGRATIONS, database_url)
    await asyncio.to_thread(migrations.upgrade, main.MIGRATIONS, database_url)  # idempotent
    # Downgrades work too: down to nothing and up again.
    await asyncio.to_thread(migrations.downgrade, main.MIGRATIONS, database_url, "base")
    await asyncio.to_thread(migrations.upgrade, main.MIGRATIONS, database_url)

    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ for {service}: {diff}"
