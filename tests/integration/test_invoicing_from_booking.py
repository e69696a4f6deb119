"""Acceptance: invoicing from REAL booking events. Booking and billing run in-process, each on its
own database; identity's and enrolment's facts reach both through their own handlers (the same
envelopes); families book through booking's family API, staff record roll calls through its staff
API, and the envelopes booking wrote to its outbox are handed, in order, to billing's consumer.

A month of bookings and roll calls for three families at different QF brackets gives exactly the
expected lines and totals; a late cancellation by the structure after the run becomes, on the next
run, a credit note applied to the family's open invoice; the fiscal attestation counts only the
child under 6 on 1 January and leaves meals out.

Prices (cents), worked by hand below:
  matin   « Accueil matin »  T1 150 · T2 200 · default 300
  repas   « Repas » (meal)   T1 250 · T2 400 · default 650
  journee « Journée »        T1 800 · T2 1200 · default 2000; unjustified absence 50 %;
                             present without booking: price + 300.
  (repas and matin: unjustified absence billed in full.)
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from marelle_chassis import migrations
from marelle_chassis.clock import PARIS, FixedClock
from marelle_chassis.messaging_tables import outbox_table
from marelle_contracts import Envelope, new_envelope
from marelle_contracts.enrolment import (GroupFacts, PeriodPublished, RegistrationValidated,
                                         WeekdayUnits)
from marelle_contracts.identity import ChildFacts, FamilyCreated
from marelle_billing import handlers as billing_handlers
from marelle_billing.config import BillingSettings
from marelle_billing.main import MIGRATIONS as BILLING_MIGRATIONS
from marelle_billing.main import create_app as create_billing
from marelle_billing.runner import wait_idle
from marelle_booking import handlers as booking_handlers
from marelle_booking.config import BookingSettings
from marelle_booking.db import metadata as booking_metadata
from marelle_booking.main import MIGRATIONS as BOOKING_MIGRATIONS
from marelle_booking.main import create_app as create_booking
from tests.support import tokens
from tests.support.infra import create_pg_database


def paris(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


OCT = {d: date(2026, 10, d) for d in (7, 14, 21, 28)}  # the Wednesdays of October 2026
UNITS = [
    {"code": "matin", "label": "Accueil matin", "kind": "accueil"},
    {"code": "repas", "label": "Repas", "kind": "supplement"},
    {"code": "journee", "label": "Journée", "kind": "journee", "implies": ["repas"]},
]
BRACKETS = [{"code": "T1", "label": "Tranche 1", "qf_min": 0, "qf_max": 700},
            {"code": "T2", "label": "Tranche 2", "qf_min": 701, "qf_max": 1400},
            {"code": "T3", "label": "Tranche 3", "qf_min": 1401}]
TARIFFS = {
    "matin": {"label": "Accueil matin", "prices": {"T1": 150, "T2": 200, "T3": 250, None: 300}},
    "repas": {"label": "Repas", "meal": True,
              "prices": {"T1": 250, "T2": 400, "T3": 550, None: 650}},
    "journee": {"label": "Journée", "unbooked_presence": True, "surcharge_cents": 300,
                "unjustified_absence_percent": 50,
                "prices": {"T1": 800, "T2": 1200, "T3": 1600, None: 2000}},
}

# (day, child, unit, kind, unit price, amount) as GET /staff/invoices/{id} orders them: by day,
# child's name, unit.
P, ABS, MAJ, REG = "prestation", "absence_injustifiee", "majoration", "regularisation"
# Martin, QF 700 (T1, the bracket's upper bound). Lina: 7th present (journée + its repas +
# matin), 14th justified absence (nothing), 21st unjustified absence (journée at 50 %, repas in
# full), 28th present. Hugo: 7th and 14th present, 21st present without booking (8 € + 3 €).
MARTIN_LINES = [
    ("2026-10-07", "Hugo MARTIN", "journee", P, 800, 800),
    ("2026-10-07", "Hugo MARTIN", "repas", P, 250, 250),
    ("2026-10-07", "Lina MARTIN", "journee", P, 800, 800),
    ("2026-10-07", "Lina MARTIN", "matin", P, 150, 150),
    ("2026-10-07", "Lina MARTIN", "repas", P, 250, 250),
    ("2026-10-14", "Hugo MARTIN", "journee", P, 800, 800),
    ("2026-10-14", "Hugo MARTIN", "repas", P, 250, 250),
    ("2026-10-21", "Hugo MARTIN", "journee", MAJ, 1100, 1100),
    ("2026-10-21", "Lina MARTIN", "journee", ABS, 400, 400),
    ("2026-10-21", "Lina MARTIN", "repas", ABS, 250, 250),
    ("2026-10-28", "Lina MARTIN", "journee", P, 800, 800),
    ("2026-10-28", "Lina MARTIN", "repas", P, 250, 250),
]
MARTIN_TOTAL = 6100
# Lina's care without meals: 8 + 1,50 (7th) + 4 (21st, half) + 8 (28th).
LINA_CARE = 800 + 150 + 400 + 800
# Bernard, QF 1400 (T2, upper bound). Zoé: 7th and 14th present (matin on the 14th too), 21st
# unjustified absence, 28th booked then cancelled in time by the family (nothing).
BERNARD_LINES = [
    ("2026-10-07", "Zoé BERNARD", "journee", P, 1200, 1200),
    ("2026-10-07", "Zoé BERNARD", "repas", P, 400, 400),
    ("2026-10-14", "Zoé BERNARD", "journee", P, 1200, 1200),
    ("2026-10-14", "Zoé BERNARD", "matin", P, 200, 200),
    ("2026-10-14", "Zoé BERNARD", "repas", P, 400, 400),
    ("2026-10-21", "Zoé BERNARD", "journee", ABS, 600, 600),
    ("2026-10-21", "Zoé BERNARD", "repas", ABS, 400, 400),
]
BERNARD_TOTAL = 4400
# Petit, no QF: default prices. Nils: 7th and 21st present (matin on the 21st too).
PETIT_LINES = [
    ("2026-10-07", "Nils PETIT", "journee", P, 2000, 2000),
    ("2026-10-07", "Nils PETIT", "repas", P, 650, 650),
    ("2026-10-21", "Nils PETIT", "journee", P, 2000, 2000),
    ("2026-10-21", "Nils PETIT", "matin", P, 300, 300),
    ("2026-10-21", "Nils PETIT", "repas", P, 650, 650),
]
PETIT_TOTAL = 5600
LABELS = {"journee": "Journée", "repas": "Repas", "matin": "Accueil matin"}


@dataclass
class App:
    app: Any
    client: httpx.AsyncClient
    clock: FixedClock


@dataclass
class Family:
    id: uuid.UUID
    name: str
    children: dict[str, uuid.UUID]
    headers: dict[str, str]
    registrations: dict[str, uuid.UUID] = field(default_factory=dict)


@dataclass
class World:
    booking: App
    billing: App
    staff: dict[str, str]
    fed: int = 0  # booking outbox rows already handed to billing

    async def both(self, envelope: Envelope, source: str) -> None:
        """The same identity or enrolment envelope, through each service's own handler."""
        for handlers, app in ((booking_handlers, self.booking.app),
                              (billing_handlers, self.billing.app)):
            await getattr(handlers, f"{source}_events")(app.state.runtime)(envelope)

    async def booking_outbox(self) -> list[tuple[int, Envelope]]:
        async with self.booking.app.state.runtime.uow() as uow:
            rows = (await uow.session.execute(
                select(outbox_table(booking_metadata)).order_by("id"))).all()
        return [(r.id, Envelope.model_validate_json(r.envelope)) for r in rows]

    async def relay(self) -> list[Envelope]:
        """Booking's new outbox rows, in order, to billing's booking consumer (as the relay and
        Kafka would)."""
        consume = billing_handlers.booking_events(self.billing.app.state.runtime)
        sent = []
        for row_id, envelope in await self.booking_outbox():
            if row_id > self.fed:
                await consume(envelope)
                sent.append(envelope)
                self.fed = row_id
        return sent


@pytest.fixture
async def billing_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> str:
    """Billing's own database, of the same kind as `database_url` (booking's)."""
    if database_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / 'billing.sqlite3'}"
    return await create_pg_database(request.getfixturevalue("pg_base_url"), prefix="billing")


@pytest.fixture
async def world(database_url: str, billing_url: str):
    # One after the other: Alembic's context is process-global.
    await asyncio.to_thread(migrations.upgrade, BOOKING_MIGRATIONS, database_url)
    await asyncio.to_thread(migrations.upgrade, BILLING_MIGRATIONS, billing_url)
    booking_clock = FixedClock(paris(2026, 9, 28, 10))
    billing_clock = FixedClock(paris(2026, 11, 2, 10))
    booking = create_booking(BookingSettings(database_url=database_url, kafka_enabled=False),
                             clock=booking_clock)
    billing = create_billing(BillingSettings(database_url=billing_url, kafka_enabled=False,
                                             public_url="http://billing.test"),
                             clock=billing_clock)
    async with booking.router.lifespan_context(booking), \
            billing.router.lifespan_context(billing):
        booking.state.token_verifier = tokens.verifier()
        billing.state.token_verifier = tokens.verifier()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=booking),
                                     base_url="http://booking.test") as bc, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=billing),
                                  base_url="http://billing.test") as fc:
            yield World(App(booking, bc, booking_clock), App(billing, fc, billing_clock),
                        tokens.staff())


# --- facts of identity and enrolment ------------------------------------------------------------

async def _family(world: World, name: str, children: dict[str, date]) -> Family:
    family_id = uuid.uuid4()
    facts = [ChildFacts(child_id=uuid.uuid4(), first_name=first, last_name=name.upper(),
                        birth_date=born) for first, born in children.items()]
    await world.both(new_envelope(FamilyCreated(
        family_id=family_id, name=f"Famille {name}", email=f"{name.lower()}@example.org",
        children=facts), producer="identity", version=1), "identity")
    return Family(family_id, name, {c.first_name: c.child_id for c in facts},
                  tokens.parent(family_id))


async def _period(world: World) -> tuple[uuid.UUID, uuid.UUID]:
    period_id, group_id = uuid.uuid4(), uuid.uuid4()
    await world.both(new_envelope(PeriodPublished(
        period_id=period_id, facility_id=uuid.uuid4(), facility_name="CENTRE DE LOISIRS ALSH",
        activity_type_id=uuid.uuid4(), activity_type_name="Mercredi, vacances",
        activity_id=uuid.uuid4(), activity_name="AUTOMNE", label="Automne",
        start_date=date(2026, 10, 1), end_date=date(2026, 10, 31),
        opens_at=datetime(2000, 1, 1, tzinfo=UTC), closes_at=datetime(2100, 1, 1, tzinfo=UTC),
        groups=[GroupFacts(group_id=group_id, label="3-11 ans", min_age=3, max_age=11,
                           capacity=100)]), producer="enrolment", version=1), "enrolment")
    return period_id, group_id


async def _register(world: World, family: Family, child: str, period_id: uuid.UUID,
                    group_id: uuid.UUID) -> None:
    registration_id = uuid.uuid4()
    await world.both(new_envelope(RegistrationValidated(
        registration_id=registration_id, child_id=family.children[child],
        family_id=family.id, period_id=period_id, group_id=group_id,
        facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE", period_label="Automne",
        group_label="3-11 ans", start_date=date(2026, 10, 1), end_date=date(2026, 10, 31),
        status="validee", typical_week=[WeekdayUnits(weekday=3, units=["journee"])], memo=""),
        producer="enrolment", version=2), "enrolment")
    family.registrations[child] = registration_id


# --- booking's APIs -------------------------------------------------------------------------------

async def _change(world: World, family: Family, child: str, action: str,
                  *changes: tuple[date, str]) -> None:
    r = await world.booking.client.post(
        f"/families/{family.id}/registrations/{family.registrations[child]}/reservations",
        headers=family.headers, json={"changes": [
            {"day": d.isoformat(), "unit": u, "action": action} for d, u in changes]})
    assert r.status_code == 200, r.text
    assert all(x["ok"] for x in r.json()["results"]), r.json()


async def _roll_call(world: World, period_id: uuid.UUID, group_id: uuid.UUID, day: date,
                     *records: tuple[Family, str, str, str | None]) -> None:
    r = await world.booking.client.put(
        f"/staff/roll-calls/{period_id}/{group_id}/{day.isoformat()}", headers=world.staff,
        json={"records": [{"child_id": str(f.children[c]), "status": s, "reason": why}
                          for f, c, s, why in records]})
    assert r.status_code == 200, r.text


# --- billing's APIs -------------------------------------------------------------------------------

async def _catalogue(world: World) -> None:
    client, staff = world.billing.client, world.staff
    r = await client.put("/staff/brackets", headers=staff, json={"brackets": BRACKETS})
    assert r.status_code == 200, r.text
    r = await client.post("/staff/regies", headers=staff, json={
        "code": "ENFANCE", "name": "Régie Enfance", "payment_backend": "dummy"})
    assert r.status_code == 201, r.text
    for unit, t in TARIFFS.items():
        r = await client.post("/staff/tariffs", headers=staff, json={
            "regie_code": "ENFANCE", "activity_name": "AUTOMNE", "unit": unit,
            "valid_from": "2026-09-01",
            **{k: v for k, v in t.items() if k != "prices"},
            "prices": [{"bracket_code": b, "price_cents": c} for b, c in t["prices"].items()]})
        assert r.status_code == 201, r.text


async def _set_qf(world: World, family: Family, qf: int, bracket: str) -> None:
    r = await world.billing.client.put(
        f"/staff/families/{family.id}/profile", headers=world.staff,
        json={"qf": qf, "qf_date": "2026-01-15", "qf_source": "caf", "resident": True})
    assert r.status_code == 200, r.text
    assert r.json()["bracket_code"] == bracket


async def _run(world: World, month: str) -> dict[str, Any]:
    client = world.billing.client
    r = await client.post("/staff/runs", headers=world.staff,
                          json={"regie_code": "ENFANCE", "month": month})
    assert r.status_code == 202, r.text
    await wait_idle(world.billing.app)
    r = await client.get(f"/staff/runs/{r.json()['run_id']}", headers=world.staff)
    assert r.status_code == 200, r.text
    return r.json()


async def _finalise(world: World, run_id: str) -> dict[str, Any]:
    client = world.billing.client
    r = await client.post(f"/staff/runs/{run_id}/finalise", headers=world.staff)
    assert r.status_code == 200, r.text
    await wait_idle(world.billing.app)
    r = await client.get(f"/staff/runs/{run_id}", headers=world.staff)
    assert r.status_code == 200, r.text
    return r.json()


async def _invoices(world: World, run_id: str) -> dict[uuid.UUID, dict[str, Any]]:
    r = await world.billing.client.get(f"/staff/runs/{run_id}/invoices", headers=world.staff)
    assert r.status_code == 200, r.text
    return {uuid.UUID(i["family_id"]): i for i in r.json()["invoices"]}


async def _detail(world: World, invoice_id: str) -> dict[str, Any]:
    r = await world.billing.client.get(f"/staff/invoices/{invoice_id}", headers=world.staff)
    assert r.status_code == 200, r.text
    return r.json()


def _lines(detail: dict[str, Any]) -> list[tuple[Any, ...]]:
    assert all(ln["label"] == LABELS[ln["unit"]] + (" (présence sans réservation)"
                                                     if ln["kind"] == MAJ else "")
               and ln["activity_name"] == "AUTOMNE" and ln["quantity"] == 1
               for ln in detail["lines"]), detail["lines"]
    return [(ln["day"], ln["child_name"], ln["unit"], ln["kind"], ln["unit_price_cents"],
             ln["amount_cents"]) for ln in detail["lines"]]


async def _pay_cash(world: World, family: Family, cents: int) -> dict[str, Any]:
    r = await world.billing.client.post("/staff/payments", headers=world.staff, json={
        "family_id": str(family.id), "regie_code": "ENFANCE", "method": "especes",
        "amount_cents": cents, "received_on": world.billing.clock().date().isoformat()})
    assert r.status_code == 201, r.text
    return r.json()


# --- the acceptance test --------------------------------------------------------------------------

async def test_a_month_of_real_bookings_is_invoiced_credited_and_attested(world: World):
    # Households, the period and the validated registrations: the same envelopes to both.
    # Lina is 5 on 1 January 2026; Hugo turns 6 that very day (not « under 6 »).
    martin = await _family(world, "Martin", {"Lina": date(2020, 1, 2), "Hugo": date(2020, 1, 1)})
    bernard = await _family(world, "Bernard", {"Zoé": date(2018, 5, 1)})
    petit = await _family(world, "Petit", {"Nils": date(2017, 9, 9)})
    period_id, group_id = await _period(world)
    for family, child in ((martin, "Lina"), (martin, "Hugo"), (bernard, "Zoé"),
                          (petit, "Nils")):
        await _register(world, family, child, period_id, group_id)

    # The manager opens the calendar (journée implies the meal), 10 places per unit.
    r = await world.booking.client.put(f"/staff/calendars/{period_id}", headers=world.staff,
                                       json={"units": UNITS, "capacities": [
                                           {"group_id": str(group_id), "unit": u["code"],
                                            "capacity": 10} for u in UNITS]})
    assert r.status_code == 200, r.text

    # Monday 28 September: the families book October (before every deadline).
    await _change(world, martin, "Lina", "reserver", *[(OCT[d], "journee") for d in OCT],
                  (OCT[7], "matin"), (OCT[14], "matin"))
    await _change(world, martin, "Hugo", "reserver", (OCT[7], "journee"), (OCT[14], "journee"))
    await _change(world, bernard, "Zoé", "reserver", *[(OCT[d], "journee") for d in OCT],
                  (OCT[14], "matin"))
    await _change(world, petit, "Nils", "reserver", (OCT[7], "journee"), (OCT[21], "journee"),
                  (OCT[21], "matin"))
    # The next day Bernard cancels the 28th in time (journée and its meal): not billed.
    world.booking.clock.set(paris(2026, 9, 29, 9))
    await _change(world, bernard, "Zoé", "annuler", (OCT[28], "journee"))

    # Friday 30 October, evening: the roll calls of the month.
    world.booking.clock.set(paris(2026, 10, 30, 18))
    await _roll_call(world, period_id, group_id, OCT[7], (martin, "Lina", "present", None),
                     (martin, "Hugo", "present", None), (bernard, "Zoé", "present", None),
                     (petit, "Nils", "present", None))
    await _roll_call(world, period_id, group_id, OCT[14],
                     (martin, "Lina", "absent_justifie", "Maladie (certificat)"),
                     (martin, "Hugo", "present", None), (bernard, "Zoé", "present", None))
    await _roll_call(world, period_id, group_id, OCT[21],
                     (martin, "Lina", "absent_injustifie", None),
                     (martin, "Hugo", "present_sans_reservation", None),
                     (bernard, "Zoé", "absent_injustifie", None),
                     (petit, "Nils", "present", None))
    await _roll_call(world, period_id, group_id, OCT[28], (martin, "Lina", "present", None))

    # What booking really published reaches billing, in order.
    sent = await world.relay()
    kinds = [e.event_type for e in sent]
    # Booked: Lina 4 journées + their 4 meals + 2 matins, Hugo 2 + 2, Zoé 4 + 4 + 1, Nils
    # 2 + 2 + 1; one roll-call record per child and day.
    assert kinds.count("booking.reservation_confirmed") == 28
    assert kinds.count("booking.reservation_cancelled") == 2  # Zoé's 28th: journée and repas
    assert kinds.count("booking.attendance_recorded") == 12

    # Billing's catalogue and the families' QF: Martin at T1's upper bound, Bernard at T2's,
    # Petit unknown (default prices).
    await _catalogue(world)
    await _set_qf(world, martin, 700, "T1")
    await _set_qf(world, bernard, 1400, "T2")

    # --- October ----------------------------------------------------------------------------
    october = await _run(world, "2026-10")
    assert october["status"] == "brouillon", october
    assert (october["families_total"], october["invoices"], october["credit_notes"],
            october["lines"]) == (3, 3, 0, 24)
    assert october["total_cents"] == MARTIN_TOTAL + BERNARD_TOTAL + PETIT_TOTAL == 16100
    assert sorted((a["kind"], a["family_id"], a["day"]) for a in october["anomalies"]) == sorted([
        ("presence_sans_reservation", str(martin.id), "2026-10-21"),
        ("qf_inconnu", str(petit.id), None)])

    drafts = await _invoices(world, october["run_id"])
    assert set(drafts) == {martin.id, bernard.id, petit.id}
    for family, lines, total in ((martin, MARTIN_LINES, MARTIN_TOTAL),
                                 (bernard, BERNARD_LINES, BERNARD_TOTAL),
                                 (petit, PETIT_LINES, PETIT_TOTAL)):
        summary = drafts[family.id]
        assert (summary["kind"], summary["status"], summary["number"], summary["month"]) == (
            "facture", "brouillon", None, "2026-10")
        assert summary["total_cents"] == summary["balance_cents"] == total
        detail = await _detail(world, summary["invoice_id"])
        assert _lines(detail) == lines, family.name
        assert sum(ln[5] for ln in lines) == total

    october = await _finalise(world, october["run_id"])
    assert october["status"] == "finale"
    issued = await _invoices(world, october["run_id"])
    assert sorted(i["number"] for i in issued.values()) == [
        "F2610000001", "F2610000002", "F2610000003"]
    assert {(i["status"], i["issued_on"], i["due_on"], i["balance_cents"] == i["total_cents"])
            for i in issued.values()} == {("emise", "2026-11-02", "2026-12-02", True)}

    # --- a late cancellation by the structure, after the run ---------------------------------
    # Tuesday 3 November: staff cancel Zoé's matin of 14 October (booked, present, billed 2 €).
    world.booking.clock.set(paris(2026, 11, 3, 9))
    matin_14 = [e.payload["reservation_id"] for _, e in await world.booking_outbox()
                if e.event_type == "booking.reservation_confirmed"
                and e.payload["child_id"] == str(bernard.children["Zoé"])
                and e.payload["day"] == "2026-10-14" and e.payload["unit"] == "matin"]
    assert len(matin_14) == 1
    r = await world.booking.client.post(f"/staff/reservations/{matin_14[0]}/cancel",
                                        headers=world.staff)
    assert r.status_code == 204, r.text
    sent = await world.relay()
    assert [(e.event_type, e.aggregate_version, e.payload["cancelled_by"],
             e.payload["within_deadline"]) for e in sent] == [
        ("booking.reservation_cancelled", 2, "structure", False)]

    # November: nothing else for anyone; Bernard gets a credit note of 2 € for the 14th,
    # applied at once to his open October invoice.
    world.billing.clock.set(paris(2026, 11, 30, 10))
    november = await _run(world, "2026-11")
    assert (november["status"], november["invoices"], november["credit_notes"],
            november["lines"], november["total_cents"]) == ("brouillon", 0, 1, 1, -200)
    # Only what this run bills: October's presence without booking and unknown QF were October's.
    assert sorted((a["kind"], a["family_id"], a["day"]) for a in november["anomalies"]) == [
        ("avoir", str(bernard.id), None), ("regularisation", str(bernard.id), "2026-10-14")]
    credit = await _invoices(world, november["run_id"])
    assert set(credit) == {bernard.id}
    credit_detail = await _detail(world, credit[bernard.id]["invoice_id"])
    assert (credit_detail["kind"], credit_detail["total_cents"]) == ("avoir", 200)
    assert _lines(credit_detail) == [
        ("2026-10-14", "Zoé BERNARD", "matin", REG, -200, -200)]

    november = await _finalise(world, november["run_id"])
    assert november["status"] == "finale"
    credit_detail = await _detail(world, credit[bernard.id]["invoice_id"])
    assert (credit_detail["number"], credit_detail["status"], credit_detail["issued_on"],
            credit_detail["balance_cents"]) == ("AV2611000001", "emise", "2026-11-30", 0)
    bernard_october = await _detail(world, issued[bernard.id]["invoice_id"])
    assert (bernard_october["total_cents"], bernard_october["balance_cents"],
            bernard_october["status"]) == (BERNARD_TOTAL, BERNARD_TOTAL - 200, "emise")
    assert [(a["method"], a["credit_note_id"], a["amount_cents"])
            for a in bernard_october["allocations"]] == [
        ("avoir", credit_detail["invoice_id"], 200)]
    # The other families' October invoices are untouched.
    for family, total in ((martin, MARTIN_TOTAL), (petit, PETIT_TOTAL)):
        d = await _detail(world, issued[family.id]["invoice_id"])
        assert (d["balance_cents"], d["allocations"]) == (total, [])

    # --- cash at the desk in November 2026, then the fiscal attestation for 2026 -------------
    world.billing.clock.set(paris(2026, 11, 30, 11))
    for family, cents in ((martin, MARTIN_TOTAL), (bernard, BERNARD_TOTAL - 200),
                          (petit, PETIT_TOTAL)):
        paid = await _pay_cash(world, family, cents)
        assert paid["status"] == "acceptee" and paid["unallocated_cents"] == 0
        assert [(a["invoice_number"], a["amount_cents"]) for a in paid["allocations"]] == [
            (issued[family.id]["number"], cents)]
        assert (await _detail(world, issued[family.id]["invoice_id"]))["status"] == "payee"

    r = await world.billing.client.post(f"/families/{martin.id}/fiscal-attestations",
                                        headers=martin.headers, json={"year": 2026})
    assert r.status_code == 201, r.text
    attestation = r.json()
    # Only Lina (Hugo was 6 on 1 January 2026), her care without the meals, all paid in 2026.
    assert attestation["year"] == 2026
    assert attestation["total_cents"] == LINA_CARE == 2150
    assert attestation["children"] == [{
        "child_id": str(martin.children["Lina"]), "first_name": "Lina", "last_name": "MARTIN",
        "birth_date": "2020-01-02", "amount_cents": LINA_CARE}]
