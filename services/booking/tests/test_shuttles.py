"""« Mes navettes »: lines (staff), bookings on booked days only, seats under concurrency,
cancellation frees a seat, events through the outbox; on SQLite and PostgreSQL.

The fixtures here (`world`) are also used by test_roll_call, test_views and test_feeds: identity's
facts arrive through the real handlers; the copies and reservations that the booking core writes
are inserted with SQL (these tests only read them)."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import func, insert, select

from marelle_booking import handlers
from marelle_booking.clock import FixedClock
from marelle_booking.config import BookingSettings
from marelle_booking.db import (
    calendar,
    day_capacity,
    metadata,
    period_copy,
    registration_copy,
    reservation,
    shuttle_booking,
    shuttle_seat,
    unit_capacity,
)
from marelle_booking.main import MIGRATIONS, create_app
from marelle_chassis import migrations
from marelle_chassis.messaging_tables import outbox_table
from marelle_contracts import new_envelope
from marelle_contracts.identity import ChildFacts, FamilyCreated
from tests.support import tokens

START = date(2026, 10, 19)  # a Monday
END = date(2026, 10, 30)
NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
UNITS = [{"code": "matin", "label": "Accueil matin", "kind": "accueil", "implies": []},
         {"code": "repas", "label": "Repas", "kind": "supplement", "implies": []},
         {"code": "journee", "label": "Journée", "kind": "journee", "implies": ["repas"]}]
_seq = itertools.count(1)


@dataclass
class Family:
    id: uuid.UUID
    children: dict[str, uuid.UUID]
    headers: dict[str, str]


@dataclass
class World:
    client: httpx.AsyncClient
    app: object
    clock: FixedClock
    staff: dict[str, str]
    period_id: uuid.UUID = field(default_factory=uuid.uuid4)
    groups: dict[str, uuid.UUID] = field(default_factory=dict)

    def uow(self):
        return self.app.state.runtime.uow()

    async def execute(self, *statements) -> None:
        async with self.uow() as uow:
            for stmt in statements:
                await uow.session.execute(stmt)
            await uow.commit()

    async def scalar(self, stmt):
        async with self.uow() as uow:
            return await uow.session.scalar(stmt)

    async def family(self, name: str, *children: str) -> Family:
        family_id = uuid.uuid4()
        facts = [ChildFacts(child_id=uuid.uuid4(), first_name=first, last_name=name,
                            birth_date=date(2018, 3, 1)) for first in children]
        event = FamilyCreated(family_id=family_id, name=f"Famille {name}", children=facts)
        await handlers.identity_events(self.app.state.runtime)(
            new_envelope(event, producer="identity"))
        return Family(family_id, {c.first_name: c.child_id for c in facts},
                      tokens.parent(family_id))

    async def period(self, *group_labels: str, capacity: int | None = 10,
                     with_calendar: bool = True) -> None:
        self.groups = {label: uuid.uuid4() for label in group_labels or ("6-8 ans Rémond",)}
        statements = [insert(period_copy).values(
            period_id=self.period_id, facility_name="Centre de loisirs",
            activity_type_name="Mercredi, vacances", activity_name="AUTOMNE",
            label="Automne 2026", start_date=START, end_date=END, closed=False,
            groups=json.dumps([{"group_id": str(g), "label": label, "min_age": 6, "max_age": 8,
                                "capacity": 20, "closed": False}
                               for label, g in self.groups.items()]),
            revision=1, updated_at=NOW, version=1)]
        if with_calendar:
            statements.append(insert(calendar).values(
                period_id=self.period_id, weekdays="[1, 2, 3, 4, 5]", added_dates="[]",
                removed_dates="[]", skip_public_holidays=True, skip_school_holidays=False,
                school_zone=None, booking_deadline_days=1, booking_deadline_working=False,
                booking_cutoff=time(15), cancellation_deadline_days=1,
                cancellation_deadline_working=False, cancellation_cutoff=time(15),
                horizon_days=None, families_may_modify=True, week_only=False,
                memo="Attention les inscriptions sont à la semaine.", units=json.dumps(UNITS),
                version=1, updated_at=NOW))
            if capacity is not None:
                statements += [insert(unit_capacity).values(
                    period_id=self.period_id, group_id=g, unit=u["code"], capacity=capacity)
                    for g in self.groups.values() for u in UNITS]
        await self.execute(*statements)

    def group(self, label: str | None = None) -> uuid.UUID:
        return self.groups[label] if label else next(iter(self.groups.values()))

    async def day_capacity(self, group_id: uuid.UUID, unit: str, day: date, capacity: int):
        await self.execute(insert(day_capacity).values(
            period_id=self.period_id, group_id=group_id, unit=unit, day=day, capacity=capacity))

    async def registration(self, family: Family, child: str, *, group: str | None = None,
                           memo: str = "", status: str = "validee") -> uuid.UUID:
        reg_id = uuid.uuid4()
        await self.execute(insert(registration_copy).values(
            registration_id=reg_id, child_id=family.children[child], family_id=family.id,
            period_id=self.period_id, group_id=self.group(group), facility_name="Centre de loisirs",
            activity_name="AUTOMNE", period_label="Automne 2026",
            group_label=group or next(iter(self.groups)), start_date=START, end_date=END,
            status=status, typical_week="[]", revision=1, updated_at=NOW, version=1, memo=memo))
        return reg_id

    async def book(self, reg_id: uuid.UUID, days: list[date], units: list[str],
                   status: str = "reservee", group: str | None = None) -> None:
        async with self.uow() as uow:
            reg = (await uow.session.execute(select(registration_copy).where(
                registration_copy.c.registration_id == reg_id))).one()
            for day in days:
                for unit in units:
                    await uow.session.execute(insert(reservation).values(
                        id=uuid.uuid4(), registration_id=reg_id, child_id=reg.child_id,
                        family_id=reg.family_id, period_id=reg.period_id,
                        group_id=self.group(group) if group else reg.group_id, unit=unit,
                        day=day, status=status, requested_at=NOW, seq=next(_seq), version=1,
                        cancelled_at=NOW if status == "annulee" else None))
            await uow.commit()

    async def events(self, event_type: str) -> list[dict]:
        async with self.uow() as uow:
            rows = (await uow.session.execute(select(outbox_table(metadata)).where(
                outbox_table(metadata).c.event_type == event_type).order_by("id"))).all()
        return [json.loads(r.envelope) for r in rows]


@pytest.fixture
async def world(database_url: str):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    clock = FixedClock(NOW)
    # No background polling of the opening queue (test_views counts the statements).
    app = create_app(BookingSettings(database_url=database_url, kafka_enabled=False,
                                     queue_poll_seconds=3600), clock=clock)
    async with app.router.lifespan_context(app):
        app.state.token_verifier = tokens.verifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking.test") as client:
            yield World(client, app, clock, tokens.staff())


# --- helpers of this file -------------------------------------------------------------------

LINE = {"name": "Ligne 1", "seats": 10, "stops": [
    {"name": "Mairie", "morning_time": "08:05", "evening_time": "17:30"},
    {"name": "École Jules Ferry", "morning_time": "08:15"}]}


async def new_line(world: World, **changes) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    r = await world.client.post("/staff/shuttle-lines", headers=world.staff,
                                json={"period_id": str(world.period_id), **LINE, **changes})
    assert r.status_code == 201, r.text
    line_id = uuid.UUID(r.json()["id"])
    lines = (await world.client.get("/staff/shuttle-lines", headers=world.staff,
                                    params={"period_id": str(world.period_id)})).json()["items"]
    line = next(item for item in lines if item["line_id"] == str(line_id))
    return line_id, {s["name"]: uuid.UUID(s["stop_id"]) for s in line["stops"]}


async def shuttle(world: World, fam: Family, reg_id: uuid.UUID, stop_id: uuid.UUID,
                  days: list[date], directions=("aller",), action="reserver") -> list[dict]:
    r = await world.client.post(
        f"/families/{fam.id}/registrations/{reg_id}/shuttles", headers=fam.headers,
        json={"stop_id": str(stop_id), "directions": list(directions),
              "days": [d.isoformat() for d in days], "action": action})
    assert r.status_code == 200, r.text
    return r.json()["results"]


# --- tests ----------------------------------------------------------------------------------

async def test_staff_manage_lines_and_parents_see_them(world: World):
    await world.period()
    line_id, stops = await new_line(world)
    assert list(stops) == ["Mairie", "École Jules Ferry"]

    r = await world.client.post("/staff/shuttle-lines", headers=world.staff,
                                json={"period_id": str(uuid.uuid4()), **LINE})
    assert r.status_code == 422 and "période" in r.json()["detail"]
    r = await world.client.post("/staff/shuttle-lines", headers=world.staff, json={
        "period_id": str(world.period_id), "name": "X", "seats": 3,
        "stops": [{"name": "Sans horaire"}]})
    assert r.status_code == 422 and "aucun horaire" in r.json()["detail"]

    # Renamed, one more seat, a stop added: the kept stop keeps its id.
    r = await world.client.put(f"/staff/shuttle-lines/{line_id}", headers=world.staff, json={
        "period_id": str(world.period_id), "name": "Ligne 1 (bis)", "seats": 11,
        "stops": [{"name": "Mairie", "morning_time": "08:00", "evening_time": "17:30"},
                  {"name": "Gare", "morning_time": "08:20", "evening_time": "17:10"}]})
    assert r.status_code == 204, r.text
    r = await world.client.put(f"/staff/shuttle-lines/{uuid.uuid4()}", headers=world.staff,
                               json={"period_id": str(world.period_id), **LINE})
    assert r.status_code == 404

    fam = await world.family("Martin", "Léa")
    reg = await world.registration(fam, "Léa")
    r = await world.client.get(f"/families/{fam.id}/registrations/{reg}/shuttle-lines",
                               headers=fam.headers)
    assert r.status_code == 200
    [line] = r.json()["items"]
    assert line["name"] == "Ligne 1 (bis)" and line["seats"] == 11
    assert [(s["name"], s["morning_time"]) for s in line["stops"]] == [
        ("Mairie", "08:00:00"), ("Gare", "08:20:00")]
    assert line["stops"][0]["stop_id"] == str(stops["Mairie"])

    # Parents cannot manage lines.
    r = await world.client.post("/staff/shuttle-lines", headers=fam.headers,
                                json={"period_id": str(world.period_id), **LINE})
    assert r.status_code == 403


async def test_booked_days_only_seats_limited_cancel_frees_seat(world: World):
    await world.period()
    _, stops = await new_line(world, seats=1)
    fam = await world.family("Martin", "Léa", "Hugo")
    lea = await world.registration(fam, "Léa")
    hugo = await world.registration(fam, "Hugo")
    d1, d2 = START, START + timedelta(days=1)
    await world.book(lea, [d1], ["journee", "repas"])
    await world.book(hugo, [d1, d2], ["journee"])

    first = await shuttle(world, fam, lea, stops["Mairie"], [d1, d2])
    assert [(r["day"], r["ok"]) for r in first] == [(d1.isoformat(), True), (d2.isoformat(), False)]
    assert "Navette réservée : Ligne 1 — Mairie (aller 8 h 05)" in first[0]["detail"]
    assert "Pas de réservation ce jour-là" in first[1]["detail"]

    # One seat: Hugo is refused on d1, not on d2.
    second = await shuttle(world, fam, hugo, stops["Mairie"], [d1, d2])
    assert [r["ok"] for r in second] == [False, True]
    assert second[0]["detail"] == "Plus de place dans la navette."

    # Twice the same day and direction: refused; a stop without evening time: refused.
    again = await shuttle(world, fam, lea, stops["Mairie"], [d1])
    assert not again[0]["ok"] and "déjà réservée" in again[0]["detail"]
    evening = await shuttle(world, fam, lea, stops["École Jules Ferry"], [d1], ["retour"])
    assert not evening[0]["ok"] and "n'est pas desservi le soir" in evening[0]["detail"]

    r = await world.client.get(f"/families/{fam.id}/registrations/{lea}/shuttles",
                               headers=fam.headers)
    assert [(b["day"], b["direction"], b["stop_name"], b["scheduled_time"])
            for b in r.json()["items"]] == [(d1.isoformat(), "aller", "Mairie", "08:05:00")]

    # Léa cancels: the seat is free again, Hugo takes it.
    cancelled = await shuttle(world, fam, lea, stops["Mairie"], [d1], action="annuler")
    assert cancelled[0]["ok"], cancelled
    nothing = await shuttle(world, fam, lea, stops["Mairie"], [d1], action="annuler")
    assert not nothing[0]["ok"] and "Aucune navette" in nothing[0]["detail"]
    third = await shuttle(world, fam, hugo, stops["Mairie"], [d1])
    assert third[0]["ok"], third
    assert (await world.client.get(f"/families/{fam.id}/registrations/{lea}/shuttles",
                                   headers=fam.headers)).json()["items"] == []

    booked = await world.events("booking.shuttle_booked")
    cancelled_events = await world.events("booking.shuttle_cancelled")
    assert len(booked) == 3 and len(cancelled_events) == 1
    assert all(e["aggregate_version"] == 1 for e in booked)
    assert cancelled_events[0]["aggregate_version"] == 2
    assert cancelled_events[0]["payload"]["cancelled_by"] == "famille"
    assert cancelled_events[0]["payload"]["stop_name"] == "Mairie"
    assert await world.scalar(select(shuttle_seat.c.taken).where(
        shuttle_seat.c.day == d1, shuttle_seat.c.direction == "aller")) == 1


async def test_refusals_of_the_registration(world: World):
    await world.period()
    _, stops = await new_line(world)
    fam = await world.family("Martin", "Léa")
    other = await world.family("Durand", "Tom")
    reg = await world.registration(fam, "Léa")
    tom = await world.registration(other, "Tom")
    await world.book(reg, [START], ["journee"])
    body = {"stop_id": str(stops["Mairie"]), "directions": ["aller"], "days": [START.isoformat()]}

    # Another family's registration, or another family's id: 404 everywhere.
    for path in (f"/families/{fam.id}/registrations/{tom}/shuttles",
                 f"/families/{fam.id}/registrations/{tom}/shuttle-lines"):
        assert (await world.client.get(path, headers=fam.headers)).status_code == 404
    r = await world.client.post(f"/families/{fam.id}/registrations/{tom}/shuttles",
                                headers=fam.headers, json=body)
    assert r.status_code == 404
    r = await world.client.post(f"/families/{fam.id}/registrations/{reg}/shuttles",
                                headers=other.headers, json=body)
    assert r.status_code == 404
    r = await world.client.get(f"/families/{fam.id}/registrations/{reg}/shuttles",
                               headers=other.headers)
    assert r.status_code == 404

    # A stop of no line of the period: 404; a cancelled registration: 409.
    r = await world.client.post(f"/families/{fam.id}/registrations/{reg}/shuttles",
                                headers=fam.headers, json={**body, "stop_id": str(uuid.uuid4())})
    assert r.status_code == 404 and "arrêt" in r.json()["detail"]
    cancelled = await world.registration(fam, "Léa", status="annulee")
    r = await world.client.post(f"/families/{fam.id}/registrations/{cancelled}/shuttles",
                                headers=fam.headers, json=body)
    assert r.status_code == 409 and "pas validée" in r.json()["detail"]

    # A past day.
    world.clock.set(datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    [past] = await shuttle(world, fam, reg, stops["Mairie"], [START])
    assert not past["ok"] and past["detail"] == "Ce jour est passé."
    assert await world.events("booking.shuttle_booked") == []


async def test_seats_never_below_taken_and_booked_stops_kept(world: World):
    await world.period()
    line_id, stops = await new_line(world, seats=3)
    fam = await world.family("Martin", "Léa", "Hugo")
    for child in ("Léa", "Hugo"):
        reg = await world.registration(fam, child)
        await world.book(reg, [START], ["journee"])
        [ok] = await shuttle(world, fam, reg, stops["Mairie"], [START])
        assert ok["ok"], ok

    def body(seats: int, stops_: list[dict]) -> dict:
        return {"period_id": str(world.period_id), "name": "Ligne 1", "seats": seats,
                "stops": stops_}

    r = await world.client.put(f"/staff/shuttle-lines/{line_id}", headers=world.staff,
                               json=body(1, LINE["stops"]))
    assert r.status_code == 409 and "2 places sont déjà réservées" in r.json()["detail"]
    r = await world.client.put(f"/staff/shuttle-lines/{line_id}", headers=world.staff,
                               json=body(2, [LINE["stops"][1]]))
    assert r.status_code == 409 and "Mairie" in r.json()["detail"]
    r = await world.client.put(f"/staff/shuttle-lines/{line_id}", headers=world.staff,
                               json=body(2, [{"name": "Mairie", "evening_time": "17:30"}]))
    assert r.status_code == 409 and "aller" in r.json()["detail"]
    r = await world.client.put(f"/staff/shuttle-lines/{line_id}", headers=world.staff,
                               json=body(2, LINE["stops"]))
    assert r.status_code == 204, r.text
    assert await world.scalar(select(shuttle_seat.c.seats).where(
        shuttle_seat.c.line_id == line_id)) == 2
    # Full now: a third child is refused.
    fam2 = await world.family("Petit", "Zoé")
    zoe = await world.registration(fam2, "Zoé")
    await world.book(zoe, [START], ["journee"])
    [full] = await shuttle(world, fam2, zoe, stops["Mairie"], [START])
    assert full == {"day": START.isoformat(), "direction": "aller", "ok": False,
                    "detail": "Plus de place dans la navette."}


@pytest.mark.postgres
async def test_many_children_at_once_on_the_last_seats(world: World, database_url: str):
    """15 children ask at the same moment for 10 seats: exactly 10 booked, 5 refused."""
    await world.period()
    _, stops = await new_line(world, seats=10)
    children = [f"Enfant{i}" for i in range(15)]
    fam = await world.family("Grande", *children)
    regs = []
    for child in children:
        reg = await world.registration(fam, child)
        await world.book(reg, [START], ["journee"])
        regs.append(reg)

    answers = await asyncio.gather(*(shuttle(world, fam, reg, stops["Mairie"], [START])
                                     for reg in regs))
    outcomes = [a[0] for a in answers]
    assert sum(o["ok"] for o in outcomes) == 10
    refused = [o["detail"] for o in outcomes if not o["ok"]]
    assert refused == ["Plus de place dans la navette."] * 5
    assert await world.scalar(select(shuttle_seat.c.taken)) == 10
    assert await world.scalar(select(func.count()).select_from(shuttle_booking).where(
        shuttle_booking.c.status == "reservee")) == 10
    assert len(await world.events("booking.shuttle_booked")) == 10


@pytest.mark.postgres
async def test_rivals_same_child_and_cancel_against_book(world: World, database_url: str):
    """The same child five times at once: one booking, one seat. A cancellation racing a
    booking on the last seat: the seats taken always equal the active bookings."""
    await world.period()
    _, stops = await new_line(world, seats=1)
    fam = await world.family("Martin", "Léa", "Hugo")
    lea = await world.registration(fam, "Léa")
    hugo = await world.registration(fam, "Hugo")
    days = [d for d in (START + timedelta(days=i) for i in range(10)) if d.weekday() < 5]
    await world.book(lea, days, ["journee"])
    await world.book(hugo, days, ["journee"])

    answers = await asyncio.gather(*(shuttle(world, fam, lea, stops["Mairie"], [days[0]])
                                     for _ in range(5)))
    assert sum(a[0]["ok"] for a in answers) == 1

    for day in days[1:]:
        [ok] = await shuttle(world, fam, lea, stops["Mairie"], [day])
        assert ok["ok"]
        cancel, book = await asyncio.gather(
            shuttle(world, fam, lea, stops["Mairie"], [day], action="annuler"),
            shuttle(world, fam, hugo, stops["Mairie"], [day]))
        assert cancel[0]["ok"]
        assert book[0]["ok"] or book[0]["detail"] == "Plus de place dans la navette."
    async with world.uow() as uow:
        taken = dict((await uow.session.execute(
            select(shuttle_seat.c.day, shuttle_seat.c.taken))).all())
        active = dict((await uow.session.execute(
            select(shuttle_booking.c.day, func.count())
            .where(shuttle_booking.c.status == "reservee")
            .group_by(shuttle_booking.c.day))).all())
    assert taken == {d: active.get(d, 0) for d in taken}
    assert taken[days[0]] == 1 and all(v <= 1 for v in taken.values())
