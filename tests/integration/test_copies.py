"""Copies apply events by aggregate version: late, reordered or replayed events lose."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from sqlalchemy import select

from marelle_chassis import db
from marelle_chassis.catalogue_copy import add_period_copy_table, period_copy_handlers
from marelle_chassis.identity_copy import (
    add_child_copy_table,
    add_family_copy_table,
    child_copy_handlers,
)
from marelle_chassis.messaging import EventDispatcher
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import new_envelope
from marelle_contracts import identity as ev


async def _copy(url: str):
    metadata = db.new_metadata()
    children, families = add_child_copy_table(metadata), add_family_copy_table(metadata)
    periods = add_period_copy_table(metadata)
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = db.session_factory(engine)
    dispatch = EventDispatcher("copy-test", lambda: UnitOfWork(sessions, metadata, producer="t"),
                               {**child_copy_handlers(children, families),
                                **period_copy_handlers(periods)})
    return engine, dispatch, children, families


def _flow():
    family_id, child_id = uuid.uuid4(), uuid.uuid4()
    child = dict(child_id=child_id, last_name="Martin", birth_date=date(2017, 5, 14))
    payloads = [
        ev.FamilyCreated(family_id=family_id, name="Famille Martin", email="a@example.org",
                         children=[ev.ChildFacts(first_name="Léa", **child)]),
        ev.ChildUpdated(family_id=family_id, child=ev.ChildFacts(first_name="Léane", **child)),
        ev.ContactDetailsChanged(family_id=family_id, email="a@example.org",
                                 home_phone="+33478000001"),
        ev.EmailChanged(family_id=family_id, old_email="a@example.org", new_email="b@example.org"),
        ev.ContactDetailsChanged(family_id=family_id, email="b@example.org",
                                 home_phone="+33478000002"),
        ev.ChildUpdated(family_id=family_id, child=ev.ChildFacts(first_name="Léa-Rose", **child)),
    ]
    envelopes = [new_envelope(p, producer="identity", version=v)
                 for v, p in enumerate(payloads, start=1)]
    return family_id, child_id, envelopes


async def _state(engine, children, families, family_id, child_id):
    async with engine.connect() as conn:
        child = (await conn.execute(select(children).where(children.c.child_id == child_id))
                 ).mappings().one()
        family = (await conn.execute(select(families).where(families.c.family_id == family_id))
                  ).mappings().one()
    return (child["first_name"], family["name"], family["email"], family["home_phone"])


async def test_any_order_of_a_households_events_ends_in_the_latest_state(database_url):
    engine, dispatch, children, families = await _copy(database_url)
    expected = ("Léa-Rose", "Famille Martin", "b@example.org", "+33478000002")
    try:
        orders = list(itertools.permutations(range(6)))[::37]  # a spread of the 720 orders
        for order in orders + [tuple(reversed(range(6)))]:
            family_id, child_id, envelopes = _flow()
            for i in order:
                await dispatch(envelopes[i])
            # Replayed again backwards as new deliveries (fresh ids: the inbox cannot help).
            for envelope in reversed(envelopes):
                await dispatch(envelope.model_copy(update={"event_id": uuid.uuid4()}))
            assert await _state(engine, children, families, family_id, child_id) == expected, order
    finally:
        await engine.dispose()


async def test_an_event_applied_in_order_counts_once_in_the_revision(database_url):
    engine, dispatch, children, families = await _copy(database_url)
    try:
        family_id, child_id, envelopes = _flow()
        for envelope in envelopes:
            await dispatch(envelope)
        async with engine.connect() as conn:
            child = (await conn.execute(select(children))).mappings().one()
        assert (child["revision"], child["version"]) == (3, 6)
    finally:
        await engine.dispose()
