"""GDPR erasure across every process, on the real broker and PostgreSQL: a family asks for the
deletion of its data, an administrator accepts, identity anonymises the household and publishes
`identity.household_anonymised`; enrolment's, booking's and billing's copies erase the names and
contact details. Then identity's OLDER events about the household are replayed on the topic (new
event ids, so the inboxes cannot hide them): no copy gets the names back.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import select

from marelle_contracts import Envelope, Topics, new_envelope
from marelle_contracts import identity as ev
from tests.e2e.test_family_flows import eventually, invited_family
from tests.integration.messaging_support import produce, read_topic
from tests.integration.test_copies import _copy

CONSUMERS = ["enrolment", "booking", "billing"]


async def test_the_chassis_copy_anonymises_by_version_in_any_order(database_url):
    """The copy every service shares: the anonymisation wins over every older event, whichever
    order they arrive in, and replays (fresh event ids) change nothing."""
    engine, dispatch, children, families = await _copy(database_url)
    try:
        for anonymised_first in (False, True):
            family_id, child_id = uuid.uuid4(), uuid.uuid4()
            named = dict(child_id=child_id, first_name="Léa", last_name="Martin",
                         birth_date=date(2017, 5, 14))
            older = [
                ev.FamilyCreated(family_id=family_id, name="Famille Martin", email="a@example.org",
                                 children=[ev.ChildFacts(**named)]),
                ev.ContactDetailsChanged(family_id=family_id, email="a@example.org",
                                         home_phone="+33478000001", beneficiary_name="C. Martin"),
                ev.ChildUpdated(family_id=family_id, child=ev.ChildFacts(**named)),
            ]
            envelopes = [new_envelope(p, producer="identity", version=v)
                         for v, p in enumerate(older, start=1)]
            last = new_envelope(ev.HouseholdAnonymised(
                family_id=family_id, anonymised_at=datetime.now(UTC), children=[ev.ChildFacts(
                    child_id=child_id, first_name="Anonyme", last_name="Anonyme",
                    birth_date=date(2017, 1, 1))]), producer="identity", version=4)
            order = [last, *envelopes] if anonymised_first else [*envelopes, last]
            for envelope in order + [*envelopes, last]:
                await dispatch(envelope.model_copy(update={"event_id": uuid.uuid4()}))
            async with engine.connect() as conn:
                child = (await conn.execute(select(children).where(
                    children.c.child_id == child_id))).mappings().one()
                family = (await conn.execute(select(families).where(
                    families.c.family_id == family_id))).mappings().one()
            assert (child["first_name"], child["last_name"], child["birth_date"]) == (
                "Anonyme", "Anonyme", date(2017, 1, 1))
            assert (family["name"], family["email"], family["home_phone"],
                    family["beneficiary_name"]) == ("Anonyme", None, None, None)
    finally:
        await engine.dispose()


def _anonymised(copy: httpx.Response) -> bool:
    return copy.status_code == 200 and copy.json()["name"] == "Anonyme"


async def _copies(stack, staff_client, family_id: str) -> dict[str, tuple]:
    out = {}
    for service in CONSUMERS:
        family = (await staff_client.get(f"{stack.url(service)}/staff/families/{family_id}")).json()
        children = (await staff_client.get(f"{stack.url(service)}/staff/children",
                                           params={"family_id": family_id})).json()["items"]
        out[service] = (family["name"], family["email"], family["home_phone"],
                        family["guardian_phones"],
                        [(c["first_name"], c["last_name"], c["birth_date"]) for c in children])
    return out


@pytest.mark.e2e
@pytest.mark.kafka
@pytest.mark.postgres
async def test_an_accepted_deletion_anonymises_every_copy_and_old_events_do_not_undo_it(
        stack, staff_client, kafka_bootstrap):
    identity = stack.url("identity")
    email = f"famille-{uuid.uuid4().hex[:6]}@example.org"
    family_id, parent = await invited_family(stack, staff_client, "Famille Delorme", email, [
        {"first_name": "Jade", "last_name": "Delorme", "birth_date": "2018-06-21"}])
    async with httpx.AsyncClient(timeout=10, headers=parent) as client:
        r = await client.post(f"{identity}/families/{family_id}/contact-change-requests",
                              json={"home_phone": "04 78 11 22 33"})
        assert r.status_code == 201, r.text
        change_id = r.json()["id"]
    r = await staff_client.post(f"{identity}/staff/contact-change-requests/decisions", json={
        "decisions": [{"request_id": change_id, "decision": "accept"}]})
    assert r.json()["results"][0]["ok"]
    for service in CONSUMERS:
        url = f"{stack.url(service)}/staff/families/{family_id}"
        copy = await eventually(lambda: staff_client.get(url),
                                lambda r: r.status_code == 200 and r.json()["home_phone"])
        assert copy.json()["name"] == "Famille Delorme", service

    async with httpx.AsyncClient(timeout=10, headers=parent) as client:
        r = await client.post(f"{identity}/families/{family_id}/deletion-requests",
                              json={"reason": "Départ de la commune."})
        assert r.status_code == 201, r.text
        request_id = r.json()["id"]
    r = await staff_client.post(f"{identity}/staff/deletion-requests/{request_id}/decision",
                                json={"decision": "accept"})
    assert r.status_code == 200, r.text

    expected = ("Anonyme", None, None, [], [("Anonyme", "Anonyme", "2018-01-01")])
    for service in CONSUMERS:
        url = f"{stack.url(service)}/staff/families/{family_id}"
        await eventually(lambda: staff_client.get(url), _anonymised)
    assert await _copies(stack, staff_client, family_id) == dict.fromkeys(CONSUMERS, expected)

    # Identity's earlier events about the household, replayed as new deliveries.
    records = await read_topic(kafka_bootstrap, Topics.IDENTITY, expected=10, timeout=15,
                               match=lambda rec: rec.key == family_id.encode())
    older = [Envelope.model_validate_json(rec.value) for rec in records]
    older = [e for e in older if e.event_type != "identity.household_anonymised"]
    assert {"identity.family_created", "identity.contact_details_changed"} <= {
        e.event_type for e in older}
    await produce(kafka_bootstrap, Topics.IDENTITY, *(
        json.dumps(e.model_copy(update={"event_id": uuid.uuid4()}).model_dump(mode="json"))
        .encode() for e in older), key=family_id.encode())
    await asyncio.sleep(8)  # the consumers read them (nothing observable may change)
    assert await _copies(stack, staff_client, family_id) == dict.fromkeys(CONSUMERS, expected)

    # The family can no longer log in; identity keeps no name either.
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(f"{identity}/auth/token",
                              json={"email": email, "password": "mot-de-passe-famille"})
    assert r.status_code == 401
    detail = (await staff_client.get(f"{identity}/staff/families/{family_id}")).json()
    assert detail["family"]["name"] == "Anonyme" and detail["anonymised_at"]


async def test_billing_keeps_the_accounting_and_drops_the_names(database_url):
    """billing's real handler on its real schema: invoice lines, fiscal attestations and SEPA
    mandates lose the names; amounts, numbers and dates stay; a replay changes nothing."""
    from marelle_billing.db import (fiscal_attestation, invoice, invoice_line, metadata,
                                    regie, sepa_mandate)
    from marelle_billing.handlers import identity_events
    from marelle_billing.main import MIGRATIONS
    from marelle_chassis import db, migrations
    from marelle_chassis.uow import UnitOfWork

    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    engine = db.create_engine(database_url)
    sessions = db.session_factory(engine)

    class Runtime:  # what `identity_events` uses of the runtime
        @staticmethod
        def uow() -> UnitOfWork:
            return UnitOfWork(sessions, metadata, producer="billing")

    family_id, child_id, regie_id, invoice_id = (uuid.uuid4() for _ in range(4))
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.execute(regie.insert().values(
                regie_id=regie_id, code="R1", name="Régie", invoice_prefix="F",
                credit_prefix="A", partial_payment_allowed=True, due_days=30,
                payment_backend="aucun", payment_options="{}", version=1, updated_at=now))
            await conn.execute(invoice.insert().values(
                invoice_id=invoice_id, regie_id=regie_id, family_id=family_id, kind="facture",
                number="F2611000001", month="2026-11", issued_on=date(2026, 11, 30),
                status="emise", total_cents=1250, settled_cents=0, imported=False, version=1,
                created_at=now))
            await conn.execute(invoice_line.insert().values(
                line_id=uuid.uuid4(), invoice_id=invoice_id, child_id=child_id,
                child_name="Léa Martin", label="Repas", kind="prestation", meal=True,
                quantity=5, unit_price_cents=250, amount_cents=1250))
            await conn.execute(fiscal_attestation.insert().values(
                attestation_id=uuid.uuid4(), family_id=family_id, year=2026, total_cents=1250,
                children=json.dumps([{"child_id": str(child_id), "first_name": "Léa",
                                      "last_name": "Martin", "birth_date": "2021-05-14",
                                      "amount_cents": 1250}]), version=1, issued_at=now))
            await conn.execute(sepa_mandate.insert().values(
                mandate_id=uuid.uuid4(), family_id=family_id, regie_id=regie_id,
                reference="RUM-1", debtor_name="Claire Martin", iban="FR7630006000011234567890189",
                bic="AGRIFRPP", signed_on=date(2026, 1, 5), first_collected=False, active=True,
                created_at=now))
        dispatch = identity_events(Runtime())
        event = new_envelope(ev.HouseholdAnonymised(
            family_id=family_id, anonymised_at=now, children=[ev.ChildFacts(
                child_id=child_id, first_name="Anonyme", last_name="Anonyme",
                birth_date=date(2021, 1, 1))]), producer="identity", version=7)
        for envelope in (event, event.model_copy(update={"event_id": uuid.uuid4()})):
            await dispatch(envelope)
        async with engine.connect() as conn:
            line = (await conn.execute(select(invoice_line))).mappings().one()
            bill = (await conn.execute(select(invoice))).mappings().one()
            attest = (await conn.execute(select(fiscal_attestation))).mappings().one()
            mandate = (await conn.execute(select(sepa_mandate))).mappings().one()
        assert line["child_name"] == "Anonyme Anonyme" and line["amount_cents"] == 1250
        assert (bill["number"], bill["total_cents"], bill["issued_on"]) == (
            "F2611000001", 1250, date(2026, 11, 30))
        [child] = json.loads(attest["children"])
        assert (child["first_name"], child["last_name"], child["birth_date"],
                child["amount_cents"]) == ("Anonyme", "Anonyme", "2021-01-01", 1250)
        assert mandate["debtor_name"] == "Anonyme"
        assert "Martin" not in json.dumps([dict(line), dict(attest), dict(mandate)], default=str)
    finally:
        await engine.dispose()
