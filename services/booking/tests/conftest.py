"""Booking on a real database (SQLite and PostgreSQL): identity's and enrolment's facts arrive
through booking's real event handlers; tokens are verified by the real chassis verifier (test
key); the clock is a `FixedClock` the tests move.

Shared with every booking test module (reservations, calendars, shuttles, roll calls…):
`booking` (the app + client + helpers), `Booking.family`, `Booking.period`,
`Booking.register`, `Booking.configure`, `Booking.outbox`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from marelle_chassis import migrations
from marelle_chassis.messaging_tables import outbox_table
from marelle_contracts import new_envelope
from marelle_contracts.enrolment import (
    GroupFacts,
    PeriodPublished,
    RegistrationCancelled,
    RegistrationRefused,
    RegistrationValidated,
    WeekdayUnits,
)
from marelle_contracts.identity import ChildFacts, FamilyCreated
from marelle_booking import handlers
from marelle_booking.clock import FixedClock
from marelle_booking.config import BookingSettings
from marelle_booking.db import metadata
from marelle_booking.main import MIGRATIONS, create_app
from tests.support import tokens

PARIS = ZoneInfo("Europe/Paris")

# The guide's units: « Accueils », « Suppléments », « Journée » (journée implies the meal).
UNITS = [
    {"code": "matin", "label": "Accueil matin", "kind": "accueil"},
    {"code": "soir", "label": "Accueil soir", "kind": "accueil"},
    {"code": "repas", "label": "Repas", "kind": "supplement"},
    {"code": "journee", "label": "Journée", "kind": "journee", "implies": ["repas"]},
]


def paris(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PARIS)


@dataclass
class Family:
    id: uuid.UUID
    children: dict[str, uuid.UUID]
    headers: dict[str, str]


@dataclass
class Period:
    id: uuid.UUID
    groups: dict[str, uuid.UUID]
    start: date
    end: date


@dataclass
class Registration:
    id: uuid.UUID
    family: Family
    child: str
    period: Period
    group_id: uuid.UUID
    version: int = 1

    @property
    def base(self) -> str:
        return f"/families/{self.family.id}/registrations/{self.id}"


@dataclass
class Booking:
    client: httpx.AsyncClient
    app: Any
    clock: FixedClock
    staff: dict[str, str]
    _facts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)

    async def enrolment_event(self, payload: Any, version: int | None = None,
                              occurred_at: datetime | None = None) -> None:
        await handlers.enrolment_events(self.app.state.runtime)(
            new_envelope(payload, producer="enrolment", version=version,
                         occurred_at=occurred_at))

    async def family(self, name: str, children: list[str] | dict[str, date]) -> Family:
        """A household through identity's FamilyCreated, applied by booking's own handler."""
        if isinstance(children, list):
            children = {c: date(2018, 5, 1) for c in children}
        family_id = uuid.uuid4()
        facts = [ChildFacts(child_id=uuid.uuid4(), first_name=first, last_name=name,
                            birth_date=born) for first, born in children.items()]
        await handlers.identity_events(self.app.state.runtime)(new_envelope(
            FamilyCreated(family_id=family_id, name=f"Famille {name}", children=facts),
            producer="identity", version=1))
        return Family(family_id, {c.first_name: c.child_id for c in facts},
                      tokens.parent(family_id))

    async def period(self, start: date, end: date, groups: tuple[str, ...] = ("6-8 ans Rémond",),
                     label: str = "Automne") -> Period:
        """A period of enrolment's catalogue, through its PeriodPublished event."""
        ids = {g: uuid.uuid4() for g in groups}
        period_id = uuid.uuid4()
        await self.enrolment_event(PeriodPublished(
            period_id=period_id, facility_id=uuid.uuid4(), facility_name="CENTRE DE LOISIRS ALSH",
            activity_type_id=uuid.uuid4(), activity_type_name="Mercredi, vacances",
            activity_id=uuid.uuid4(), activity_name="AUTOMNE", label=label,
            start_date=start, end_date=end, opens_at=datetime(2000, 1, 1, tzinfo=UTC),
            closes_at=datetime(2100, 1, 1, tzinfo=UTC),
            groups=[GroupFacts(group_id=i, label=g, min_age=3, max_age=12, capacity=100)
                    for g, i in ids.items()]), version=1)
        return Period(period_id, ids, start, end)

    def _registration_facts(self, reg: Registration, status: str) -> dict[str, Any]:
        return {"registration_id": reg.id, "child_id": reg.family.children[reg.child],
                "family_id": reg.family.id, "period_id": reg.period.id,
                "group_id": reg.group_id, "facility_name": "CENTRE DE LOISIRS ALSH",
                "activity_name": "AUTOMNE", "period_label": "Automne",
                "group_label": next(g for g, i in reg.period.groups.items() if i == reg.group_id),
                "start_date": reg.period.start, "end_date": reg.period.end, "status": status,
                "typical_week": [WeekdayUnits(weekday=3, units=["journee"])],
                "memo": "Allergie aux arachides."}

    async def register(self, family: Family, child: str, period: Period,
                       group: str | None = None, version: int = 2) -> Registration:
        """A validated registration, through enrolment's RegistrationValidated (with version)."""
        group_id = period.groups[group] if group else next(iter(period.groups.values()))
        reg = Registration(uuid.uuid4(), family, child, period, group_id, version)
        await self.enrolment_event(RegistrationValidated(**self._registration_facts(
            reg, "validee")), version=version)
        return reg

    async def cancel_registration(self, reg: Registration, version: int | None = None,
                                  refused: bool = False, at: datetime | None = None) -> None:
        reg.version = version or reg.version + 1
        if refused:
            event: Any = RegistrationRefused(**self._registration_facts(reg, "refusee"),
                                             reason="Dossier incomplet.")
        else:
            event = RegistrationCancelled(**self._registration_facts(reg, "annulee"),
                                          cancelled_by="famille")
        await self.enrolment_event(event, version=reg.version, occurred_at=at or self.clock())

    async def configure(self, period: Period, *, capacity: int | dict[str, int] = 10,
                        **settings: Any) -> httpx.Response:
        """PUT /staff/calendars/{period}: every unit of every group gets `capacity` places
        (or per unit), unless `capacities` is given."""
        body: dict[str, Any] = {"units": UNITS, **settings}
        if "capacities" not in body:
            caps = capacity if isinstance(capacity, dict) else {u["code"]: capacity
                                                                 for u in body["units"]}
            body["capacities"] = [{"group_id": str(g), "unit": u, "capacity": c}
                                  for g in period.groups.values() for u, c in caps.items()]
        r = await self.client.put(f"/staff/calendars/{period.id}", json=_jsonable(body),
                                  headers=self.staff)
        assert r.status_code == 200, r.text
        return r

    async def change(self, reg: Registration, *changes: tuple[date, str, str],
                     headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
        body = {"changes": [{"day": d.isoformat(), "unit": u, "action": a, **extra}
                            for d, u, a in changes]}
        return await self.client.post(f"{reg.base}/reservations", json=body,
                                      headers=headers or reg.family.headers)

    async def book(self, reg: Registration, day: date, unit: str = "repas") -> dict[str, Any]:
        r = await self.change(reg, (day, unit, "reserver"))
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    async def cancel(self, reg: Registration, day: date, unit: str = "repas") -> dict[str, Any]:
        r = await self.change(reg, (day, unit, "annuler"))
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    async def outbox(self) -> dict[str, list[tuple[str, int | None, dict[str, Any]]]]:
        """Reservation id → [(event type without prefix, aggregate_version, payload)]."""
        async with self.app.state.runtime.uow() as uow:
            rows = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
        out: dict[str, list[tuple[str, int | None, dict[str, Any]]]] = defaultdict(list)
        for r in rows:
            env = json.loads(r.envelope)
            rid = env["payload"].get("reservation_id")
            if rid:
                out[rid].append((r.event_type.removeprefix("booking.reservation_"),
                                 env.get("aggregate_version"), env["payload"]))
        return out

    async def rows(self, table: Any, *where: Any) -> list[Any]:
        async with self.app.state.runtime.uow() as uow:
            return list((await uow.session.execute(select(table).where(*where))).all())


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, time, uuid.UUID)):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


@pytest.fixture
async def booking(database_url: str):
    """The booking app on a migrated database, its clock fixed at Monday 5 October 2026, 10:00
    Paris (move it with `booking.clock.set(...)`)."""
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    clock = FixedClock(paris(2026, 10, 5, 10))
    # The opening queue's decider is woken by each ticket; no polling in the background, which
    # would add its statements to the tests that count them.
    app = create_app(BookingSettings(database_url=database_url, kafka_enabled=False,
                                     queue_poll_seconds=3600), clock=clock)
    async with app.router.lifespan_context(app):
        app.state.token_verifier = tokens.verifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking.test") as client:
            yield Booking(client, app, clock, tokens.staff())
