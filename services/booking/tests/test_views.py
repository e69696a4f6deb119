"""Staff views: occupancy (table, CSV, SVG), the day's list of children; fixed query counts; on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from icalendar import Calendar

from marelle_booking.db import metadata, reservation
from marelle_chassis.messaging_tables import outbox_table
from sqlalchemy import event, select

from services.booking.tests.test_shuttles import (  # noqa: F401
    END,
    LINE,
    START,
    World,
    new_line,
    shuttle,
    world,
)

A, B = "6-8 ans Rémond", "9-11 ans"


def occupancy(world: World, suffix: str = "") -> str:
    return f"/staff/calendars/{world.period_id}/occupancy{suffix}"


@contextlib.contextmanager
def statements(world: World):
    """Counts the SQL statements sent to the database."""
    seen: list[str] = []

    # The test's own task only (the in-process client runs the app in it): a background task's
    # statement (e.g. the decider's first pass) once made the 1-child day list 6 instead of 5.
    mine = asyncio.current_task()

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if asyncio.current_task() is mine:
            seen.append(statement)

    engine = world.app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_occupancy_table_csv_and_chart(world: World):
    await world.period(A, B)
    await world.day_capacity(world.group(A), "repas", START, 2)
    fam = await world.family("Martin", "Léa", "Hugo", "Zoé", "Max")
    for child in ("Léa", "Hugo"):
        reg = await world.registration(fam, child)
        await world.book(reg, [START], ["repas", "matin"])
    zoe = await world.registration(fam, "Zoé")
    await world.book(zoe, [START], ["repas"], status="liste_attente")
    await world.book(zoe, [START], ["matin"], status="annulee")
    maxi = await world.registration(fam, "Max", group=B)
    await world.book(maxi, [START + timedelta(days=1)], ["journee"])

    r = await world.client.get(occupancy(world), headers=world.staff)
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    # 10 opening days (weekends closed) × 2 groups × 3 units.
    assert len(rows) == 10 * 2 * 3
    assert {row["day"] for row in rows} == {
        (START + timedelta(days=i)).isoformat() for i in range(12) if i % 7 < 5}
    at = {(row["day"], row["group_label"], row["unit"]): row for row in rows}
    assert {k: at[(START.isoformat(), A, "repas")][k] for k in ("capacity", "booked", "waiting")} \
        == {"capacity": 2, "booked": 2, "waiting": 1}
    assert at[(START.isoformat(), A, "matin")]["booked"] == 2  # the cancelled one not counted
    assert at[(START.isoformat(), A, "matin")]["capacity"] == 10
    assert at[((START + timedelta(days=1)).isoformat(), B, "journee")]["booked"] == 1

    r = await world.client.get(occupancy(world), headers=world.staff,
                               params={"start": START.isoformat(),
                                       "end": (START + timedelta(days=1)).isoformat()})
    assert len(r.json()["rows"]) == 2 * 2 * 3
    r = await world.client.get(occupancy(world), headers=world.staff,
                               params={"start": END.isoformat(), "end": START.isoformat()})
    assert r.status_code == 422

    r = await world.client.get(occupancy(world, ".csv"), headers=world.staff,
                               params={"start": START.isoformat(), "end": START.isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Jour;Groupe;Créneau;Places;Réservés;En attente"
    assert "19/10/2026;6-8 ans Rémond;Repas;2;2;1" in lines
    assert "19/10/2026;9-11 ans;Accueil matin;10;0;0" in lines
    assert len(lines) == 1 + 2 * 3

    r = await world.client.get(occupancy(world, ".svg"), headers=world.staff,
                               params={"end": (START + timedelta(days=4)).isoformat()})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    assert root.tag.endswith("svg")
    assert b"<svg" in r.content and "Réservés".encode() in r.content
    assert "En attente".encode() in r.content and "Places".encode() in r.content

    fam_headers = fam.headers
    assert (await world.client.get(occupancy(world), headers=fam_headers)).status_code == 403


async def test_occupancy_needs_a_calendar(world: World):
    await world.period(with_calendar=False)
    r = await world.client.get(occupancy(world), headers=world.staff)
    assert r.status_code == 404 and "calendrier" in r.json()["detail"]
    r = await world.client.get(f"/staff/calendars/{uuid.uuid4()}/occupancy", headers=world.staff)
    assert r.status_code == 404


async def test_day_list_with_notes_and_shuttle(world: World):
    await world.period(A, B)
    _, stops = await new_line(world)
    fam = await world.family("Martin", "Léa", "Hugo")
    lea = await world.registration(fam, "Léa", memo="Allergie aux arachides")
    hugo = await world.registration(fam, "Hugo", group=B)
    await world.book(lea, [START], ["repas", "matin"])
    await world.book(hugo, [START], ["journee"])
    await world.book(hugo, [START + timedelta(days=1)], ["journee"])
    results = await shuttle(world, fam, lea, stops["Mairie"], [START], ["aller", "retour"])
    assert all(r["ok"] for r in results), results

    r = await world.client.get(f"/staff/calendars/{world.period_id}/days/{START}/children",
                               headers=world.staff)
    assert r.status_code == 200, r.text
    groups = {g["label"]: g["children"] for g in r.json()["groups"]}
    [léa] = groups[A]
    assert léa["first_name"] == "Léa" and léa["last_name"] == "Martin"
    assert léa["units"] == ["matin", "repas"]  # the grid's order
    assert léa["notes"] == "Allergie aux arachides"
    assert léa["shuttle"] == "Ligne 1 — Mairie (aller 8 h 05, retour 17 h 30)"
    [hugo_line] = groups[B]
    assert hugo_line["units"] == ["journee"] and hugo_line["shuttle"] is None
    # Each booked unit with its reservation, for staff to cancel it from the day page.
    async with world.uow() as uow:
        ids = {(r.child_id, r.unit): str(r.id) for r in (await uow.session.execute(
            select(reservation.c.id, reservation.c.child_id, reservation.c.unit).where(
                reservation.c.day == START))).all()}
    child_id = uuid.UUID(léa["child_id"])
    assert léa["reservations"] == [
        {"reservation_id": ids[(child_id, "matin")], "unit": "matin",
         "unit_label": "Accueil matin"},
        {"reservation_id": ids[(child_id, "repas")], "unit": "repas", "unit_label": "Repas"}]
    assert hugo_line["reservations"] == [
        {"reservation_id": ids[(uuid.UUID(hugo_line["child_id"]), "journee")],
         "unit": "journee", "unit_label": "Journée"}]

    r = await world.client.get(f"/staff/calendars/{world.period_id}/days/"
                               f"{START - timedelta(days=1)}/children", headers=world.staff)
    assert r.status_code == 422


async def test_fixed_query_counts(world: World):
    """Occupancy and the day list cost the same number of statements for 1 or 20 children."""
    await world.period(A, B)
    _, stops = await new_line(world, seats=40)
    day_list = f"/staff/calendars/{world.period_id}/days/{START}/children"

    async def add_children(n: int) -> None:
        fam = await world.family(f"F{uuid.uuid4().hex[:6]}", *[f"E{i}" for i in range(n)])
        for child in fam.children:
            reg = await world.registration(fam, child, memo=f"note {child}")
            await world.book(reg, [START, START + timedelta(days=1)], ["matin", "repas"])
            [ok] = await shuttle(world, fam, reg, stops["Mairie"], [START])
            assert ok["ok"], ok

    async def cost(path: str) -> int:
        with statements(world) as seen:
            r = await world.client.get(path, headers=world.staff)
            assert r.status_code == 200, r.text
        return len(seen)

    await add_children(1)
    one = (await cost(occupancy(world)), await cost(day_list))
    await add_children(19)
    twenty = (await cost(occupancy(world)), await cost(day_list))
    r = await world.client.get(day_list, headers=world.staff)
    assert sum(len(g["children"]) for g in r.json()["groups"]) == 20
    assert one == twenty, (one, twenty)
    assert 0 < one[0] <= 8 and 0 < one[1] <= 6


async def test_with_the_booking_core(booking):
    """The same views over what the booking core really writes (conftest's `booking`: copies fed
    by the real handlers, reservations booked through the real API)."""
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    await booking.configure(period, capacity=1)
    fam = await booking.family("Martin", ["Léa", "Hugo"])
    lea = await booking.register(fam, "Léa", period)
    hugo = await booking.register(fam, "Hugo", period)
    day = date(2026, 10, 21)
    assert (await booking.book(lea, day, "journee"))["ok"]
    assert (await booking.book(hugo, day, "journee"))["status"] == "liste_attente"

    r = await booking.client.post("/staff/shuttle-lines", headers=booking.staff, json={
        "period_id": str(period.id), **LINE})
    assert r.status_code == 201, r.text
    lines = (await booking.client.get(f"{lea.base}/shuttle-lines", headers=fam.headers)).json()
    mairie = lines["items"][0]["stops"][0]["stop_id"]
    r = await booking.client.post(f"{lea.base}/shuttles", headers=fam.headers, json={
        "stop_id": mairie, "directions": ["aller"], "days": [day.isoformat()]})
    assert r.json()["results"][0]["ok"], r.text
    r = await booking.client.post(f"{hugo.base}/shuttles", headers=fam.headers, json={
        "stop_id": mairie, "directions": ["aller"], "days": [day.isoformat()]})
    assert "Pas de réservation" in r.json()["results"][0]["detail"]  # waiting is not booked

    r = await booking.client.get(f"/staff/calendars/{period.id}/occupancy", headers=booking.staff,
                                 params={"start": day.isoformat(), "end": day.isoformat()})
    at = {row["unit"]: row for row in r.json()["rows"]}
    journee = at["journee"]
    assert (journee["capacity"], journee["booked"], journee["waiting"]) == (1, 1, 1)

    r = await booking.client.get(f"/staff/calendars/{period.id}/days/{day}/children",
                                 headers=booking.staff)
    [child] = r.json()["groups"][0]["children"]
    assert child["first_name"] == "Léa" and "journee" in child["units"]
    assert child["shuttle"] == "Ligne 1 — Mairie (aller 8 h 05)"

    r = await booking.client.get(f"/families/{fam.id}/children/{fam.children['Léa']}/"
                                 "reservations.ics", headers=fam.headers)
    [event] = Calendar.from_ical(r.content).walk("VEVENT")
    assert event.decoded("dtstart") == day and "Léa" in str(event["SUMMARY"])

    # Léa's day is cancelled: her shuttle seat is freed, and Hugo (promoted) may take it.
    assert (await booking.cancel(lea, day, "journee"))["ok"]
    r = await booking.client.get(f"{lea.base}/shuttles", headers=fam.headers)
    assert r.json()["items"] == []
    events = [r.event_type for r in await booking.rows(outbox_table(metadata))]
    assert "booking.shuttle_cancelled" in events
    r = await booking.client.post(f"{hugo.base}/shuttles", headers=fam.headers, json={
        "stop_id": mairie, "directions": ["aller"], "days": [day.isoformat()]})
    assert r.json()["results"][0]["ok"], r.text
