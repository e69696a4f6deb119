"""Each service in-process (httpx over ASGI, a fresh database, no broker), with two
households seeded the way their data really arrives (identity's API, the other services' events
applied by the service's own handlers): household A, whose ids every attack uses, and household B,
the attacker's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from marelle_chassis import migrations
from marelle_chassis.openapi import document_api
from marelle_contracts import new_envelope
from marelle_contracts.enrolment import GroupFacts, PeriodPublished, RegistrationValidated
from marelle_contracts.identity import ChildFacts, FamilyCreated
from tests.security.support import Household
from tests.support import tokens

SERVICES = ("identity", "enrolment", "booking", "billing")

# Words only household A has: an answer to anyone else containing one of them is a leak.
A_NAME, A_CHILD, A_EMAIL = "Zanzibarre", "Séraphine", "zanzibarre.secret@example.org"


@dataclass
class Target:
    name: str
    app: Any
    client: httpx.AsyncClient
    a: Household
    b: Household
    staff: dict[str, str]
    database: str = "sqlite"

    def spec(self) -> dict[str, Any]:
        return self.app.openapi()


def _family_event(family_id: uuid.UUID, name: str, child: str, child_id: uuid.UUID,
                  email: str) -> FamilyCreated:
    return FamilyCreated(family_id=family_id, name=f"Famille {name}", email=email, children=[
        ChildFacts(child_id=child_id, first_name=child, last_name=name.upper(),
                   birth_date=date(2018, 5, 1))])


def _households() -> tuple[Household, Household]:
    a = Household(uuid.uuid4(), secrets=[A_NAME, A_CHILD, A_EMAIL])
    a.ids = {"family_id": a.family_id, "child_id": uuid.uuid4()}
    b = Household(uuid.uuid4())
    b.ids = {"family_id": b.family_id, "child_id": uuid.uuid4()}
    return a, b


async def _apply_identity_facts(handlers: Any, runtime: Any, a: Household, b: Household) -> None:
    for household, name, child, email in ((a, A_NAME, A_CHILD, A_EMAIL),
                                          (b, "Autre", "Paul", "autre@example.org")):
        await handlers.identity_events(runtime)(new_envelope(
            _family_event(household.family_id, name, child, household.ids["child_id"], email),
            producer="identity", version=1))


def _period(start: date) -> tuple[PeriodPublished, uuid.UUID]:
    group_id = uuid.uuid4()
    return PeriodPublished(
        period_id=uuid.uuid4(), facility_id=uuid.uuid4(), facility_name="CENTRE DE LOISIRS ALSH",
        activity_type_id=uuid.uuid4(), activity_type_name="Mercredi, vacances",
        activity_id=uuid.uuid4(), activity_name="AUTOMNE", label="Automne",
        start_date=start, end_date=start + timedelta(days=14),
        opens_at=datetime(2000, 1, 1, tzinfo=UTC), closes_at=datetime(2100, 1, 1, tzinfo=UTC),
        groups=[GroupFacts(group_id=group_id, label="6-8 ans", min_age=3, max_age=12,
                           capacity=100)]), group_id


def _validated(a: Household, period: PeriodPublished, group_id: uuid.UUID) -> RegistrationValidated:
    return RegistrationValidated(
        registration_id=a.ids["registration_id"], child_id=a.ids["child_id"],
        family_id=a.family_id, period_id=period.period_id, group_id=group_id,
        facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE", period_label="Automne",
        group_label="6-8 ans", start_date=period.start_date, end_date=period.end_date,
        status="validee", memo=f"Allergie de {A_CHILD}")


@asynccontextmanager
async def _client(app: Any, base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        if base != "identity":
            # The tests' key, and the service's own revocations (fed by identity's events, as
            # the revocation feed does): a revoked session's token is refused as in production.
            verifier = tokens.verifier()
            verifier.revocations = app.state.runtime.revocations
            app.state.token_verifier = verifier
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{base}.test") as c:
            yield c


@asynccontextmanager
async def open_service(name: str, database_url: str) -> AsyncIterator[Target]:
    staff = tokens.staff()
    a, b = _households()
    if name == "identity":
        from marelle_identity.config import IdentitySettings
        from marelle_identity.main import MIGRATIONS, create_app

        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
        app = create_app(IdentitySettings(database_url=database_url, kafka_enabled=False,
                                          mail_enabled=False, identity_url="http://identity.test"))
        document_api(app)  # no-op once create_service_app does it
        async with app.router.lifespan_context(app):
            # The tests' key; identity's own verifier, which reads its sessions table (as in
            # production: an ended session's token is refused by every route, the chassis' too).
            from marelle_identity.api.deps import SessionCheckingVerifier

            app.state.token_verifier = SessionCheckingVerifier(tokens.jwks(),
                                                               app.state.uow_factory)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport,
                                         base_url="http://identity.test") as client:
                for household, family, child, email in ((a, A_NAME, A_CHILD, A_EMAIL),
                                                        (b, "Autre", "Paul", "autre@example.org")):
                    r = await client.post("/staff/families", headers=staff, json={
                        "name": f"Famille {family}", "email": email,
                        "guardian": {"first_name": "Claire", "last_name": family},
                        "children": [{"first_name": child, "last_name": family,
                                      "birth_date": "2018-05-01"}]})
                    assert r.status_code == 201, r.text
                    household.family_id = uuid.UUID(r.json()["family_id"])
                    r = await client.get(f"/staff/families/{household.family_id}", headers=staff)
                    assert r.status_code == 200, r.text
                    persons = r.json()["family"]["persons"]
                    child_id = next(p["id"] for p in persons if p["role"] == "child")
                    household.ids = {"family_id": household.family_id, "person_id": child_id,
                                     "child_id": child_id}
                yield Target(name, app, client, a, b, staff)
        return

    if name == "enrolment":
        from marelle_enrolment import handlers
        from marelle_enrolment.config import EnrolmentSettings
        from marelle_enrolment.main import MIGRATIONS, create_app

        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
        app = create_app(EnrolmentSettings(database_url=database_url, kafka_enabled=False))
        document_api(app)
        async with _client(app, name) as client:
            await _apply_identity_facts(handlers, app.state.runtime, a, b)
            now = datetime.now(UTC)
            start = (now + timedelta(days=30)).date()
            ids: dict[str, Any] = {}
            for path, body, key in (
                    ("/staff/facilities", {"name": "CENTRE DE LOISIRS ALSH"}, "facility"),
                    ("/staff/activity-types", lambda: {"facility_id": ids["facility"],
                                                       "name": "Mercredi"}, "type"),
                    ("/staff/activities", lambda: {"activity_type_id": ids["type"],
                                                   "name": "AUTOMNE"}, "activity"),
                    ("/staff/periods", lambda: {
                        "activity_id": ids["activity"], "label": "Automne",
                        "start_date": start.isoformat(),
                        "end_date": (start + timedelta(days=14)).isoformat(),
                        "opens_at": (now - timedelta(days=1)).isoformat(),
                        "closes_at": (now + timedelta(days=14)).isoformat()}, "period"),
                    ("/staff/groups", lambda: {"period_id": ids["period"], "label": "6-8 ans",
                                               "min_age": 3, "max_age": 12, "capacity": 10},
                     "group")):
                r = await client.post(path, headers=staff,
                                      json=body() if callable(body) else body)
                assert r.status_code == 201, (path, r.text)
                ids[key] = r.json()["id"]
            r = await client.post(f"/families/{a.family_id}/registrations", headers=a.headers,
                                  json={"child_id": str(a.ids["child_id"]),
                                        "group_id": ids["group"], "memo": f"Allergie {A_CHILD}"})
            assert r.status_code == 201, r.text
            registration_id = r.json()["results"][0]["registration"]["id"]
            a.ids.update(registration_id=registration_id, period_id=ids["period"],
                         group_id=ids["group"])
            yield Target(name, app, client, a, b, staff)
        return

    if name == "booking":
        from marelle_booking import handlers
        from marelle_booking.config import BookingSettings
        from marelle_booking.main import MIGRATIONS, create_app

        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
        app = create_app(BookingSettings(database_url=database_url, kafka_enabled=False))
        document_api(app)
        async with _client(app, name) as client:
            runtime = app.state.runtime
            await _apply_identity_facts(handlers, runtime, a, b)
            period, group_id = _period(date.today() + timedelta(days=7))
            await handlers.enrolment_events(runtime)(new_envelope(
                period, producer="enrolment", version=1))
            a.ids["registration_id"] = uuid.uuid4()
            await handlers.enrolment_events(runtime)(new_envelope(
                _validated(a, period, group_id), producer="enrolment", version=2))
            a.ids.update(period_id=period.period_id, group_id=group_id)
            r = await client.post(f"/families/{a.family_id}/children/{a.ids['child_id']}"
                                  "/calendar-feed", headers=a.headers)
            assert r.status_code == 201, r.text
            a.secrets.append(r.json()["url"].rsplit("/", 1)[-1].removesuffix(".ics"))
            yield Target(name, app, client, a, b, staff)
        return

    if name == "billing":
        from marelle_billing import handlers
        from marelle_billing.config import BillingSettings
        from marelle_billing.main import MIGRATIONS, create_app

        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
        app = create_app(BillingSettings(database_url=database_url, kafka_enabled=False,
                                         payment_sandbox=True, public_url="http://billing.test"))
        document_api(app)
        async with _client(app, name) as client:
            runtime = app.state.runtime
            await _apply_identity_facts(handlers, runtime, a, b)
            a.ids.update(await _billing_money(runtime, a))
            yield Target(name, app, client, a, b, staff)
        return
    raise ValueError(name)


async def _billing_money(runtime: Any, a: Household) -> dict[str, Any]:
    """An issued invoice of household A and its accepted payment, written as billing's tests do
    (runs and the payment provider have their own tests)."""
    from marelle_billing.db import invoice, invoice_line, payment, regie

    now = datetime.now(UTC)
    regie_id, invoice_id, payment_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with runtime.uow() as uow:
        await uow.session.execute(regie.insert().values(
            regie_id=regie_id, code="ENFANCE", name="Régie Enfance", invoice_prefix="F",
            credit_prefix="AV", partial_payment_allowed=True, due_days=30,
            payment_backend="dummy", payment_options="{}", version=1, updated_at=now))
        await uow.session.execute(invoice.insert().values(
            invoice_id=invoice_id, regie_id=regie_id, family_id=a.family_id, run_id=None,
            kind="facture", number="F2611000001", month="2026-11", issued_on=now.date(),
            due_on=None, status="emise", total_cents=4000, settled_cents=0, imported=False,
            label=None, version=1, created_at=now))
        await uow.session.execute(invoice_line.insert().values(
            line_id=uuid.uuid4(), invoice_id=invoice_id, child_id=a.ids["child_id"],
            child_name=f"{A_CHILD} {A_NAME.upper()}", registration_id=None,
            activity_name="AUTOMNE", day=now.date(), unit="journee", label="Journée",
            kind="prestation", meal=False, quantity=1, unit_price_cents=4000,
            amount_cents=4000, source_key=None))
        await uow.session.execute(payment.insert().values(
            payment_id=payment_id, family_id=a.family_id, regie_id=regie_id, method="especes",
            status="acceptee", amount_cents=1000, invoice_id=None, backend=None,
            transaction_id=None, receipt_number="R0000000001", details="{}", message=None,
            unallocated_cents=1000, received_on=now.date(), received_at=now, recorded_by=None,
            collection_id=None, version=1, created_at=now))
        await uow.commit()
    return {"invoice_id": invoice_id, "payment_id": payment_id, "regie_code": "ENFANCE"}
