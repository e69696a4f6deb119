"""Billing on a real database (SQLite and PostgreSQL): identity's, enrolment's and booking's facts
arrive through billing's real event handlers; tokens are verified by the real chassis verifier
(test key); the clock is a `FixedClock` the tests move.

Shared by every billing test module: `billing` (the app + client + helpers), `Billing.family`,
`Billing.period`, `Billing.reserve`, `Billing.cancel`, `Billing.attendance`, `Billing.outbox`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from marelle_chassis import migrations
from marelle_chassis.clock import FixedClock
from marelle_chassis.messaging_tables import outbox_table
from marelle_contracts import new_envelope
from marelle_contracts import booking as booking_events
from marelle_contracts.enrolment import GroupFacts, PeriodPublished
from marelle_contracts.identity import ChildFacts, FamilyCreated
from marelle_billing import handlers
from marelle_billing.config import BillingSettings
from marelle_billing.db import metadata
from marelle_billing.main import MIGRATIONS, create_app
from tests.support import tokens

PARIS = ZoneInfo("Europe/Paris")


def paris(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


@dataclass
class Family:
    id: uuid.UUID
    name: str
    children: dict[str, uuid.UUID]
    headers: dict[str, str]


@dataclass
class Period:
    id: uuid.UUID
    activity_name: str
    group_id: uuid.UUID
    start: date
    end: date


@dataclass
class Billing:
    client: httpx.AsyncClient
    app: Any
    clock: FixedClock
    staff: dict[str, str]
    _versions: dict[uuid.UUID, int] = field(default_factory=dict)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def family(self, name: str, children: dict[str, date] | list[str],
                     email: str | None = None) -> Family:
        """A household through identity's FamilyCreated, applied by billing's own handler."""
        if isinstance(children, list):
            children = {c: date(2018, 5, 1) for c in children}
        family_id = uuid.uuid4()
        facts = [ChildFacts(child_id=uuid.uuid4(), first_name=first, last_name=name.upper(),
                            birth_date=born) for first, born in children.items()]
        await handlers.identity_events(self.runtime)(new_envelope(
            FamilyCreated(family_id=family_id, name=f"Famille {name}", children=facts,
                          email=email or f"{name.lower()}@example.org"),
            producer="identity", version=1))
        return Family(family_id, name, {c.first_name: c.child_id for c in facts},
                      tokens.parent(family_id))

    async def period(self, start: date, end: date, activity_name: str = "AUTOMNE",
                     label: str = "Automne") -> Period:
        """A period of enrolment's catalogue, through its PeriodPublished event."""
        group_id, period_id = uuid.uuid4(), uuid.uuid4()
        await handlers.enrolment_events(self.runtime)(new_envelope(PeriodPublished(
            period_id=period_id, facility_id=uuid.uuid4(), facility_name="CENTRE DE LOISIRS ALSH",
            activity_type_id=uuid.uuid4(), activity_type_name="Mercredi, vacances",
            activity_id=uuid.uuid4(), activity_name=activity_name, label=label,
            start_date=start, end_date=end, opens_at=datetime(2000, 1, 1, tzinfo=UTC),
            closes_at=datetime(2100, 1, 1, tzinfo=UTC),
            groups=[GroupFacts(group_id=group_id, label="6-8 ans", min_age=3, max_age=12,
                               capacity=100)]), producer="enrolment", version=1))
        return Period(period_id, activity_name, group_id, start, end)

    async def booking_event(self, payload: Any, version: int) -> None:
        await handlers.booking_events(self.runtime)(
            new_envelope(payload, producer="booking", version=version))

    def _facts(self, family: Family, child: str, period: Period, day: date, unit: str,
               reservation_id: uuid.UUID, registration_id: uuid.UUID | None) -> dict[str, Any]:
        return {"reservation_id": reservation_id,
                "registration_id": registration_id or uuid.uuid5(period.id, child + family.name),
                "child_id": family.children[child], "family_id": family.id,
                "period_id": period.id, "group_id": period.group_id, "day": day, "unit": unit,
                "unit_label": unit.capitalize()}

    async def reserve(self, family: Family, child: str, period: Period, day: date,
                      unit: str = "repas", registration_id: uuid.UUID | None = None
                      ) -> uuid.UUID:
        """booking.reservation_confirmed (version 1)."""
        rid = uuid.uuid4()
        await self.booking_event(booking_events.ReservationConfirmed(
            **self._facts(family, child, period, day, unit, rid, registration_id),
            status=booking_events.ReservationStatus.BOOKED), version=1)
        self._versions[rid] = 1
        return rid

    async def cancel(self, family: Family, child: str, period: Period, day: date,
                     reservation_id: uuid.UUID, unit: str = "repas", *, by: str = "famille",
                     within_deadline: bool = True) -> None:
        """booking.reservation_cancelled (next version of that reservation)."""
        version = self._versions.get(reservation_id, 1) + 1
        self._versions[reservation_id] = version
        await self.booking_event(booking_events.ReservationCancelled(
            **self._facts(family, child, period, day, unit, reservation_id, None),
            status=booking_events.ReservationStatus.CANCELLED, cancelled_by=by,
            cancelled_at=self.clock(), within_deadline=within_deadline), version=version)

    async def attendance(self, family: Family, child: str, period: Period, day: date,
                         status: str, reason: str | None = None) -> uuid.UUID:
        """booking.attendance_recorded: present, absent_justifie, absent_injustifie,
        present_sans_reservation."""
        aid = uuid.uuid4()
        await self.booking_event(booking_events.AttendanceRecorded(
            attendance_id=aid, child_id=family.children[child], family_id=family.id,
            period_id=period.id, group_id=period.group_id, day=day,
            status=booking_events.AttendanceStatus(status), reason=reason,
            recorded_by=uuid.uuid4()), version=1)
        return aid

    async def outbox(self, prefix: str = "billing.") -> list[tuple[str, int | None, dict]]:
        """[(event type, aggregate_version, payload)] in the order they were written."""
        async with self.runtime.uow() as uow:
            rows = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
        out = []
        for r in rows:
            env = json.loads(r.envelope)
            if r.event_type.startswith(prefix):
                out.append((r.event_type, env.get("aggregate_version"), env["payload"]))
        return out

    async def rows(self, table: Any, *where: Any) -> list[Any]:
        async with self.runtime.uow() as uow:
            return list((await uow.session.execute(select(table).where(*where))).all())


@pytest.fixture
async def billing(database_url: str):
    """The billing app on a migrated database, its clock fixed at Monday 2 November 2026, 10:00
    Paris (move it with `billing.clock.set(...)`), the sandbox bank on."""
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    clock = FixedClock(paris(2026, 11, 2, 10))
    app = create_app(BillingSettings(database_url=database_url, kafka_enabled=False,
                                     payment_sandbox=True, public_url="http://billing.test"),
                     clock=clock)
    async with app.router.lifespan_context(app):
        app.state.token_verifier = tokens.verifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billing.test") as client:
            yield Billing(client, app, clock, tokens.staff())


# --- money written directly (accounts, attestations, imports, reports tests) ---------------------
# Runs and payments have their own use cases; these helpers put issued invoices, their lines and
# accepted payments in the database so that the read side can be tested on its own. Money still
# reaches invoices through the ledger's `allocate`.

async def seed_regie(billing: Billing, code: str = "ENFANCE", name: str = "Régie Enfance", *,
                     partial: bool = True, prefix: str = "F") -> uuid.UUID:
    from marelle_billing.db import regie

    regie_id = uuid.uuid4()
    async with billing.runtime.uow() as uow:
        await uow.session.execute(regie.insert().values(
            regie_id=regie_id, code=code, name=name, invoice_prefix=prefix, credit_prefix="AV",
            partial_payment_allowed=partial, due_days=30, payment_backend="dummy",
            payment_options="{}", version=1, updated_at=billing.clock()))
        await uow.commit()
    return regie_id


async def seed_invoice(billing: Billing, family: Family, regie_id: uuid.UUID, number: str,
                       issued_on: date, lines: list[dict[str, Any]], *, kind: str = "facture",
                       month: str | None = None, status: str = "emise") -> uuid.UUID:
    """An issued invoice (or credit note: negative lines, as runs write them) with its lines: each
    line a dict with at least `amount_cents` (optional: child (first name), label, activity_name, day, unit, meal,
    registration_id, quantity)."""
    from marelle_billing.db import invoice, invoice_line

    invoice_id = uuid.uuid4()
    async with billing.runtime.uow() as uow:
        await uow.session.execute(invoice.insert().values(
            invoice_id=invoice_id, regie_id=regie_id, family_id=family.id, run_id=None,
            kind=kind, number=number, month=month, issued_on=issued_on, due_on=None,
            status=status, total_cents=abs(sum(ln["amount_cents"] for ln in lines)),
            settled_cents=0, imported=False, label=None, version=1, created_at=billing.clock()))
        for ln in lines:
            child = ln.get("child")
            quantity = ln.get("quantity", 1)
            await uow.session.execute(invoice_line.insert().values(
                line_id=uuid.uuid4(), invoice_id=invoice_id,
                child_id=family.children[child] if child else None,
                child_name=f"{child} {family.name.upper()}" if child else None,
                registration_id=ln.get("registration_id"),
                activity_name=ln.get("activity_name", "AUTOMNE"), day=ln.get("day"),
                unit=ln.get("unit", "journee"), label=ln.get("label", "Journée"),
                kind=ln.get("kind", "prestation"), meal=ln.get("meal", False),
                quantity=quantity, unit_price_cents=ln["amount_cents"] // quantity,
                amount_cents=ln["amount_cents"], source_key=None))
        await uow.commit()
    return invoice_id


async def seed_payment(billing: Billing, family: Family, regie_id: uuid.UUID,
                       allocations: list[tuple[uuid.UUID, int]], at: datetime, *,
                       method: str = "especes", unallocated: int = 0,
                       receipt: str | None = None) -> uuid.UUID:
    """An accepted payment spread over invoices through the ledger (`allocate`)."""
    from marelle_billing.db import payment
    from marelle_billing.usecases.ledger import allocate

    payment_id = uuid.uuid4()
    async with billing.runtime.uow() as uow:
        await uow.session.execute(payment.insert().values(
            payment_id=payment_id, family_id=family.id, regie_id=regie_id, method=method,
            status="acceptee", amount_cents=sum(a for _, a in allocations) + unallocated,
            invoice_id=None, backend=None, transaction_id=None,
            receipt_number=receipt or f"R{payment_id.hex[:10]}", details="{}", message=None,
            unallocated_cents=unallocated, received_on=at.date(), received_at=at,
            recorded_by=None, collection_id=None, version=1, created_at=at))
        for invoice_id, amount in allocations:
            assert await allocate(uow, invoice_id, amount, at=at, payment_id=payment_id)
        await uow.commit()
    return payment_id


async def seed_credit_use(billing: Billing, credit_note_id: uuid.UUID, invoice_id: uuid.UUID,
                          amount: int, at: datetime) -> None:
    """Part of a credit note used against an invoice (ledger `allocate`, credit note settled)."""
    from sqlalchemy import update

    from marelle_billing.db import invoice
    from marelle_billing.usecases.ledger import allocate

    async with billing.runtime.uow() as uow:
        assert await allocate(uow, invoice_id, amount, at=at, credit_note_id=credit_note_id)
        await uow.session.execute(update(invoice).where(invoice.c.invoice_id == credit_note_id)
                                  .values(settled_cents=invoice.c.settled_cents + amount))
        await uow.commit()


# --- payments tests: a régie made on demand and issued invoices written directly ----------------

async def payment_regie(billing: Billing, code: str = "ENFANCE", *, partial: bool = False,
                        backend: str = "dummy", options: dict[str, str] | None = None,
                        creditor: bool = False) -> uuid.UUID:
    """The régie `code` (created when absent): payment backend, partial payments, SEPA creditor."""
    from marelle_billing.db import regie

    async with billing.runtime.uow() as uow:
        found = await uow.session.scalar(select(regie.c.regie_id).where(regie.c.code == code))
        if found is not None:
            return found
        regie_id = uuid.uuid4()
        extra = ({"creditor_name": "Ville de Marelle",
                  "creditor_iban": "FR7630006000011234567890189",
                  "creditor_bic": "AGRIFRPP882", "creditor_id": "FR12ZZZ123456"}
                 if creditor else {})
        await uow.session.execute(regie.insert().values(
            regie_id=regie_id, code=code, name=f"Régie {code.capitalize()}", invoice_prefix="F",
            credit_prefix="AV", partial_payment_allowed=partial, due_days=30,
            payment_backend=backend, payment_options=json.dumps(options or {}), version=1,
            updated_at=billing.clock(), **extra))
        await uow.commit()
    return regie_id


async def issued_invoice(billing: Billing, family: Family, cents: int, regie_code: str = "ENFANCE",
                         *, issued_on: date = date(2026, 11, 1), number: str | None = None,
                         **regie_options: Any) -> uuid.UUID:
    """An issued invoice of `cents` for the family in the régie (made if needed)."""
    regie_id = await payment_regie(billing, regie_code, **regie_options)
    number = number or f"F2611{uuid.uuid4().int % 10**6:06d}"
    return await seed_invoice(billing, family, regie_id, number, issued_on,
                              [{"amount_cents": cents}], month="2026-10")


def pdf_text(document: bytes) -> str:
    """A PDF's text, its no-break spaces (Babel's, in « 40,00 € ») made plain."""
    import io

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(document)).pages)
    return text.replace("\u202f", " ").replace("\xa0", " ")


# --- catalogue and runs (test_catalogue, test_profiles, test_runs, test_invoicing) --------------
# Brackets T1 0–700, T2 701–1400, T3 1401+; régie ENFANCE (F / AV, 30 days); for activity
# AUTOMNE: « repas » (meal) and « journee » (unbooked presence + 3,00 € surcharge, unjustified
# absence billed at 50 %). Prices in cents, see CATALOGUE_PRICES.

CATALOGUE_PRICES = {
    "repas": [{"bracket_code": "T1", "price_cents": 250}, {"bracket_code": "T2", "price_cents": 400},
              {"bracket_code": "T2", "resident": False, "price_cents": 480},
              {"bracket_code": "T3", "price_cents": 550}, {"bracket_code": None, "price_cents": 650}],
    "journee": [{"bracket_code": "T1", "price_cents": 800},
                {"bracket_code": "T2", "price_cents": 1200},
                {"bracket_code": "T2", "resident": False, "price_cents": 1500},
                {"bracket_code": "T3", "price_cents": 1600},
                {"bracket_code": None, "price_cents": 2000}],
}


async def setup_tariffs(billing: Billing, regie_code: str = "ENFANCE",
                        activity: str = "AUTOMNE") -> dict[str, Any]:
    """Brackets, the régie and its two tariffs through the staff API; returns the tariffs."""
    r = await billing.client.put("/staff/brackets", headers=billing.staff, json={"brackets": [
        {"code": "T1", "label": "Tranche 1", "qf_min": 0, "qf_max": 700},
        {"code": "T2", "label": "Tranche 2", "qf_min": 701, "qf_max": 1400},
        {"code": "T3", "label": "Tranche 3", "qf_min": 1401}]})
    assert r.status_code == 200, r.text
    r = await billing.client.post("/staff/regies", headers=billing.staff, json={
        "code": regie_code, "name": "Régie Enfance", "payment_backend": "dummy"})
    assert r.status_code == 201, r.text
    out = {}
    for unit, extra in (("repas", {"label": "Repas", "meal": True}),
                        ("journee", {"label": "Journée", "unbooked_presence": True,
                                     "surcharge_cents": 300,
                                     "unjustified_absence_percent": 50})):
        r = await billing.client.post("/staff/tariffs", headers=billing.staff, json={
            "regie_code": regie_code, "activity_name": activity, "unit": unit,
            "valid_from": "2025-01-01", "prices": CATALOGUE_PRICES[unit], **extra})
        assert r.status_code == 201, r.text
        out[unit] = r.json()
    return out


async def set_qf(billing: Billing, family: Family, qf: int | None, *,
                 resident: bool = True) -> dict[str, Any]:
    r = await billing.client.put(f"/staff/families/{family.id}/profile", headers=billing.staff,
                                 json={"qf": qf, "qf_date": "2026-01-15", "qf_source": "caf",
                                       "resident": resident})
    assert r.status_code == 200, r.text
    return r.json()


async def run_month(billing: Billing, month: str, regie_code: str = "ENFANCE") -> dict[str, Any]:
    """POST /staff/runs, wait for the background computation, the run as GET gives it."""
    from marelle_billing.runner import wait_idle

    r = await billing.client.post("/staff/runs", headers=billing.staff,
                                  json={"regie_code": regie_code, "month": month})
    assert r.status_code == 202, r.text
    await wait_idle(billing.app)
    r = await billing.client.get(f"/staff/runs/{r.json()['run_id']}", headers=billing.staff)
    assert r.status_code == 200, r.text
    return r.json()


async def finalise_run(billing: Billing, run_id: str) -> dict[str, Any]:
    from marelle_billing.runner import wait_idle

    r = await billing.client.post(f"/staff/runs/{run_id}/finalise", headers=billing.staff)
    assert r.status_code == 200, r.text
    await wait_idle(billing.app)
    r = await billing.client.get(f"/staff/runs/{run_id}", headers=billing.staff)
    assert r.status_code == 200, r.text
    return r.json()
