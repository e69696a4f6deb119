"""The opening queue for bookings (docs/opening-rush.md): a submission is acknowledged at once
with a ticket and its place in line, then decided in arrival order by the decider, through the
real HTTP app, on SQLite and on PostgreSQL.

Fair (decisions follow the order of arrival), idempotent (the same key is the same ticket, never
a second booking), « tout ou rien », never more than the capacity with two deciders at once, a
doomed submission refused at once, and the usual reservation events with their versions.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from marelle_chassis.decider import Decider
from marelle_chassis.messaging_tables import outbox_table
from marelle_booking.db import day_slot, metadata, queue_counter, queue_ticket, reservation
from marelle_booking.usecases import tickets
from tests.support.queue import caught_up, hot_statements

pytestmark = pytest.mark.postgres

MON, TUE, WED = date(2026, 10, 19), date(2026, 10, 20), date(2026, 10, 21)


async def opening(booking, capacity: int | dict[str, int], **settings):
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    await booking.configure(period, capacity=capacity, **settings)
    return period


async def submit(booking, reg, days, *, key: str | None = None,
                 if_some_full: str = "prendre_le_reste", headers=None):
    body = {"registration_id": str(reg.id), "if_some_full": if_some_full,
            "days": [{"date": d.isoformat(), "unit": u} for d, u in days]}
    return await booking.client.post(
        f"/families/{reg.family.id}/tickets", json=body,
        headers={**(headers or reg.family.headers),
                 "Idempotency-Key": key or f"k-{uuid.uuid4().hex}"})


async def decided(booking, reg, ticket_id: str, timeout: float = 15.0) -> dict:
    """The ticket once decided (the page a family refreshes)."""
    deadline = time.monotonic() + timeout
    while True:
        r = await booking.client.get(f"/families/{reg.family.id}/tickets/{ticket_id}",
                                     headers=reg.family.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == "traite":
            return r.json()
        assert time.monotonic() < deadline, r.json()
        await asyncio.sleep(0.05)


async def families(booking, period, n: int, prefix: str = "F"):
    return [await booking.register(await booking.family(f"{prefix}{i}", ["Léa"]), "Léa", period)
            for i in range(n)]


async def test_an_ordinary_submission_is_two_statements_on_postgresql(booking, monkeypatch):
    """On PostgreSQL the acknowledgement reads the registration with its period's calendar in
    one statement, then writes the ticket in one (each round trip cost the service more CPU
    than PostgreSQL's work, bench/booking_rush.py); on SQLite the read and the two writes of
    one unit of work."""
    period = await opening(booking, capacity=3)
    [reg] = await families(booking, period, 1)
    seen = hot_statements(monkeypatch)
    r = await submit(booking, reg, [(TUE, "repas")])
    assert r.status_code == 202 and r.json()["position"] == 1, r.text
    postgres = booking.app.state.runtime.engine.dialect.name == "postgresql"
    assert seen == (["SELECT", "WITH"] if postgres else ["SELECT", "INSERT", "INSERT"])


async def test_a_period_without_a_calendar_is_refused_in_french(booking):
    """The registration read with its period's calendar: no calendar yet is a 409, nothing
    queued."""
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    [reg] = await families(booking, period, 1)
    r = await submit(booking, reg, [(TUE, "repas")])
    assert r.status_code == 409 and "pas encore ouvert" in r.json()["detail"], r.text
    assert await booking.rows(queue_ticket) == []


async def test_decisions_follow_the_order_of_arrival(booking):
    """Ten families at the opening on a day of three places: the first three arrived are
    booked, the seven others wait in their order of arrival."""
    period = await opening(booking, capacity=3)
    regs = await families(booking, period, 10)
    answers = await asyncio.gather(*(submit(booking, r, [(TUE, "repas")]) for r in regs))
    assert [a.status_code for a in answers] == [202] * 10, [a.text for a in answers]
    acks = [a.json() for a in answers]
    assert sorted(t["position"] for t in acks) == list(range(1, 11))
    assert all(t["kind"] == "reservation" and t["if_some_full"] == "prendre_le_reste"
               and 0 <= t["ahead"] < t["position"] for t in acks)

    final = [await decided(booking, r, t["id"]) for r, t in zip(regs, acks, strict=True)]
    by_position = sorted(final, key=lambda t: t["position"])
    outcomes = [t["outcomes"][0] for t in by_position]
    assert [o["status"] for o in outcomes] == ["reservee"] * 3 + ["liste_attente"] * 7
    assert [o["detail"] for o in outcomes[3:]] == [
        f"Complet : repas du mardi 20 octobre 2026 sur liste d'attente, position {p}."
        for p in range(1, 8)]
    assert outcomes[0]["label"] == "Léa — mardi 20 octobre, repas"
    assert outcomes[0]["detail"] == "Réservé : repas du mardi 20 octobre 2026."
    assert all(o["ok"] and o["reference_id"] for o in outcomes)
    assert all(t["ahead"] == 0 and t["decided_at"] for t in final)

    slot = (await booking.rows(day_slot, day_slot.c.period_id == period.id,
                               day_slot.c.day == TUE, day_slot.c.unit == "repas"))[0]
    assert slot.booked == 3
    counter = (await booking.rows(queue_counter, queue_counter.c.resource_id == period.id))[0]
    assert (counter.issued, counter.decided) == (10, 10)

    # The staff's opening view: received, decided, places left, waiting.
    r = await booking.client.get(f"/staff/booking-openings/{period.id}", headers=booking.staff)
    assert r.status_code == 200, r.text
    (group,) = r.json()["resources"]
    # 10 opening days × 4 units × 3 places, 3 taken on Tuesday's meal.
    assert (group["received"], group["decided"], group["waitlisted"]) == (10, 10, 7)
    assert (group["capacity"], group["places_left"]) == (120, 117)
    r = await booking.client.get(f"/staff/booking-openings/{period.id}",
                                 headers=regs[0].family.headers)
    assert r.status_code == 403


async def test_the_same_key_is_the_same_ticket(booking):
    """A double click, a refresh, a resubmission: one place in line, one booking."""
    period = await opening(booking, capacity=5)
    (reg,) = await families(booking, period, 1)
    key = "reservations-ete-2026-lea"
    first, second = await asyncio.gather(submit(booking, reg, [(TUE, "repas")], key=key),
                                         submit(booking, reg, [(TUE, "repas")], key=key))
    assert sorted([first.status_code, second.status_code]) == [200, 202], (first.text,
                                                                          second.text)
    assert first.json()["id"] == second.json()["id"]
    ticket = await decided(booking, reg, first.json()["id"])
    again = await submit(booking, reg, [(TUE, "repas")], key=key)
    assert again.status_code == 200
    assert again.json() == ticket  # decided, with its outcomes: nothing booked twice

    rows = await booking.rows(reservation, reservation.c.registration_id == reg.id)
    assert [(r.day, r.unit, r.status) for r in rows] == [(TUE, "repas", "reservee")]
    assert len(await booking.rows(queue_ticket, queue_ticket.c.family_id == reg.family.id)) == 1
    counter = (await booking.rows(queue_counter, queue_counter.c.resource_id == period.id))[0]
    assert counter.issued == 1  # the repeats took no place in line
    listed = await booking.client.get(f"/families/{reg.family.id}/tickets",
                                      headers=reg.family.headers)
    assert [t["id"] for t in listed.json()["items"]] == [ticket["id"]]

    # Another family cannot read it, nor reuse the key to reach it.
    (other,) = await families(booking, period, 1, prefix="O")
    r = await booking.client.get(f"/families/{other.family.id}/tickets/{ticket['id']}",
                                 headers=other.family.headers)
    assert r.status_code == 404
    r = await booking.client.get(f"/families/{reg.family.id}/tickets/{ticket['id']}",
                                 headers=other.family.headers)
    assert r.status_code == 404


async def test_all_or_nothing(booking):
    """« Tout ou rien »: one day full, nothing booked, every day waitlisted; « prendre le
    reste »: the free days booked, the full one waitlisted. A day past its deadline at
    reception is refused with the rule, whatever the capacity."""
    period = await opening(booking, capacity=1)
    first, all_or_nothing, the_rest = await families(booking, period, 3)
    t = (await submit(booking, first, [(TUE, "repas")])).json()
    assert (await decided(booking, first, t["id"]))["outcomes"][0]["status"] == "reservee"

    days = [(MON, "repas"), (TUE, "repas"), (WED, "repas")]
    t = (await submit(booking, all_or_nothing, days, if_some_full="tout_ou_rien")).json()
    outcomes = (await decided(booking, all_or_nothing, t["id"]))["outcomes"]
    assert [o["status"] for o in outcomes] == ["liste_attente"] * 3
    assert outcomes[0]["detail"].startswith("Tout ou rien : un autre jour demandé est complet")
    assert not [r for r in await booking.rows(reservation,
                                              reservation.c.registration_id == all_or_nothing.id)
                if r.status == "reservee"]

    t = (await submit(booking, the_rest, days)).json()
    outcomes = (await decided(booking, the_rest, t["id"]))["outcomes"]
    assert [o["status"] for o in outcomes] == ["reservee", "liste_attente", "reservee"]
    assert outcomes[1]["detail"] == ("Complet : repas du mardi 20 octobre 2026 sur liste "
                                     "d'attente, position 2.")

    # Monday's deadline (the day before at 15:00) passes between two submissions.
    (late,) = await families(booking, period, 1, prefix="L")
    booking.clock.set(booking.clock().replace(month=10, day=18, hour=16))
    t = (await submit(booking, late, [(MON, "matin"), (WED, "matin")])).json()
    outcomes = (await decided(booking, late, t["id"]))["outcomes"]
    assert [o["status"] for o in outcomes] == ["refusee", "reservee"]
    assert outcomes[0]["ok"] is False
    assert outcomes[0]["detail"] == ("Délai de réservation dépassé : réservable jusqu'à la "
                                     "veille à 15 h 00.")


async def test_submissions_wait_while_too_many_tickets_are_undecided(booking):
    """The process's admission bound (BOOKING_QUEUE_MAX_BACKLOG): with two tickets undecided,
    the third submission waits (bounded) before taking its place, still in arrival order; once
    the decider has caught up, submissions go in at once again."""
    await booking.app.state.decider.stop()
    runtime, clock = booking.app.state.runtime, booking.clock
    decider = Decider("bounded", lambda: tickets.decide_pending(runtime.uow, clock),
                      poll_seconds=0.05, max_backlog=2, admission_wait=0.4)
    booking.app.state.decider = decider  # not started yet: nothing is decided
    period = await opening(booking, capacity=5)
    regs = await families(booking, period, 4)
    waited = []
    for r in regs[:3]:
        started = time.monotonic()
        answer = await submit(booking, r, [(TUE, "repas")])
        waited.append(time.monotonic() - started)
        assert answer.status_code == 202, answer.text
    assert waited[0] < 0.3 and waited[1] < 0.3, waited
    assert waited[2] >= 0.4, waited  # two undecided: it waited its bounded time, then went in
    assert decider.backlog == 3

    decider.start()
    try:
        await caught_up(decider)
        started = time.monotonic()
        last = await submit(booking, regs[3], [(TUE, "repas")])
        assert time.monotonic() - started < 0.3
        assert last.status_code == 202 and last.json()["position"] == 4
        assert (await decided(booking, regs[3], last.json()["id"]))["outcomes"][0]["status"] \
            == "reservee"
    finally:
        await decider.stop()


async def test_two_deciders_never_overbook(booking, database_url):
    """Two processes' deciders at once on 40 tickets for 5 places: 5 booked, each ticket decided
    once, the waiting list in arrival order."""
    n, capacity = (40, 5) if database_url.startswith("postgresql") else (12, 3)
    await booking.app.state.decider.stop()  # this test runs its own two
    period = await opening(booking, capacity=capacity)
    regs = await families(booking, period, n)
    acks = [(await submit(booking, r, [(TUE, "journee")])).json() for r in regs]
    assert [t["position"] for t in acks] == list(range(1, n + 1))
    assert acks[-1]["ahead"] == n - 1 and acks[-1]["status"] == "en_file"

    runtime, clock = booking.app.state.runtime, booking.clock
    deciders = [Decider(f"d{i}", lambda: tickets.decide_pending(runtime.uow, clock,
                                                                batch_size=3),
                        poll_seconds=0.01) for i in range(2)]
    for d in deciders:
        d.start()
    try:
        final = [await decided(booking, r, t["id"], timeout=60)
                 for r, t in zip(regs, acks, strict=True)]
    finally:
        for d in deciders:
            await d.stop()
    assert sum(d.decided for d in deciders) == n
    statuses = [t["outcomes"][0]["status"] for t in final]
    assert statuses == ["reservee"] * capacity + ["liste_attente"] * (n - capacity)

    rows = await booking.rows(reservation, reservation.c.period_id == period.id)
    for unit in ("journee", "repas"):  # « journée » implies the meal
        slot = (await booking.rows(day_slot, day_slot.c.period_id == period.id,
                                   day_slot.c.unit == unit))[0]
        assert slot.booked == capacity == sum(r.unit == unit and r.status == "reservee"
                                              for r in rows)
    waiting = sorted((r for r in rows if r.status == "liste_attente"), key=lambda r: r.seq)
    assert [r.registration_id for r in waiting] == [r.id for r in regs[capacity:]]
    events = await booking.outbox()
    assert len(events) == len(rows)  # one event per reservation, none twice
    assert all(len(e) == 1 for e in events.values())


async def test_a_doomed_submission_is_refused_at_once(booking):
    period = await opening(booking, capacity=3)
    reg, other = await families(booking, period, 2)
    cases = [
        # Another family's registration: not found, as everywhere else.
        (await submit(booking, other, [(TUE, "repas")], headers=reg.family.headers,
                      key="cle-autre-famille"), 404, "introuvable"),
        (await submit(booking, reg, [(TUE, "piscine")]), 422, "n'existe pas"),
        (await submit(booking, reg, [(date(2026, 11, 3), "repas")]), 422,
         "n'appartient pas à la période"),
        (await submit(booking, reg, [(TUE, "repas"), (TUE, "repas")]), 422, "deux fois"),
        # Every day closed (a Saturday): nothing could ever be booked.
        (await submit(booking, reg, [(date(2026, 10, 24), "repas")]), 409, "Jour fermé"),
    ]
    for r, code, words in cases:
        assert r.status_code == code, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], r.json()
    body = {"registration_id": str(reg.id), "days": [{"date": TUE.isoformat(), "unit": "repas"}]}
    for headers in ({}, {"Idempotency-Key": "court"}, {"Idempotency-Key": "pas de blancs!"}):
        r = await booking.client.post(f"/families/{reg.family.id}/tickets", json=body,
                                      headers={**reg.family.headers, **headers})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await booking.client.post(f"/families/{reg.family.id}/tickets",
                                  json={**body, "days": []},
                                  headers={**reg.family.headers, "Idempotency-Key": "k-vide-01"})
    assert r.status_code == 422

    await booking.cancel_registration(reg)
    r = await submit(booking, reg, [(TUE, "repas")])
    assert r.status_code == 409 and "validée" in r.json()["detail"], r.text
    # Nothing queued, no place in line taken.
    assert not await booking.rows(queue_ticket)
    assert not await booking.rows(queue_counter)


async def test_the_events_of_the_decisions(booking):
    """The usual reservation events, version 1, in the outbox with the decision: « journée »
    confirmed with its implied meal, a full day waitlisted with its position."""
    period = await opening(booking, capacity={"matin": 1, "soir": 1, "repas": 5, "journee": 5})
    first, second = await families(booking, period, 2)
    t1 = (await submit(booking, first, [(TUE, "journee"), (TUE, "matin")])).json()
    t2 = (await submit(booking, second, [(TUE, "matin")])).json()
    o1 = (await decided(booking, first, t1["id"]))["outcomes"]
    o2 = (await decided(booking, second, t2["id"]))["outcomes"]
    assert [o["status"] for o in o1 + o2] == ["reservee", "reservee", "liste_attente"]
    # One summary per ticket, for identity's single email to the family.
    async with booking.app.state.runtime.uow() as uow:
        summaries = [json.loads(r.envelope)["payload"] for r in (await uow.session.execute(
            select(outbox_table(metadata)).where(outbox_table(metadata).c.event_type
                                                 == "booking.ticket_decided"))).all()]
    assert sorted((p["ticket_id"], p["booked"], p["waitlisted"], p["refused"])
                  for p in summaries) == sorted([(t1["id"], 2, 0, 0), (t2["id"], 0, 1, 0)])
    assert [line["status"] for p in summaries if p["ticket_id"] == t2["id"]
            for line in p["lines"]] == ["liste_attente"]

    events = await booking.outbox()
    rows = {str(r.id): r for r in await booking.rows(reservation,
                                                     reservation.c.period_id == period.id)}
    assert set(events) == set(rows)
    kinds = sorted((rows[rid].unit, kind, version, payload.get("position"))
                   for rid, evts in events.items() for kind, version, payload in evts)
    assert kinds == [("journee", "confirmed", 1, None), ("matin", "confirmed", 1, None),
                     ("matin", "waitlisted", 1, 1), ("repas", "confirmed", 1, None)]
    for rid, evts in events.items():
        payload = evts[0][2]
        assert payload["child_id"] == str(rows[rid].child_id)
        assert payload["family_id"] == str(rows[rid].family_id)
    assert o1[0]["reference_id"] in events
    assert rows[o2[0]["reference_id"]].status == "liste_attente"

    # A later cancellation promotes the waiting one, as for any reservation (version 2).
    r = await booking.change(first, (TUE, "matin", "annuler"))
    assert r.json()["results"][0]["ok"], r.text
    events = await booking.outbox()
    assert [(k, v) for k, v, _ in events[o2[0]["reference_id"]]] == [("waitlisted", 1),
                                                                      ("promoted", 2)]


async def test_a_day_and_its_implied_unit_in_one_ticket(booking):
    """« Journée » implies the meal: asked together, the meal is already booked when the day
    is; when the day waits, the meal asked on its own is booked (as « Valider » does)."""
    period = await opening(booking, capacity={"matin": 5, "soir": 5, "repas": 5, "journee": 1})
    first, second = await families(booking, period, 2)
    t = (await submit(booking, first, [(TUE, "journee"), (TUE, "repas")])).json()
    outcomes = (await decided(booking, first, t["id"]))["outcomes"]
    assert [o["status"] for o in outcomes] == ["reservee", "refusee"]
    assert outcomes[1]["detail"] == "Cet enfant est déjà inscrit ce jour-là pour ce créneau."
    t = (await submit(booking, second, [(TUE, "journee"), (TUE, "repas")])).json()
    outcomes = (await decided(booking, second, t["id"]))["outcomes"]
    assert [o["status"] for o in outcomes] == ["liste_attente", "reservee"]
    rows = await booking.rows(reservation, reservation.c.period_id == period.id)
    assert sorted((r.unit, r.status) for r in rows if r.registration_id == second.id) == [
        ("journee", "liste_attente"), ("repas", "reservee")]
    meal = (await booking.rows(day_slot, day_slot.c.period_id == period.id,
                               day_slot.c.unit == "repas"))[0]
    assert meal.booked == 2


async def test_a_batch_is_a_fixed_number_of_statements(booking):
    """Deciding 2 tickets or 12 takes the same statements: read once, decide in Python,
    write in bulk."""
    from sqlalchemy import event

    await booking.app.state.decider.stop()
    counts = []
    for n in (2, 12):
        period = await opening(booking, capacity=5)
        regs = await families(booking, period, n, prefix=f"S{n}-")
        for reg in regs:
            answer = await submit(booking, reg, [(TUE, "journee"), (WED, "soir")])
            assert answer.status_code == 202, answer.text
        statements: list[str] = []
        engine = booking.app.state.runtime.engine.sync_engine

        def count(conn, cursor, statement, *args, seen=statements):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            decided_now = await tickets.decide_batch(booking.app.state.runtime.uow, period.id,
                                                     booking.clock())
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert decided_now == n
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 16, counts


async def test_bookings_open_at_the_scheduled_time_for_tickets_and_the_grid_alike(booking):
    """Staff schedule the opening of bookings: before it, a ticket and a direct booking are
    refused with the opening's date and hour; from it, both are taken."""
    from datetime import timedelta

    opens = booking.clock() + timedelta(hours=2)
    period = await opening(booking, capacity=3, bookings_open_at=opens.isoformat())
    (reg,) = await families(booking, period, 1)
    early = await submit(booking, reg, [(TUE, "repas")])
    assert early.status_code in (409, 422), early.text
    assert "Les réservations de cette période ouvrent le" in early.json()["detail"]
    direct = await booking.change(reg, (WED, "repas", "reserver"))
    assert not direct.json()["results"][0]["ok"]
    assert "ouvrent le" in direct.json()["results"][0]["detail"]
    settings = (await booking.client.get(f"/staff/calendars/{period.id}",
                                         headers=booking.staff)).json()
    assert settings["bookings_open_at"] is not None
    live = (await booking.client.get(f"/staff/booking-openings/{period.id}",
                                     headers=booking.staff)).json()
    assert live["opens_at"] is not None

    booking.clock.set(opens + timedelta(seconds=1))
    ticket = await submit(booking, reg, [(TUE, "repas")])
    assert ticket.status_code == 202, ticket.text
    outcome = (await decided(booking, reg, ticket.json()["id"]))["outcomes"]
    assert [o["status"] for o in outcome] == ["reservee"]
    assert (await booking.book(reg, WED))["ok"]
