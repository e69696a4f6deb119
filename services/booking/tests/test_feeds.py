"""A child's bookings as ICS, and the private subscription URL; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from marelle_booking.db import calendar_feed
from services.booking.tests.test_shuttles import (  # noqa: F401
    START,
    World,
    new_line,
    shuttle,
    world,
)


def events(body: bytes) -> dict:
    cal = Calendar.from_ical(body)
    return {e.decoded("dtstart"): e for e in cal.walk("VEVENT")}


async def setup(world: World):
    await world.period()
    fam = await world.family("Martin", "Léa", "Hugo")
    reg = await world.registration(fam, "Léa")
    await world.book(reg, [START, START + timedelta(days=1)], ["repas", "matin"])
    await world.book(reg, [START + timedelta(days=2)], ["journee"], status="liste_attente")
    await world.book(reg, [START + timedelta(days=3)], ["journee"], status="annulee")
    return fam, reg


async def test_ics_of_the_booked_days(world: World):
    fam, reg = await setup(world)
    _, stops = await new_line(world)
    [ok] = await shuttle(world, fam, reg, stops["Mairie"], [START])
    assert ok["ok"]
    path = f"/families/{fam.id}/children/{fam.children['Léa']}/reservations.ics"

    r = await world.client.get(path, headers=fam.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    assert str(cal["X-WR-CALNAME"]) == "Réservations de Léa"
    found = events(r.content)
    assert sorted(found) == [START, START + timedelta(days=1)]  # neither waiting nor cancelled
    first = found[START]
    assert str(first["SUMMARY"]) == "Centre de loisirs — Léa (accueil matin, repas)"
    assert first.decoded("dtend") == START + timedelta(days=1)
    assert "Navette : Ligne 1 — Mairie (aller 8 h 05)" in str(first["DESCRIPTION"])
    assert "DTSTAMP" in first
    # Stable UIDs: a calendar that follows the feed updates the same events.
    again = events((await world.client.get(path, headers=fam.headers)).content)
    assert {d: str(e["UID"]) for d, e in again.items()} == {
        d: str(e["UID"]) for d, e in found.items()}
    assert len({str(e["UID"]) for e in found.values()}) == 2

    # A child without bookings: an empty, valid calendar.
    r = await world.client.get(f"/families/{fam.id}/children/{fam.children['Hugo']}/"
                               "reservations.ics", headers=fam.headers)
    assert r.status_code == 200 and events(r.content) == {}


async def test_subscription_url(world: World):
    fam, _ = await setup(world)
    child = fam.children["Léa"]
    r = await world.client.post(f"/families/{fam.id}/children/{child}/calendar-feed",
                                headers=fam.headers)
    assert r.status_code == 201, r.text
    url = r.json()["url"]
    assert url.startswith("http://booking.test/calendar-feeds/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")

    # Only its SHA-256 is kept.
    async with world.uow() as uow:
        stored = (await uow.session.scalars(select(calendar_feed.c.token_hash))).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]

    r = await world.client.get(url)  # no login
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert sorted(events(r.content)) == [START, START + timedelta(days=1)]

    # A new URL replaces the old one.
    r = await world.client.post(f"/families/{fam.id}/children/{child}/calendar-feed",
                                headers=fam.headers)
    new_url = r.json()["url"]
    assert new_url != url
    old = await world.client.get(url)
    assert old.status_code == 404 and "remplacé" in old.json()["detail"]
    assert (await world.client.get(new_url)).status_code == 200
    assert (await world.client.get("/calendar-feeds/inconnu.ics")).status_code == 404
    async with world.uow() as uow:
        assert len((await uow.session.scalars(select(calendar_feed.c.token_hash))).all()) == 1


async def test_another_family_gets_404(world: World):
    fam, _ = await setup(world)
    other = await world.family("Durand", "Tom")
    child = fam.children["Léa"]
    for headers, family_id, child_id in ((other.headers, fam.id, child),
                                         (other.headers, other.id, child),
                                         (fam.headers, fam.id, other.children["Tom"]),
                                         (fam.headers, fam.id, uuid.uuid4())):
        r = await world.client.get(f"/families/{family_id}/children/{child_id}/reservations.ics",
                                   headers=headers)
        assert r.status_code == 404, (family_id, child_id)
        r = await world.client.post(f"/families/{family_id}/children/{child_id}/calendar-feed",
                                    headers=headers)
        assert r.status_code == 404
    r = await world.client.get(f"/families/{fam.id}/children/{child}/reservations.ics")
    assert r.status_code == 401
