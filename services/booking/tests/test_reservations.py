"""« Mes réservations » through the HTTP app: booking, waiting list, cancellation that promotes,
implied units, typical week, group assignment, waiting days, staff views, the dashboard, the
registration cancelled later, and who may see what."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from marelle_booking.db import day_slot, reservation
from services.booking.tests.conftest import paris

# Monday 19 – Friday 30 October 2026 (clock: Monday 5 October 2026, 10:00 Paris).
START, END = date(2026, 10, 19), date(2026, 10, 30)
TUE = date(2026, 10, 20)


async def setup(booking, capacity=2, **settings):
    period = await booking.period(START, END, groups=("6-8 ans Rémond", "9-11 ans"))
    await booking.configure(period, capacity=capacity, **settings)
    return period


async def test_book_waitlist_cancel_promotes_in_order(booking):
    period = await setup(booking, capacity=1)
    fams = [await booking.family(f"F{i}", ["Léa"]) for i in range(3)]
    regs = [await booking.register(f, "Léa", period) for f in fams]
    first = await booking.book(regs[0], TUE)
    assert first["ok"] and first["status"] == "reservee", first
    assert first["detail"] == "Réservé : repas du mardi 20 octobre 2026."
    second = await booking.book(regs[1], TUE)
    third = await booking.book(regs[2], TUE)
    assert (second["status"], second["position"]) == ("liste_attente", 1)
    assert (third["status"], third["position"]) == ("liste_attente", 2)
    again = await booking.book(regs[0], TUE)
    assert not again["ok"] and again["detail"] == "Cet enfant est déjà inscrit ce jour-là pour ce créneau."

    waiting = (await booking.client.get(f"/families/{fams[2].id}/waiting-days",
                                        headers=fams[2].headers)).json()["items"]
    assert [(w["day"], w["unit_label"], w["position"]) for w in waiting] == [
        ("2026-10-20", "Repas", 2)]

    cancelled = await booking.cancel(regs[0], TUE)
    assert cancelled["ok"] and cancelled["status"] == "annulee", cancelled
    rows = {r.family_id: r.status for r in await booking.rows(reservation)}
    assert rows == {fams[0].id: "annulee", fams[1].id: "reservee", fams[2].id: "liste_attente"}
    slot = (await booking.rows(day_slot, day_slot.c.day == TUE, day_slot.c.unit == "repas"))[0]
    assert (slot.capacity, slot.booked) == (1, 1)
    waiting = (await booking.client.get(f"/families/{fams[2].id}/waiting-days",
                                        headers=fams[2].headers)).json()["items"]
    assert waiting[0]["position"] == 1

    events = await booking.outbox()
    by_family = {e[0][2]["family_id"]: [(k, v) for k, v, _ in e] for e in events.values()}
    assert by_family[str(fams[0].id)] == [("confirmed", 1), ("cancelled", 2)]
    assert by_family[str(fams[1].id)] == [("waitlisted", 1), ("promoted", 2)]
    cancel_payload = next(p for e in events.values() for k, _, p in e if k == "cancelled")
    assert cancel_payload["cancelled_by"] == "famille" and cancel_payload["within_deadline"]

    # Staff see the day's waiting list; raising the capacity promotes the next one.
    day_list = (await booking.client.get(f"/staff/calendars/{period.id}/days/{TUE}/waiting-list",
                                         headers=booking.staff)).json()
    assert [(i["position"], i["unit"]) for i in day_list["items"]] == [(1, "repas")]
    await booking.configure(period, capacity=2)
    rows = {r.family_id: r.status for r in await booking.rows(reservation)}
    assert rows[fams[2].id] == "reservee"
    # Lowering it below what is booked cancels nobody; a new booking waits.
    await booking.configure(period, capacity=1)
    late = await booking.family("Late", ["Tom"])
    reg = await booking.register(late, "Tom", period)
    assert (await booking.book(reg, TUE))["status"] == "liste_attente"
    assert sum(r.status == "reservee" for r in await booking.rows(reservation)) == 2


async def test_implied_units_and_cancel_cascade(booking):
    period = await setup(booking, capacity=5)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    result = await booking.book(reg, TUE, "journee")
    assert result["ok"], result
    rows = {r.unit: r.status for r in await booking.rows(reservation)}
    assert rows == {"journee": "reservee", "repas": "reservee"}
    await booking.cancel(reg, TUE, "journee")
    rows = {r.unit: r.status for r in await booking.rows(reservation)}
    assert rows == {"journee": "annulee", "repas": "annulee"}
    # The meal full: « journée » cannot be booked (all or nothing).
    await booking.configure(period, capacity={"matin": 5, "soir": 5, "repas": 0, "journee": 5})
    result = await booking.book(reg, TUE, "journee")
    assert not result["ok"] and "Repas" in result["detail"], result
    assert not [r for r in await booking.rows(reservation) if r.status != "annulee"]


async def test_month_grid(booking):
    period = await setup(booking, capacity=1)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    other = await booking.register(await booking.family("Autre", ["Zoé"]), "Zoé", period)
    await booking.book(other, TUE)
    await booking.book(reg, TUE)
    await booking.book(reg, date(2026, 10, 21), "matin")
    r = await booking.client.get(f"{reg.base}/calendar", params={"month": "2026-10"},
                                 headers=fam.headers)
    assert r.status_code == 200, r.text
    grid = r.json()
    assert grid["child_first_name"] == "Léa" and len(grid["days"]) == 31
    assert [d["weekday_letter"] for d in grid["days"][:7]] == list("JVSDLMM")
    days = {d["day"]: d for d in grid["days"]}
    assert days["2026-10-18"]["open"] is False and days["2026-10-18"]["closed_reason"] == "Hors période"
    assert days["2026-10-24"]["closed_reason"] == "Fermé"
    cells = {c["unit"]: c for c in days["2026-10-20"]["cells"]}
    assert cells["repas"]["state"] == "liste_attente" and cells["repas"]["position"] == 1
    assert cells["matin"]["state"] == "libre" and cells["matin"]["bookable"]
    assert {c["unit"]: c["state"] for c in days["2026-10-21"]["cells"]}["matin"] == "reservee"
    assert grid["weeks"][0]["label"] == "Sem 1 : du lundi au vendredi"
    assert grid["next_month"] is None and grid["previous_month"] is None
    assert grid["typical_week"] == [{"weekday": 3, "units": ["journee"]}]
    # Default month: the period's first month (the clock is before it).
    assert (await booking.client.get(f"{reg.base}/calendar", headers=fam.headers)
            ).json()["month"] == "2026-10"


async def test_typical_week_and_group_assignment(booking):
    period = await setup(booking, capacity=1)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    await booking.book(reg, date(2026, 10, 21), "matin")
    r = await booking.client.post(f"{reg.base}/typical-week", json={
        "start": "2026-10-01", "end": "2026-11-30",
        "days": [{"weekday": 3, "units": ["matin"]}, {"weekday": 5, "units": ["repas", "soir"]}]},
        headers=fam.headers)
    assert r.status_code == 200, r.text
    results = [(x["day"], x["unit"], x["ok"], x["detail"]) for x in r.json()["results"]]
    assert results[0] == ("2026-10-21", "matin", True, "Déjà réservé.")
    assert [x[:3] for x in results[1:]] == [
        ("2026-10-23", "repas", True), ("2026-10-23", "soir", True),
        ("2026-10-28", "matin", True), ("2026-10-30", "repas", True), ("2026-10-30", "soir", True)]

    # « Affecter les Groupes »: the 23rd moves to 9-11 ans; the other group full on the 30th.
    blocker = await booking.register(await booking.family("B", ["Max"]), "Max", period,
                                     group="9-11 ans")
    await booking.book(blocker, date(2026, 10, 30), "repas")
    other = str(period.groups["9-11 ans"])
    r = await booking.client.post(f"{reg.base}/group-assignments", json={
        "group_id": other, "days": ["2026-10-23", "2026-10-30"]}, headers=fam.headers)
    assert r.status_code == 200, r.text
    moved, kept = r.json()["results"]
    assert moved["ok"], moved
    assert not kept["ok"] and "complet" in kept["detail"], kept
    rows = await booking.rows(reservation, reservation.c.child_id == fam.children["Léa"],
                              reservation.c.status == "reservee")
    groups = {(str(r.day), r.unit): str(r.group_id) for r in rows}
    assert groups[("2026-10-23", "repas")] == other and groups[("2026-10-23", "soir")] == other
    assert groups[("2026-10-30", "repas")] == str(reg.group_id)


async def test_access_rules(booking):
    period = await setup(booking)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    intruder = await booking.family("Intrus", ["Max"])
    # Another family's registration: not found, both through their own path and ours.
    r = await booking.client.get(f"/families/{intruder.id}/registrations/{reg.id}/calendar",
                                 headers=intruder.headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await booking.change(reg, (TUE, "repas", "reserver"), headers=intruder.headers)
    assert r.status_code == 404
    r = await booking.client.post(f"/families/{intruder.id}/registrations/{reg.id}/reservations",
                                  json={"changes": [{"day": str(TUE), "unit": "repas",
                                                     "action": "reserver"}]},
                                  headers=intruder.headers)
    assert r.status_code == 404 and r.json()["detail"] == "Cette inscription est introuvable."
    # Parents cannot reach staff routes.
    r = await booking.client.get(f"/staff/calendars/{period.id}", headers=fam.headers)
    assert r.status_code == 403
    # Only a validated registration: a cancelled one answers 409 with the rule.
    await booking.cancel_registration(reg)
    r = await booking.change(reg, (TUE, "repas", "reserver"))
    assert r.status_code == 409 and "validée" in r.json()["detail"]


async def test_registration_cancelled_or_refused_cancels_future_bookings(booking):
    period = await setup(booking, capacity=1)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    wait_fam = await booking.family("Attente", ["Zoé"])
    waiting = await booking.register(wait_fam, "Zoé", period)
    for day in (TUE, date(2026, 10, 22)):
        assert (await booking.book(reg, day))["status"] == "reservee"
    assert (await booking.book(waiting, TUE))["status"] == "liste_attente"
    # An older event changes nothing (no cascade); the newer cancellation cascades from the
    # event's day: the 20th stays (past by then), the 22nd is cancelled.
    await booking.cancel_registration(reg, version=1)
    assert {r.status for r in await booking.rows(reservation, reservation.c.registration_id == reg.id)} == {"reservee"}
    await booking.cancel_registration(reg, version=5, at=paris(2026, 10, 21, 9))
    rows = {(str(r.day), r.status, r.cancelled_by) for r in await booking.rows(
        reservation, reservation.c.registration_id == reg.id)}
    assert rows == {("2026-10-20", "reservee", None), ("2026-10-22", "annulee", "inscription")}

    # A refusal too, and it frees the place for the waiting list.
    fam2 = await booking.family("Refus", ["Tom"])
    reg2 = await booking.register(fam2, "Tom", period)
    third = await booking.register(await booking.family("Trois", ["Ana"]), "Ana", period)
    assert (await booking.book(reg2, date(2026, 10, 23)))["status"] == "reservee"
    assert (await booking.book(third, date(2026, 10, 23)))["status"] == "liste_attente"
    await booking.cancel_registration(reg2, refused=True)
    rows = {r.registration_id: r.status for r in await booking.rows(
        reservation, reservation.c.day == date(2026, 10, 23))}
    assert rows == {reg2.id: "annulee", third.id: "reservee"}
    # Replaying the refusal changes nothing more.
    await booking.cancel_registration(reg2, version=reg2.version, refused=True)
    assert await _count(booking) == 5


async def _count(booking) -> int:
    async with booking.app.state.runtime.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(reservation)))


async def test_staff_promote_and_cancel_and_dashboard(booking):
    period = await setup(booking, capacity=1)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    other = await booking.family("Autre", ["Zoé"])
    reg2 = await booking.register(other, "Zoé", period)
    await booking.book(reg, TUE)
    await booking.book(reg2, TUE)
    w = (await booking.rows(reservation, reservation.c.status == "liste_attente"))[0]
    r = await booking.client.post(f"/staff/reservations/{w.id}/promote", headers=booking.staff)
    assert r.status_code == 409 and "complet" in r.json()["detail"]
    booked = (await booking.rows(reservation, reservation.c.status == "reservee"))[0]
    # Past the family's deadline the staff may still cancel: within_deadline false.
    booking.clock.set(paris(2026, 10, 20, 8))
    assert (await booking.cancel(reg, TUE))["detail"].startswith("Délai d'annulation dépassé")
    r = await booking.client.post(f"/staff/reservations/{booked.id}/cancel", headers=booking.staff)
    assert r.status_code == 204, r.text
    r = await booking.client.post(f"/staff/reservations/{booked.id}/cancel", headers=booking.staff)
    assert r.status_code == 409
    events = await booking.outbox()
    cancel = [p for k, _, p in events[str(booked.id)] if k == "cancelled"][0]
    assert (cancel["cancelled_by"], cancel["within_deadline"]) == ("structure", False)
    assert [k for k, _, _ in events[str(w.id)]] == ["waitlisted", "promoted"]

    items = (await booking.client.get(f"/families/{other.id}/requests",
                                      headers=other.headers)).json()["items"]
    assert items == [{"kind": "reservation", "label": "Réservation de Zoé : repas du mardi 20 "
                      "octobre 2026", "status": "acceptee", "created_at": items[0]["created_at"],
                      "decided_at": items[0]["decided_at"], "reason": None}]
    r = await booking.client.get(f"/families/{other.id}/requests", headers=fam.headers)
    assert r.status_code == 404


async def test_month_grid_in_a_fixed_number_of_queries(booking):
    """The same number of SQL statements for an empty month and a busy one."""
    from sqlalchemy import event

    period = await booking.period(date(2026, 10, 19), date(2026, 11, 27))
    await booking.configure(period, capacity=1)
    fam = await booking.family("Dupont", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    rival = await booking.register(await booking.family("R", ["Zoé"]), "Zoé", period)
    for d in (20, 21, 22, 23, 26, 27):
        await booking.book(rival, date(2026, 10, d))
        await booking.book(reg, date(2026, 10, d))
        await booking.book(reg, date(2026, 10, d), "matin")
    statements: list[str] = []
    engine = booking.app.state.runtime.engine.sync_engine

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = []
        for month in ("2026-10", "2026-11"):
            statements.clear()
            r = await booking.client.get(f"{reg.base}/calendar", params={"month": month},
                                         headers=fam.headers)
            assert r.status_code == 200, r.text
            counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert counts[0] == counts[1] + 1 <= 9, counts  # + the positions query when some wait
