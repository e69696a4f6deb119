"""Deadlines, horizon and the other booking rules, with the controllable clock (FixedClock):
each refusal is a French sentence naming its rule."""

from __future__ import annotations

from datetime import date

from services.booking.tests.conftest import paris

TUE = date(2026, 10, 20)


async def reg_on(booking, start, end, capacity=5, **settings):
    period = await booking.period(start, end)
    await booking.configure(period, capacity=capacity, **settings)
    fam = await booking.family("Dupont", ["Léa"])
    return await booking.register(fam, "Léa", period)


async def test_cutoff_hour_the_day_before(booking):
    reg = await reg_on(booking, date(2026, 10, 19), date(2026, 10, 30),
                       booking_deadline={"days": 1, "cutoff": "15:00"})
    booking.clock.set(paris(2026, 10, 19, 15, 1))
    late = await booking.book(reg, TUE)
    assert not late["ok"]
    assert late["detail"] == "Délai de réservation dépassé : réservable jusqu'à la veille à 15 h 00."
    assert "la veille à 15 h" in late["detail"]
    # The grid says so too (not clickable, with the reason).
    grid = (await booking.client.get(f"{reg.base}/calendar", params={"month": "2026-10"},
                                     headers=reg.family.headers)).json()
    cell = {c["unit"]: c for c in next(d for d in grid["days"] if d["day"] == str(TUE))["cells"]}
    assert cell["repas"]["bookable"] is False and cell["repas"]["reason"] == late["detail"]
    booking.clock.set(paris(2026, 10, 19, 14, 59))
    ok = await booking.book(reg, TUE)
    assert ok["ok"] and ok["status"] == "reservee", ok


async def test_working_days_across_a_monday_public_holiday(booking):
    """Tuesday 30 March 2027 comes after Easter Monday: two working days before it is Thursday
    25 March (Friday 26 is the first), at 15:00."""
    tuesday = date(2027, 3, 30)
    reg = await reg_on(booking, date(2027, 3, 22), date(2027, 4, 2),
                       booking_deadline={"days": 2, "working_days": True, "cutoff": "15:00"})
    booking.clock.set(paris(2027, 3, 26, 9))  # Friday: only 1 working day left
    refused = await booking.book(reg, tuesday)
    assert refused["detail"] == ("Délai de réservation dépassé : réservable jusqu'à 2 jours "
                                 "ouvrés avant à 15 h 00.")
    booking.clock.set(paris(2027, 3, 25, 15, 1))
    assert not (await booking.book(reg, tuesday))["ok"]
    booking.clock.set(paris(2027, 3, 25, 14, 59))
    assert (await booking.book(reg, tuesday))["ok"]
    # The Monday itself is closed (public holiday), whatever the clock.
    monday = await booking.book(reg, date(2027, 3, 29))
    assert monday["detail"] == "Jour fermé (jour férié : Lundi de Pâques, 29 mars)."


async def test_same_day_deadline(booking):
    reg = await reg_on(booking, date(2026, 10, 19), date(2026, 10, 30),
                       booking_deadline={"days": 0, "cutoff": "09:00"})
    booking.clock.set(paris(2026, 10, 20, 8, 59))
    assert (await booking.book(reg, TUE))["ok"]
    booking.clock.set(paris(2026, 10, 21, 9, 1))
    r = await booking.book(reg, date(2026, 10, 21))
    assert r["detail"] == "Délai de réservation dépassé : réservable jusqu'au jour même à 9 h 00."
    # A past day.
    assert (await booking.book(reg, TUE, "matin"))["detail"] == "Ce jour est passé."


async def test_horizon(booking):
    reg = await reg_on(booking, date(2026, 10, 19), date(2026, 11, 30), horizon_days=30)
    # Clock: Monday 5 October 2026 → bookable up to 4 November.
    assert (await booking.book(reg, date(2026, 11, 4)))["ok"]
    beyond = await booking.book(reg, date(2026, 11, 5))
    assert beyond["detail"] == "Au-delà de l'horizon de réservation (30 jours)."


async def test_cancellation_deadline(booking):
    thursday = date(2026, 10, 22)
    reg = await reg_on(booking, date(2026, 10, 19), date(2026, 10, 30),
                       cancellation_deadline={"days": 2, "cutoff": "12:00"})
    assert (await booking.book(reg, thursday))["ok"]
    assert (await booking.book(reg, date(2026, 10, 23)))["ok"]
    booking.clock.set(paris(2026, 10, 20, 12, 1))
    late = await booking.cancel(reg, thursday)
    assert late["detail"] == "Délai d'annulation dépassé : annulable jusqu'à 2 jours avant à 12 h 00."
    booking.clock.set(paris(2026, 10, 20, 11, 59))
    assert (await booking.cancel(reg, thursday))["ok"]
    # Nothing to cancel.
    nothing = await booking.cancel(reg, thursday)
    assert nothing["detail"] == "Aucune réservation de cet enfant ce jour-là pour ce créneau."


async def test_closed_days_units_and_places(booking):
    reg = await reg_on(booking, date(2026, 11, 2), date(2026, 11, 20),
                       capacity={"matin": 5, "repas": 5, "journee": 5})
    armistice = await booking.book(reg, date(2026, 11, 11))
    assert armistice["detail"] == "Jour fermé (jour férié : Armistice, 11 novembre)."
    saturday = await booking.book(reg, date(2026, 11, 7))
    assert saturday["detail"] == "Jour fermé (fermé)."
    outside = await booking.book(reg, date(2026, 11, 23))
    assert outside["detail"] == "Jour fermé (hors période)."
    no_places = await booking.book(reg, date(2026, 11, 3), "soir")
    assert no_places["detail"] == "Aucune place n'est ouverte pour ce créneau."


async def test_unknown_unit(booking):
    reg = await reg_on(booking, date(2026, 11, 2), date(2026, 11, 20))
    r = await booking.book(reg, date(2026, 11, 3), "gouter")
    assert r["detail"] == "Ce créneau n'existe pas dans le calendrier de cette période."


async def test_week_only(booking):
    """Weeks of 19–23 and 26–30 October; week 2 booked as a whole or not at all."""
    reg = await reg_on(booking, date(2026, 10, 19), date(2026, 10, 30), week_only=True)
    week2 = [date(2026, 10, d) for d in range(26, 31)]
    partial = await booking.change(reg, *[(d, "repas", "reserver") for d in week2[:4]])
    results = partial.json()["results"]
    assert {r["detail"] for r in results} == {
        "Réservations à la semaine : cochez tous les jours de la semaine 2."}
    whole = await booking.change(reg, *[(d, "repas", "reserver") for d in week2])
    assert all(r["ok"] for r in whole.json()["results"]), whole.text
    # Cancelling one day of the week alone is refused too; the whole week is fine.
    one = (await booking.change(reg, (week2[0], "repas", "annuler"))).json()["results"][0]
    assert one["detail"] == "Réservations à la semaine : cochez tous les jours de la semaine 2."
    allw = await booking.change(reg, *[(d, "repas", "annuler") for d in week2])
    assert all(r["ok"] for r in allw.json()["results"]), allw.text


async def test_families_may_not_modify(booking):
    reg = await reg_on(booking, date(2026, 10, 19), date(2026, 10, 30), families_may_modify=False)
    r = await booking.book(reg, TUE)
    assert r["detail"] == ("La structure ne permet pas de modifier les réservations en ligne : "
                           "contactez-la.")
