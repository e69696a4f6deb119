"""Reservation transitions against their concurrent rivals, through the real HTTP app.

The rivals are started together (`asyncio.gather`), as families and staff would. On PostgreSQL
they really run at the same time (the day counter's conditional UPDATE, row locks, compare-and-
set); on SQLite they queue (BEGIN IMMEDIATE): the same invariants hold. Never more than the
capacity, the rest on the waiting list in arrival order, promotions in that order, one winner per
race, a 409 (or an `ok: false` item) for the loser, never a 500; one event per real change with
the reservation's versions 1, 2, … in order.
"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from marelle_booking.db import day_slot, reservation

pytestmark = pytest.mark.postgres

TUE = date(2026, 10, 20)


def trials(database_url: str) -> int:
    return 3 if database_url.startswith("sqlite") else 10


async def period_with(booking, capacity: int):
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    await booking.configure(period, capacity=capacity)
    return period


def check_versions(events: dict) -> None:
    for evts in events.values():
        assert [v for _, v, _ in evts] == list(range(1, len(evts) + 1)), evts


async def slot_state(booking, period, day=TUE, unit="repas"):
    slot = (await booking.rows(day_slot, day_slot.c.period_id == period.id, day_slot.c.day == day,
                               day_slot.c.unit == unit))[0]
    rows = await booking.rows(reservation, reservation.c.period_id == period.id,
                              reservation.c.day == day, reservation.c.unit == unit)
    return slot, rows


async def test_rush_on_the_last_places(booking, database_url):
    """40 families at once on the 10 places of one day; then 5 cancellations at once."""
    n, capacity = (40, 10) if database_url.startswith("postgresql") else (15, 5)
    period = await period_with(booking, capacity)
    regs = [await booking.register(await booking.family(f"R{i}", ["Léa"]), "Léa", period)
            for i in range(n)]
    answers = await asyncio.gather(*(booking.change(r, (TUE, "repas", "reserver")) for r in regs))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    results = [a.json()["results"][0] for a in answers]
    assert all(r["ok"] for r in results), results
    booked = [r for r in results if r["status"] == "reservee"]
    waiting = [r for r in results if r["status"] == "liste_attente"]
    assert len(booked) == capacity and len(waiting) == n - capacity
    assert sorted(r["position"] for r in waiting) == list(range(1, n - capacity + 1))
    slot, rows = await slot_state(booking, period)
    assert slot.booked == capacity == sum(r.status == "reservee" for r in rows)
    # Arrival order: the waiting list's positions follow the order of arrival (seq).
    by_seq = sorted((r for r in rows if r.status == "liste_attente"), key=lambda r: r.seq)
    events = await booking.outbox()
    positions = [next(p["position"] for k, _, p in events[str(r.id)] if k == "waitlisted")
                 for r in by_seq]
    assert positions == list(range(1, n - capacity + 1))
    assert len({r.seq for r in rows}) == len(rows)

    # Five booked families cancel at once: the first five waiting, in order, get the places.
    cancelling = [reg for reg in regs if any(
        r.registration_id == reg.id and r.status == "reservee" for r in rows)][:5]
    answers = await asyncio.gather(*(booking.change(r, (TUE, "repas", "annuler"))
                                     for r in cancelling))
    assert all(a.json()["results"][0]["ok"] for a in answers), [a.text for a in answers]
    slot, after = await slot_state(booking, period)
    status = {r.id: r.status for r in after}
    assert slot.booked == capacity == sum(s == "reservee" for s in status.values())
    assert [status[r.id] for r in by_seq] == ["reservee"] * 5 + ["liste_attente"] * (len(by_seq) - 5)
    events = await booking.outbox()
    check_versions(events)
    assert sum(k == "promoted" for e in events.values() for k, _, _ in e) == 5


async def test_family_cancel_against_staff_promote(booking, database_url):
    """Capacity 1: A booked, W waiting. The family cancels A while an agent promotes W: W ends
    booked exactly once, the agent gets a 409 (not waiting any more, or still full)."""
    for _ in range(trials(database_url)):
        period = await period_with(booking, 1)
        a = await booking.register(await booking.family("A", ["Léa"]), "Léa", period)
        w = await booking.register(await booking.family("W", ["Zoé"]), "Zoé", period)
        await booking.book(a, TUE)
        await booking.book(w, TUE)
        waiting = (await booking.rows(reservation, reservation.c.registration_id == w.id))[0]
        cancelled, promoted = await asyncio.gather(
            booking.change(a, (TUE, "repas", "annuler")),
            booking.client.post(f"/staff/reservations/{waiting.id}/promote", headers=booking.staff))
        assert cancelled.json()["results"][0]["ok"], cancelled.text
        assert promoted.status_code in (204, 409), promoted.text
        slot, rows = await slot_state(booking, period)
        assert slot.booked == 1
        assert {r.registration_id: r.status for r in rows} == {a.id: "annulee", w.id: "reservee"}
        events = await booking.outbox()
        assert [k for k, _, _ in events[str(waiting.id)]] == ["waitlisted", "promoted"]
        check_versions(events)


async def test_staff_promote_against_family_cancel_of_the_waiting_request(booking, database_url):
    """Capacity 1: A booked, W waiting. The agent promotes W while W's family withdraws it: the
    withdrawal always wins (the day is full: the promotion is a 409), nothing is counted twice."""
    for _ in range(trials(database_url)):
        period = await period_with(booking, 1)
        a = await booking.register(await booking.family("A", ["Léa"]), "Léa", period)
        w = await booking.register(await booking.family("W", ["Zoé"]), "Zoé", period)
        await booking.book(a, TUE)
        await booking.book(w, TUE)
        target = (await booking.rows(reservation, reservation.c.registration_id == w.id))[0]
        r_promote, r_cancel = await asyncio.gather(
            booking.client.post(f"/staff/reservations/{target.id}/promote", headers=booking.staff),
            booking.change(w, (TUE, "repas", "annuler")))
        assert r_promote.status_code == 409, r_promote.text
        assert r_cancel.json()["results"][0]["ok"], r_cancel.text
        slot, rows = await slot_state(booking, period)
        assert slot.booked == 1
        assert {r.registration_id: r.status for r in rows} == {a.id: "reservee", w.id: "annulee"}
        events = await booking.outbox()
        assert [k for k, _, _ in events[str(target.id)]] == ["waitlisted", "cancelled"]
        check_versions(events)


async def test_family_cancel_against_staff_cancel(booking, database_url):
    """The same reservation cancelled by the family and by an agent at once: one wins."""
    for _ in range(trials(database_url)):
        period = await period_with(booking, 1)
        a = await booking.register(await booking.family("A", ["Léa"]), "Léa", period)
        w = await booking.register(await booking.family("W", ["Zoé"]), "Zoé", period)
        await booking.book(a, TUE)
        await booking.book(w, TUE)
        booked = (await booking.rows(reservation, reservation.c.registration_id == a.id))[0]
        family, staff = await asyncio.gather(
            booking.change(a, (TUE, "repas", "annuler")),
            booking.client.post(f"/staff/reservations/{booked.id}/cancel", headers=booking.staff))
        assert family.status_code == 200 and staff.status_code in (204, 409), (family.text, staff.text)
        family_won = family.json()["results"][0]["ok"]
        assert family_won != (staff.status_code == 204), (family.text, staff.text)
        if staff.status_code == 409:
            assert staff.headers["content-type"].startswith("application/problem+json")
        events = await booking.outbox()
        kinds = [k for k, _, _ in events[str(booked.id)]]
        assert kinds == ["confirmed", "cancelled"]
        by = events[str(booked.id)][1][2]["cancelled_by"]
        assert by == ("famille" if family_won else "structure")
        slot, rows = await slot_state(booking, period)
        assert slot.booked == 1
        assert {r.registration_id: r.status for r in rows} == {a.id: "annulee", w.id: "reservee"}
        check_versions(events)


async def test_same_child_same_day_twice_at_once(booking, database_url):
    for _ in range(trials(database_url)):
        period = await period_with(booking, 5)
        reg = await booking.register(await booking.family("D", ["Léa"]), "Léa", period)
        one, two = await asyncio.gather(booking.change(reg, (TUE, "repas", "reserver")),
                                        booking.change(reg, (TUE, "repas", "reserver")))
        results = [one.json()["results"][0], two.json()["results"][0]]
        assert sorted(r["ok"] for r in results) == [False, True], results
        assert "déjà inscrit" in next(r for r in results if not r["ok"])["detail"]
        slot, rows = await slot_state(booking, period)
        assert slot.booked == 1 and len(rows) == 1


async def test_registration_cancelled_while_booking(booking, database_url):
    """The registration's cancellation arrives while the family books: no booking survives on
    the cancelled registration, whatever the order."""
    for _ in range(trials(database_url)):
        period = await period_with(booking, 5)
        reg = await booking.register(await booking.family("D", ["Léa"]), "Léa", period)
        days = [date(2026, 10, d) for d in (20, 21, 22, 23)]
        answer, _ = await asyncio.gather(
            booking.change(reg, *[(d, "repas", "reserver") for d in days]),
            booking.cancel_registration(reg))
        assert answer.status_code in (200, 409), answer.text
        rows = await booking.rows(reservation, reservation.c.registration_id == reg.id)
        assert all(r.status == "annulee" for r in rows), [(r.day, r.status) for r in rows]
        slot_rows = await booking.rows(day_slot, day_slot.c.period_id == period.id)
        assert all(s.booked == 0 for s in slot_rows)


async def test_capacity_raised_during_a_rush(booking, database_url):
    """An agent raises the day's places from 2 to 5 while 10 families book: whatever the order,
    5 booked (the counter and the rows agree), the others waiting with positions 1..5."""
    for _ in range(trials(database_url)):
        period = await period_with(booking, 2)
        regs = [await booking.register(await booking.family(f"C{i}", ["Léa"]), "Léa", period)
                for i in range(10)]
        answers = await asyncio.gather(
            *(booking.change(r, (TUE, "repas", "reserver")) for r in regs),
            booking.configure(period, capacity=5))
        assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
        slot, rows = await slot_state(booking, period)
        booked = [r for r in rows if r.status == "reservee"]
        assert slot.capacity == 5 and slot.booked == len(booked) == 5
        waiting = (await booking.client.get(
            f"/staff/calendars/{period.id}/days/{TUE}/waiting-list", headers=booking.staff)).json()
        assert [i["position"] for i in waiting["items"]] == [1, 2, 3, 4, 5]
        check_versions(await booking.outbox())
