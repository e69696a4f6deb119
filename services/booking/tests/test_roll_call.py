"""« Pointage »: record, lock, 409 when locked, unlock with a logged reason, events; on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from marelle_booking.db import attendance, roll_call, roll_call_unlock
from services.booking.tests.test_shuttles import START, World, world  # noqa: F401

DAY = START + timedelta(days=1)


def path(world: World, day=DAY, group: uuid.UUID | None = None) -> str:
    return f"/staff/roll-calls/{world.period_id}/{group or world.group()}/{day.isoformat()}"


async def setup(world: World):
    await world.period("6-8 ans Rémond", "9-11 ans")
    world.clock.set(datetime(2026, 10, 20, 16, 0, tzinfo=UTC))
    fam = await world.family("Martin", "Léa", "Hugo", "Zoé", "Max")
    lea = await world.registration(fam, "Léa", memo="Allergie aux arachides")
    hugo = await world.registration(fam, "Hugo")
    await world.registration(fam, "Zoé")  # registered, not booked on DAY
    await world.book(lea, [DAY], ["matin", "repas"])
    await world.book(hugo, [DAY], ["journee"])
    await world.book(hugo, [DAY + timedelta(days=1)], ["journee"])
    return fam


def rec(fam, child: str, status: str, reason: str | None = None) -> dict:
    return {"child_id": str(fam.children[child]), "status": status,
            **({"reason": reason} if reason is not None else {})}


async def test_record_lock_unlock(world: World, caplog: pytest.LogCaptureFixture):
    fam = await setup(world)
    caplog.set_level(logging.INFO)

    r = await world.client.get(path(world), headers=world.staff)
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["group_label"] == "6-8 ans Rémond" and not view["locked"]
    assert [(line["first_name"], line["booked_units"], line["status"])
            for line in view["lines"]] == [("Hugo", ["journee"], None),
                                           ("Léa", ["matin", "repas"], None)]
    assert view["lines"][1]["notes"] == "Allergie aux arachides"

    # A justified absence needs its reason; a child neither booked nor registered is refused.
    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Léa", "absent_justifie")]})
    assert r.status_code == 422 and "motif" in r.json()["detail"]
    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Max", "present_sans_reservation")]})
    assert r.status_code == 422 and "pas d'inscription validée" in r.json()["detail"]
    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Zoé", "present")]})
    assert r.status_code == 422 and "sans réservation" in r.json()["detail"]
    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Léa", "present_sans_reservation")]})
    assert r.status_code == 422

    # Locking with children still to call is refused.
    r = await world.client.post(path(world) + "/lock", headers=world.staff)
    assert r.status_code == 409 and "incomplet" in r.json()["detail"]

    r = await world.client.put(path(world), headers=world.staff, json={"records": [
        rec(fam, "Léa", "absent_justifie", "Maladie (certificat)"), rec(fam, "Hugo", "present"),
        rec(fam, "Zoé", "present_sans_reservation")]})
    assert r.status_code == 200, r.text
    lines = {line["first_name"]: line for line in r.json()["lines"]}
    assert (lines["Léa"]["status"], lines["Léa"]["reason"]) == ("absent_justifie",
                                                                "Maladie (certificat)")
    assert lines["Hugo"]["status"] == "present"
    assert (lines["Zoé"]["status"], lines["Zoé"]["booked_units"]) == (
        "present_sans_reservation", [])

    # The same statuses again change nothing and announce nothing; a change is announced.
    r = await world.client.put(path(world), headers=world.staff, json={"records": [
        rec(fam, "Hugo", "present"), rec(fam, "Léa", "absent_justifie", "Maladie (certificat)")]})
    assert r.status_code == 200
    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Hugo", "absent_injustifie")]})
    assert r.status_code == 200
    recorded = await world.events("booking.attendance_recorded")
    assert len(recorded) == 4
    hugo = [e for e in recorded if e["payload"]["child_id"] == str(fam.children["Hugo"])]
    assert [(e["payload"]["status"], e["aggregate_version"]) for e in hugo] == [
        ("present", 1), ("absent_injustifie", 2)]
    lea = next(e for e in recorded if e["payload"]["child_id"] == str(fam.children["Léa"]))
    assert lea["payload"]["reason"] == "Maladie (certificat)"

    r = await world.client.post(path(world) + "/lock", headers=world.staff)
    assert r.status_code == 200, r.text
    assert r.json()["locked"] and r.json()["locked_by"]
    [locked] = await world.events("booking.roll_call_locked")
    assert (locked["payload"]["present"], locked["payload"]["absent"]) == (1, 2)

    # Locked: records and a second lock are refused.
    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Hugo", "present")]})
    assert r.status_code == 409 and r.json()["detail"].startswith("Le pointage est verrouillé")
    r = await world.client.post(path(world) + "/lock", headers=world.staff)
    assert r.status_code == 409

    # Unlock: a reason is required, and logged with who and when.
    r = await world.client.post(path(world) + "/unlock", headers=world.staff, json={})
    assert r.status_code == 422
    r = await world.client.post(path(world) + "/unlock", headers=world.staff,
                                json={"reason": "Hugo est arrivé à 10 h"})
    assert r.status_code == 200 and not r.json()["locked"]
    async with world.uow() as uow:
        [unlock] = (await uow.session.execute(select(roll_call_unlock))).all()
    assert unlock.reason == "Hugo est arrivé à 10 h"
    assert unlock.unlocked_at == datetime(2026, 10, 20, 16, 0, tzinfo=UTC)
    assert "déverrouillé" in caplog.text and "Hugo est arrivé à 10 h" in caplog.text
    r = await world.client.post(path(world) + "/unlock", headers=world.staff,
                                json={"reason": "encore"})
    assert r.status_code == 409

    r = await world.client.put(path(world), headers=world.staff,
                               json={"records": [rec(fam, "Hugo", "present")]})
    assert r.status_code == 200
    r = await world.client.post(path(world) + "/lock", headers=world.staff)
    assert r.status_code == 200
    relocked = await world.events("booking.roll_call_locked")
    assert len(relocked) == 2
    assert relocked[1]["aggregate_version"] > relocked[0]["aggregate_version"]
    assert len(await world.events("booking.attendance_recorded")) == 5


async def test_refusals(world: World):
    fam = await setup(world)
    # A day to come, a day out of the period, an unknown group, a parent's token.
    future = START + timedelta(days=2)
    r = await world.client.put(path(world, future), headers=world.staff,
                               json={"records": [rec(fam, "Hugo", "present")]})
    assert r.status_code == 422 and "à venir" in r.json()["detail"]
    r = await world.client.get(path(world, START - timedelta(days=3)), headers=world.staff)
    assert r.status_code == 422
    r = await world.client.get(path(world, group=uuid.uuid4()), headers=world.staff)
    assert r.status_code == 404
    r = await world.client.get(path(world), headers=fam.headers)
    assert r.status_code == 403
    # The other group has nobody booked: an empty roll call, lockable.
    other = world.group("9-11 ans")
    r = await world.client.get(path(world, group=other), headers=world.staff)
    assert r.json()["lines"] == []
    r = await world.client.post(path(world, group=other) + "/lock", headers=world.staff)
    assert r.status_code == 200 and r.json()["locked"]


@pytest.mark.postgres
async def test_lock_against_records(world: World, database_url: str):
    """A lock and records started together: whoever comes second sees the first; a locked roll
    call never gets a record after its lock."""
    fam = await setup(world)
    for trial in range(6 if database_url.startswith("sqlite") else 15):
        day = DAY - timedelta(days=trial % 2)
        # reset: unlocked, every booked child recorded once already
        await world.client.post(path(world, day) + "/unlock", headers=world.staff,
                                json={"reason": "essai"})
        base = [rec(fam, "Hugo", "present")] if day == DAY else []
        if day == DAY:
            await world.client.put(path(world, day), headers=world.staff,
                                   json={"records": base + [rec(fam, "Léa", "present")]})
        status = "absent_injustifie" if trial % 4 < 2 else "present"
        put, lock = await asyncio.gather(
            world.client.put(path(world, day), headers=world.staff,
                             json={"records": [rec(fam, "Zoé", "present_sans_reservation")]
                                   if day != DAY else [rec(fam, "Hugo", status)]}),
            world.client.post(path(world, day) + "/lock", headers=world.staff))
        assert lock.status_code == 200, lock.text
        assert put.status_code in (200, 409), put.text
        async with world.uow() as uow:
            rc = (await uow.session.execute(select(roll_call).where(
                roll_call.c.period_id == world.period_id, roll_call.c.group_id == world.group(),
                roll_call.c.day == day))).one()
            statuses = (await uow.session.scalars(select(attendance.c.status).where(
                attendance.c.roll_call_id == rc.id))).all()
        assert rc.locked_at is not None
        # What the lock announced is what stays: no record slipped in after it.
        last = [e for e in await world.events("booking.roll_call_locked")
                if e["payload"]["day"] == day.isoformat()][-1]["payload"]
        present = sum(s in ("present", "present_sans_reservation") for s in statuses)
        assert (last["present"], last["absent"]) == (present, len(statuses) - present)
