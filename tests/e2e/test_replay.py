"""Replaying events never changes what the copies say.

A real flow runs across every process (a family with two children, a child renamed, two contact
changes, a catalogue whose group changes, registrations validated, cancelled and promoted). Then
every event identity and enrolment published about it (read from their outboxes) is applied again
to fresh copies of booking and billing, with booking's and billing's real handlers: first in
REVERSE order, then once more in reverse as new deliveries (fresh event ids, so the inbox cannot
hide them). The copies must end equal to the live ones, which followed the flow in order, and to
the source services.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from marelle_chassis import db
from marelle_chassis.catalogue_copy import period_copy_handlers
from marelle_chassis.identity_copy import child_copy_handlers
from marelle_chassis.messaging import EventDispatcher
from marelle_chassis.messaging_tables import outbox_table
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from tests.e2e.test_family_flows import eventually, invited_family
from tests.support.infra import create_pg_database
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]

CHILD_FIELDS = ("child_id", "family_id", "first_name", "last_name", "birth_date", "sex")
FAMILY_FIELDS = ("family_id", "name", "email", "home_phone", "beneficiary_name",
                 "beneficiary_scheme", "beneficiary_number", "guardian_phones")
PERIOD_FIELDS = ("period_id", "label", "start_date", "end_date", "closed", "groups")
REGISTRATION_FIELDS = ("registration_id", "child_id", "status", "group_label", "typical_week")


async def run_flow(stack: Stack, staff: httpx.AsyncClient) -> dict:
    enrolment, identity = stack.url("enrolment"), stack.url("identity")
    now, start = datetime.now(UTC), date.today() + timedelta(days=30)
    ids: dict = {}
    for key, path, body in [
        ("facility", "facilities", lambda: {"name": f"ALSH REJEU {uuid.uuid4().hex[:4]}"}),
        ("type", "activity-types", lambda: {"facility_id": ids["facility"], "name": "Vacances"}),
        ("activity", "activities", lambda: {"activity_type_id": ids["type"], "name": "HIVER"}),
        ("period", "periods", lambda: {
            "activity_id": ids["activity"], "label": "Hiver 2027", "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=4)).isoformat(),
            "opens_at": (now - timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=7)).isoformat()}),
        ("group", "groups", lambda: {"period_id": ids["period"], "label": "6-8 ans",
                                     "min_age": 6, "max_age": 8, "capacity": 1}),
    ]:
        r = await staff.post(f"{enrolment}/staff/{path}", json=body())
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]

    email = f"rejeu-{uuid.uuid4().hex[:6]}@example.org"
    seven = date(date.today().year - 7, 3, 1).isoformat()
    family_id, parent = await invited_family(stack, staff, "Famille Rejeu", email, [
        {"first_name": "Emma", "last_name": "Rejeu", "birth_date": seven},
        {"first_name": "Hugo", "last_name": "Rejeu", "birth_date": seven}])
    async with httpx.AsyncClient(timeout=10, headers=parent) as client:
        persons = (await client.get(f"{identity}/families/{family_id}")).json()["persons"]
        children = {p["first_name"]: p["id"] for p in persons if p.get("role") == "child"}
        r = await client.put(f"{identity}/families/{family_id}/children/{children['Hugo']}",
                             json={"first_name": "Hugo-Louis", "last_name": "Rejeu",
                                   "birth_date": seven, "sex": "M"})
        assert r.status_code == 200, r.text
        for phone in ("04 78 00 00 01", "04 78 00 00 02"):
            r = await client.post(f"{identity}/families/{family_id}/contact-change-requests",
                                  json={"home_phone": phone})
            assert r.status_code == 201, r.text
            r = await staff.post(f"{identity}/staff/contact-change-requests/decisions", json={
                "decisions": [{"request_id": r.json()["id"], "decision": "accept"}]})
            assert r.json()["results"][0]["ok"], r.text

        registrations = {}
        for name in ("Emma", "Hugo"):
            offer = f"{enrolment}/families/{family_id}/children/{children[name]}/offer"
            await eventually(lambda: client.get(offer), lambda r: r.status_code == 200)
            r = await client.post(f"{enrolment}/families/{family_id}/registrations", json={
                "child_id": children[name], "group_id": ids["group"],
                "typical_week": [{"weekday": 1}]})
            result = r.json()["results"][0]
            assert result["ok"], result
            registrations[name] = result["registration"]["id"]
        r = await staff.post(f"{enrolment}/staff/registrations/decisions", json={"decisions": [
            {"registration_id": registrations["Emma"], "decision": "validate"}]})
        assert r.json()["results"][0]["ok"], r.text
        # The group changes (whole period state on the wire), then Emma's place is given up.
        r = await staff.put(f"{enrolment}/staff/groups/{ids['group']}", json={
            "label": "6-8 ans (bâtiment B)", "min_age": 6, "max_age": 8, "capacity": 1})
        assert r.status_code == 204, r.text
        r = await client.post(
            f"{enrolment}/families/{family_id}/registrations/{registrations['Emma']}/cancel")
        assert r.status_code == 204, r.text
        hugo = await client.get(
            f"{enrolment}/families/{family_id}/registrations/{registrations['Hugo']}")
        if hugo.json()["status"] != "validee":  # promoted to pending: staff validate
            r = await staff.post(f"{enrolment}/staff/registrations/decisions", json={
                "decisions": [{"registration_id": registrations["Hugo"], "decision": "validate"}]})
            assert r.json()["results"][0]["ok"], r.text
    return {"family_id": family_id, "children": children, "period_id": ids["period"],
            "registrations": registrations}


async def outbox_events(url: str, keys: set[str]) -> list[Envelope]:
    engine = db.create_engine(url)
    metadata = db.new_metadata()
    o = outbox_table(metadata)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(o.c.envelope).where(o.c.key.in_(keys))
                                       .order_by(o.c.id))).scalars().all()
    finally:
        await engine.dispose()
    return [Envelope.model_validate_json(r) for r in rows]


async def test_events_replayed_in_reverse_and_twice_leave_the_copies_equal_to_the_source(
        stack, staff_client, pg_base_url):
    flow = await run_flow(stack, staff_client)
    family_id, period_id = flow["family_id"], flow["period_id"]
    child_ids = list(flow["children"].values())

    async def live(service: str) -> dict:
        base = stack.url(service)
        children = (await staff_client.get(f"{base}/staff/children",
                                           params={"family_id": family_id})).json()["items"]
        family = (await staff_client.get(f"{base}/staff/families/{family_id}")).json()
        period = (await staff_client.get(f"{base}/staff/periods/{period_id}")).json()
        regs = []
        if service == "booking":
            for child_id in child_ids:
                regs += (await staff_client.get(f"{base}/staff/registrations",
                                                params={"child_id": child_id})).json()["items"]
        return {"children": children, "family": family, "period": period, "registrations": regs}

    def settled(state: dict, service: str) -> bool:
        statuses = {r["registration_id"]: r["status"] for r in state["registrations"]}
        return (state["family"].get("home_phone") == "+33478000002"
                and any(c["first_name"] == "Hugo-Louis" for c in state["children"])
                and state["period"].get("groups", [{}])[0].get("label") == "6-8 ans (bâtiment B)"
                and (service != "booking" or statuses == {
                    flow["registrations"]["Emma"]: "annulee",
                    flow["registrations"]["Hugo"]: "validee"}))

    identity_events = await outbox_events(stack.processes["identity"].env["IDENTITY_DATABASE_URL"],
                                          {family_id})
    enrolment_events = await outbox_events(
        stack.processes["enrolment"].env["ENROLMENT_DATABASE_URL"], {period_id, *child_ids})
    events = identity_events + enrolment_events
    assert {"identity.child_updated", "identity.contact_details_changed",
            "enrolment.registration_validated", "enrolment.registration_cancelled",
            "enrolment.period_changed"} <= {e.event_type for e in events}
    assert all(e.aggregate_version for e in events), "an event without its aggregate's version"

    for service in ("booking", "billing"):
        state = await eventually(lambda: live(service), lambda s: settled(s, service))
        assert settled(state, service), f"{service}'s live copy never caught up: {state}"
        replayed = await replay_into_fresh_copy(service, pg_base_url, events)
        assert _project(replayed["children"], CHILD_FIELDS) == _project(
            state["children"], CHILD_FIELDS), service
        assert _project([replayed["family"]], FAMILY_FIELDS) == _project(
            [state["family"]], FAMILY_FIELDS), service
        assert _project([replayed["period"]], PERIOD_FIELDS) == _project(
            [state["period"]], PERIOD_FIELDS), service
        if service == "booking":
            assert _project(replayed["registrations"], REGISTRATION_FIELDS) == _project(
                state["registrations"], REGISTRATION_FIELDS)

    # And the live copies say what the sources say.
    source = (await staff_client.get(
        f"{stack.url('identity')}/staff/families/{family_id}")).json()
    assert "Hugo-Louis" in json.dumps(source)
    assert "+33478000002" in json.dumps(source)


async def replay_into_fresh_copy(service: str, pg_base_url: str, events: list[Envelope]) -> dict:
    module = __import__(f"marelle_{service}.db", fromlist=["metadata"])
    metadata = module.metadata
    handlers = {**child_copy_handlers(module.child_copy, module.family_copy),
                **period_copy_handlers(module.period_copy)}
    if service == "booking":
        from marelle_booking import registrations

        handlers.update(registrations.handlers())
    engine = db.create_engine(await create_pg_database(pg_base_url, f"replay_{service}"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = db.session_factory(engine)
        dispatch = EventDispatcher(f"{service}.replay", lambda: UnitOfWork(
            sessions, metadata, producer=service), handlers)
        for envelope in reversed(events):
            await dispatch(envelope)
        for envelope in reversed(events):  # again, as new deliveries the inbox has never seen
            await dispatch(envelope.model_copy(update={"event_id": uuid.uuid4()}))
        async with engine.connect() as conn:
            async def rows(table, *where):
                return [dict(r) for r in (await conn.execute(
                    select(table).where(*where))).mappings().all()]

            ids = [e.payload.get("family_id") for e in events if e.producer == "identity"]
            family_id = uuid.UUID(ids[0])
            state = {
                "children": await rows(module.child_copy, module.child_copy.c.family_id == family_id),
                "family": (await rows(module.family_copy,
                                      module.family_copy.c.family_id == family_id))[0],
                "period": (await rows(module.period_copy))[0],
                "registrations": (await rows(module.registration_copy)
                                  if service == "booking" else []),
            }
    finally:
        await engine.dispose()
    return state


def _project(items: list[dict], fields: tuple[str, ...]) -> list[dict]:
    def norm(value):
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
                if isinstance(parsed, list | dict):
                    return parsed
            except ValueError:
                pass
        return str(value) if value is not None and not isinstance(value, list | dict | bool) \
            else value

    projected = [{f: norm(item.get(f)) for f in fields} for item in items]
    return sorted(projected, key=lambda d: json.dumps(d, sort_keys=True, default=str))
