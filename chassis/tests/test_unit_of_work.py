"""The unit of work's outbox: events written early (`write_events`, the deciders' way of keeping
the acknowledgements' counter row locked for one statement only) and at commit land in
publication order, once each, and leave with the transaction when it rolls back."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import MetaData, select

from marelle_chassis import db
from marelle_chassis.messaging_tables import add_messaging_tables, outbox_table
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.identity import FamilyCreated

metadata = MetaData()
add_messaging_tables(metadata)


@pytest.fixture
async def setup(database_url):
    engine = db.create_engine(database_url, pool_size=2)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    commits: list[int] = []
    sessions = db.session_factory(engine)
    try:
        yield engine, lambda: UnitOfWork(sessions, metadata, producer="identity",
                                         on_commit=lambda: commits.append(1)), commits
    finally:
        await engine.dispose()


def family(name: str) -> FamilyCreated:
    return FamilyCreated(family_id=uuid.uuid4(), name=name, children=[])


async def outbox_names(engine) -> list[str]:
    o = outbox_table(metadata)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(o.c.envelope).order_by(o.c.id))).scalars().all()
    return [Envelope.model_validate_json(r).payload["name"] for r in rows]


async def test_events_written_early_and_at_commit_are_all_there_in_order(setup):
    engine, new, commits = setup
    async with new() as uow:
        uow.publish(family("Famille A"), version=1)
        uow.publish(family("Famille B"), version=1)
        await uow.write_events()
        uow.publish(family("Famille C"), version=1)
        await uow.commit()
    assert await outbox_names(engine) == ["Famille A", "Famille B", "Famille C"]
    assert commits == [1], "the relay is woken once, after the commit"

    async with new() as uow:  # everything written early: the commit still wakes the relay
        uow.publish(family("Famille D"), version=1)
        await uow.write_events()
        await uow.commit()
    assert await outbox_names(engine) == ["Famille A", "Famille B", "Famille C", "Famille D"]
    assert commits == [1, 1]


async def test_events_written_early_go_with_a_rollback(setup):
    engine, new, commits = setup
    async with new() as uow:
        uow.publish(family("Famille E"), version=1)
        await uow.write_events()
        # leaving without commit rolls back
    async with new() as uow:
        await uow.commit()  # nothing published here: nothing written, the relay not woken
    assert await outbox_names(engine) == []
    assert commits == []
