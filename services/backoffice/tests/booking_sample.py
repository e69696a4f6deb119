"""Booking answers shaped as services/booking/API.md describes them (staff part).

Built from booking's own models (`marelle_contracts.http.booking`; the period copy from the
chassis' `PeriodCopy` with enrolment's `GroupFacts`) and dumped as booking sends them;
`test_contract_fakes.py` checks them against booking's real OpenAPI.
"""

from __future__ import annotations

import copy

from marelle_chassis.catalogue_copy import PeriodCopy
from marelle_contracts.enrolment import GroupFacts
from marelle_contracts.http import booking as B

from .enrolment_sample import FULL_GROUP_ID, GROUP_ID, PERIOD_ID
from .sample import answer

CHILD_LEA = "c0000000-0000-4000-8000-00000000000a"
CHILD_HUGO = "c0000000-0000-4000-8000-00000000000b"
CHILD_ZOE = "c0000000-0000-4000-8000-00000000000c"
CHILD_MAX = "c0000000-0000-4000-8000-00000000000d"
WAIT_ZOE = "90000000-0000-4000-8000-000000000001"
WAIT_MAX = "90000000-0000-4000-8000-000000000002"
BOOKED_LEA_DAY = "91000000-0000-4000-8000-000000000001"
BOOKED_LEA_MEAL = "91000000-0000-4000-8000-000000000002"
BOOKED_HUGO_MORNING = "91000000-0000-4000-8000-000000000003"
LINE_ID = "80000000-0000-4000-8000-000000000001"
STOP_MAIRIE = "81000000-0000-4000-8000-000000000001"
STOP_ECOLE = "81000000-0000-4000-8000-000000000002"
STAFF_ID = "70000000-0000-4000-8000-000000000001"
DAY = "2016-10-20"

PERIOD = answer(PeriodCopy(
    period_id=PERIOD_ID, facility_name="CENTRE DE LOISIRS ALSH",
    activity_type_name="Mercredi, vacances", activity_name="AUTOMNE", label="Automne 2016",
    start_date="2016-10-20", end_date="2016-11-03", closed=False, revision=3, version=3,
    groups=[answer(GroupFacts(group_id=GROUP_ID, label="6-8 ans Rémond", min_age=6, max_age=8,
                              capacity=12)),
            answer(GroupFacts(group_id=FULL_GROUP_ID, label="9-11 ans", min_age=9, max_age=11,
                              capacity=2))],
))

CALENDAR = answer(B.CalendarSettings(
    period_id=PERIOD_ID, period_label="Automne 2016", start_date="2016-10-20",
    end_date="2016-11-03", weekdays=[1, 2, 3, 4, 5], added_dates=[],
    removed_dates=["2016-11-02"], skip_public_holidays=True, skip_school_holidays=False,
    school_zone=None,
    booking_deadline=B.Deadline(days=1, working_days=False, cutoff="15:00"),
    cancellation_deadline=B.Deadline(days=2, working_days=True, cutoff="12:00"),
    horizon_days=60, families_may_modify=True, week_only=True,
    memo="Attention les inscriptions sont a la semaine:\nSem 1 : 20 et 21 octobre 2016",
    units=[B.UnitInfo(code="accueil-matin", label="Accueil du matin", kind="accueil"),
           B.UnitInfo(code="repas", label="Repas", kind="supplement"),
           B.UnitInfo(code="journee", label="Journée complète", kind="journee",
                      implies=["repas"])],
    capacities=[B.CapacityIn(group_id=GROUP_ID, unit="journee", capacity=12),
                B.CapacityIn(group_id=FULL_GROUP_ID, unit="journee", capacity=2),
                B.CapacityIn(group_id=GROUP_ID, unit="journee", capacity=8, day="2016-10-31")],
    opening_days=["2016-10-20", "2016-10-21", "2016-10-24", "2016-10-25", "2016-10-26",
                  "2016-10-27", "2016-10-28", "2016-10-31", "2016-11-03"],
    weeks=[B.WeekInfo(number=1, label="Sem 1 : 20 et 21 octobre 2016",
                      days=["2016-10-20", "2016-10-21"]),
           B.WeekInfo(number=2, label="Sem 2 : du 24 au 28 octobre 2016",
                      days=["2016-10-24", "2016-10-25", "2016-10-26", "2016-10-27",
                            "2016-10-28"])],
    version=4,
))

OCCUPANCY = answer(B.Occupancy(period_id=PERIOD_ID, rows=[
    B.OccupancyRow(day="2016-10-20", group_id=GROUP_ID, group_label="6-8 ans Rémond",
                   unit="journee", capacity=12, booked=7, waiting=0),
    B.OccupancyRow(day="2016-10-20", group_id=FULL_GROUP_ID, group_label="9-11 ans",
                   unit="journee", capacity=2, booked=2, waiting=2),
    B.OccupancyRow(day="2016-10-21", group_id=GROUP_ID, group_label="6-8 ans Rémond",
                   unit="journee", capacity=12, booked=9, waiting=0),
]))

OCCUPANCY_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                 b'<rect width="10" height="10"/></svg>')
OCCUPANCY_CSV = "\ufeffjour;groupe;unité;places;réservées;attente\r\n" \
                "2016-10-20;6-8 ans Rémond;journee;12;7;0\r\n".encode()

DAY_LIST = answer(B.DayList(period_id=PERIOD_ID, day=DAY, groups=[
    B.DayGroup(group_id=GROUP_ID, label="6-8 ans Rémond", children=[
        B.DayChild(child_id=CHILD_LEA, first_name="Léa", last_name="Martin",
                   units=["journee", "repas"], notes="Allergie aux arachides",
                   shuttle="Ligne 1 — Mairie (aller 8 h 05)", reservations=[
                       B.DayReservation(reservation_id=BOOKED_LEA_DAY, unit="journee",
                                        unit_label="Journée complète"),
                       B.DayReservation(reservation_id=BOOKED_LEA_MEAL, unit="repas",
                                        unit_label="Repas")]),
        B.DayChild(child_id=CHILD_HUGO, first_name="Hugo", last_name="Bernard",
                   units=["accueil-matin"], reservations=[
                       B.DayReservation(reservation_id=BOOKED_HUGO_MORNING,
                                        unit="accueil-matin", unit_label="Accueil du matin")]),
    ]),
    B.DayGroup(group_id=FULL_GROUP_ID, label="9-11 ans", children=[]),
]))

DAY_WAITING = answer(B.DayWaitingList(period_id=PERIOD_ID, day=DAY, items=[
    B.DayWaitingRequest(reservation_id=WAIT_ZOE, child_id=CHILD_ZOE, child_first_name="Zoé",
                        child_last_name="Petit", group_id=FULL_GROUP_ID, group_label="9-11 ans",
                        unit="journee", position=1, requested_at="2016-10-10T07:30:00+00:00"),
    B.DayWaitingRequest(reservation_id=WAIT_MAX, child_id=CHILD_MAX, child_first_name="Max",
                        child_last_name="Durand", group_id=FULL_GROUP_ID,
                        group_label="9-11 ans", unit="journee", position=2,
                        requested_at="2016-10-11T16:00:00+00:00"),
]))

SHUTTLE_LINES = answer(B.ShuttleLines(items=[
    B.ShuttleLine(line_id=LINE_ID, period_id=PERIOD_ID, name="Ligne 1", seats=30, stops=[
        B.ShuttleStop(stop_id=STOP_MAIRIE, name="Mairie", morning_time="08:05",
                      evening_time="17:40"),
        B.ShuttleStop(stop_id=STOP_ECOLE, name="École Jules Ferry", morning_time="08:20"),
    ]),
]))

CREATED = answer(B.Created(id=LINE_ID))

ROLL_CALL = answer(B.RollCall(
    period_id=PERIOD_ID, group_id=GROUP_ID, group_label="6-8 ans Rémond", day=DAY,
    locked=False, lines=[
        B.RollCallLine(child_id=CHILD_LEA, first_name="Léa", last_name="Martin",
                       booked_units=["journee", "repas"], notes="Allergie aux arachides"),
        B.RollCallLine(child_id=CHILD_HUGO, first_name="Hugo", last_name="Bernard",
                       booked_units=["accueil-matin"], status="absent_justifie",
                       reason="Maladie (certificat) : angine"),
    ]))

LOCKED_ROLL_CALL = answer(B.RollCall(
    period_id=PERIOD_ID, group_id=GROUP_ID, group_label="6-8 ans Rémond", day=DAY,
    locked=True, locked_at="2016-10-20T16:05:00+00:00", locked_by=STAFF_ID, lines=[
        B.RollCallLine(child_id=CHILD_LEA, first_name="Léa", last_name="Martin",
                       booked_units=["journee", "repas"], status="present"),
        B.RollCallLine(child_id=CHILD_HUGO, first_name="Hugo", last_name="Bernard",
                       booked_units=["accueil-matin"], status="absent_justifie",
                       reason="Rendez-vous médical"),
        B.RollCallLine(child_id=CHILD_ZOE, first_name="Zoé", last_name="Petit",
                       booked_units=[], status="present_sans_reservation"),
    ]))


def calendar() -> dict:
    """A copy the test may change."""
    return copy.deepcopy(CALENDAR)
