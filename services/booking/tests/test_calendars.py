"""Calendars: opening days (weekdays, added/removed dates, public holidays, school holidays of the
zone), the guide's booking weeks, and the staff's PUT/GET with its validations."""

from __future__ import annotations

import uuid
from datetime import date, time

import pytest

from marelle_booking.domain.calendar import (
    CalendarRules,
    booking_weeks,
    closed_refusal,
    weekday_letter,
)
from marelle_booking.domain.rules import Deadline, implied_units
from services.booking.tests.conftest import UNITS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_guide_autumn_2016_weeks():
    """The guide's memo: Automne 2016 from Thursday 20 October to 3 November (school starts
    again on Thursday 3 November: the centre closes that day), 1 November a public holiday."""
    rules = CalendarRules(date(2016, 10, 20), date(2016, 11, 3),
                          removed=frozenset({date(2016, 11, 3)}))
    days = rules.opening_days()
    assert date(2016, 11, 1) not in days
    assert rules.closed_reason(date(2016, 11, 1)) == "Jour férié : Toussaint, 1er novembre"
    assert closed_refusal(rules.closed_reason(date(2016, 11, 1))) == (
        "Jour fermé (jour férié : Toussaint, 1er novembre).")
    weeks = booking_weeks(days)
    assert [w.label for w in weeks] == [
        "Sem 1 : 20 et 21 octobre 2016",
        "Sem 2 : du lundi au vendredi",
        "Sem 3 : 31 octobre et 2 novembre",
    ]
    assert weeks[2].days == [date(2016, 10, 31), date(2016, 11, 2)]


def test_opening_days_rules():
    base = dict(start=date(2026, 11, 2), end=date(2026, 11, 15))
    # Wednesdays only; 11 November (Armistice) a public holiday; one added Saturday.
    rules = CalendarRules(**base, weekdays=frozenset({3}), added=frozenset({date(2026, 11, 7)}))
    assert rules.opening_days() == [date(2026, 11, 4), date(2026, 11, 7)]
    assert rules.closed_reason(date(2026, 11, 11)).startswith("Jour férié : Armistice")
    assert rules.closed_reason(date(2026, 11, 16)) == "Hors période"
    # Public holidays kept open when the manager says so.
    assert date(2026, 11, 11) in CalendarRules(**base, weekdays=frozenset({3}),
                                               skip_public_holidays=False).opening_days()
    # A removed date.
    removed = CalendarRules(**base, removed=frozenset({date(2026, 11, 3)}))
    assert date(2026, 11, 3) not in removed.opening_days()
    assert removed.closed_reason(date(2026, 11, 3)) == "Fermé"


def test_school_holidays_of_the_zone():
    """Winter 2027 holidays differ by zone: périscolaire closed during those of its zone."""
    feb = dict(start=date(2027, 2, 1), end=date(2027, 3, 31), skip_school_holidays=True)
    zones = {z: set(CalendarRules(**feb, school_zone=z).opening_days()) for z in "ABC"}
    assert zones["A"] != zones["B"] != zones["C"]
    closed_a = CalendarRules(**feb, school_zone="A")
    every = CalendarRules(date(2027, 2, 1), date(2027, 3, 31)).opening_days()
    closed_day = min(set(every) - zones["A"])
    assert closed_a.closed_reason(closed_day).startswith("Vacances scolaires : Vacances d'hiver")


def test_weekday_letters_and_labels():
    assert "".join(weekday_letter(date(2016, 10, d)) for d in range(1, 8)) == "SDLMMJV"
    weeks = booking_weeks([date(2026, 10, 26), date(2026, 10, 27), date(2026, 10, 29)])
    assert weeks[0].label == "Sem 1 : 26, 27 et 29 octobre 2026"
    weeks = booking_weeks([date(2026, 10, 26), date(2026, 10, 27), date(2026, 10, 28),
                           date(2026, 10, 29)])
    assert weeks[0].label == "Sem 1 : du lundi au jeudi"


def test_deadline_descriptions_and_implied_units():
    assert Deadline(1, False, time(15)).booking_refusal() == (
        "Délai de réservation dépassé : réservable jusqu'à la veille à 15 h 00.")
    assert Deadline(0, False, time(9)).describe() == "le jour même à 9 h 00"
    assert Deadline(2, True, time(12)).describe() == "2 jours ouvrés avant à 12 h 00"
    assert implied_units({"journee": ["repas"], "repas": []}, "journee") == ["journee", "repas"]


async def test_put_and_get_calendar(booking):
    period = await booking.period(date(2016, 10, 20), date(2016, 11, 3))
    r = await booking.client.get(f"/staff/calendars/{period.id}", headers=booking.staff)
    assert r.status_code == 404 and "pas encore configuré" in r.json()["detail"]
    r = await booking.configure(period, removed_dates=["2016-11-03"], week_only=True,
                                memo="Attention les inscriptions sont à la semaine",
                                booking_deadline={"days": 2, "working_days": True,
                                                  "cutoff": "12:00"},
                                horizon_days=60)
    body = r.json()
    assert body["version"] == 1 and body["week_only"] and body["horizon_days"] == 60
    assert [w["label"] for w in body["weeks"]] == [
        "Sem 1 : 20 et 21 octobre 2016", "Sem 2 : du lundi au vendredi",
        "Sem 3 : 31 octobre et 2 novembre"]
    assert len(body["opening_days"]) == 9
    assert body["booking_deadline"] == {"days": 2, "working_days": True, "cutoff": "12:00:00"}
    assert len(body["capacities"]) == len(UNITS)
    r = await booking.configure(period)
    assert r.json()["version"] == 2
    got = (await booking.client.get(f"/staff/calendars/{period.id}", headers=booking.staff)).json()
    assert got["version"] == 2 and got["week_only"] is False


@pytest.mark.parametrize("change, detail", [
    ({"units": [UNITS[0], UNITS[0]]}, "code différent"),
    ({"units": [{"code": "journee", "label": "Journée", "kind": "journee", "implies": ["x"]}]},
     "créneau inconnu"),
    ({"capacities": [{"group_id": str(uuid.uuid4()), "unit": "repas", "capacity": 3}]},
     "groupe qui n'appartient pas"),
    ({"skip_school_holidays": True}, "zone de vacances"),
])
async def test_put_calendar_refusals(booking, change, detail):
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    body = {"units": UNITS, **change}
    r = await booking.client.put(f"/staff/calendars/{period.id}", json=body, headers=booking.staff)
    assert r.status_code == 422 and detail in r.json()["detail"], r.text


async def test_unknown_period(booking):
    r = await booking.client.put(f"/staff/calendars/{uuid.uuid4()}", json={"units": UNITS},
                                 headers=booking.staff)
    assert r.status_code == 404 and r.json()["detail"] == (
        "Cette période est inconnue du service de réservation.")
