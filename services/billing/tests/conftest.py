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
