"""Enrolment answers shaped as services/enrolment/API.md describes them (staff part).

Built from enrolment's own models (`marelle_contracts.http.enrolment`) and dumped as enrolment
sends them; `gateway/tests/test_contract_fakes.py` checks them against enrolment's real OpenAPI.
"""

from __future__ import annotations

import copy

from marelle_contracts.http import enrolment as E

from .sample import FAMILY_ID, OTHER_FAMILY_ID, answer

FACILITY_ID = "f0000000-0000-4000-8000-000000000001"
SCHOOL_ID = "f0000000-0000-4000-8000-000000000002"
TYPE_ID = "a0000000-0000-4000-8000-000000000001"
ACTIVITY_ID = "b0000000-0000-4000-8000-000000000001"
NURSERY_ID = "b0000000-0000-4000-8000-000000000002"
PERIOD_ID = "c0000000-0000-4000-8000-000000000001"
CLOSED_PERIOD_ID = "c0000000-0000-4000-8000-000000000002"
GROUP_ID = "d0000000-0000-4000-8000-000000000001"
FULL_GROUP_ID = "d0000000-0000-4000-8000-000000000002"
REG_LEA = "e0000000-0000-4000-8000-000000000001"
REG_HUGO = "e0000000-0000-4000-8000-000000000002"
REG_ZOE = "e0000000-0000-4000-8000-000000000003"
REG_MAX = "e0000000-0000-4000-8000-000000000004"
ATTESTATION_ID = "99999999-0000-4000-8000-000000000001"

PERIOD = answer(E.Period(
    id=PERIOD_ID, label="Automne 2016", start_date="2016-10-20", end_date="2016-11-03",
    # 01/10/2016 00:00 and 15/10/2016 18:00 in Paris (summer time, UTC+2).
    opens_at="2016-09-30T22:00:00+00:00", closes_at="2016-10-15T16:00:00+00:00",
    priority_opens_at="2016-09-25T06:00:00+00:00",
    memo="Attention les inscriptions sont a la semaine:\nSem 1 : 20 et 21 octobre 2016",
    validation_mode="structure", promotion_mode="automatique", closed=False,
    groups=[
        E.Group(id=GROUP_ID, label="6-8 ans Rémond", min_age=6, max_age=8, capacity=12,
                places_taken=7, places_left=5, waiting=0, full=False, closed=False),
        E.Group(id=FULL_GROUP_ID, label="9-11 ans", min_age=9, max_age=11, capacity=2,
                places_taken=2, places_left=0, waiting=3, full=True, closed=False),
    ],
))

CLOSED_PERIOD = answer(E.Period(
    id=CLOSED_PERIOD_ID, label="Été 2016", start_date="2016-07-06", end_date="2016-08-31",
    opens_at="2016-05-01T08:00:00+00:00", closes_at="2016-06-15T16:00:00+00:00",
    priority_opens_at=None, memo="", validation_mode="automatique", promotion_mode="structure",
    closed=True, groups=[],
))

CATALOGUE = answer(E.Catalogue(facilities=[
    E.Facility(id=FACILITY_ID, name="CENTRE DE LOISIRS ALSH", activity_types=[
        E.ActivityType(id=TYPE_ID, name="Mercredi, vacances", activities=[
            E.Activity(id=ACTIVITY_ID, name="AUTOMNE", pre_registration=False,
                       periods=[PERIOD, CLOSED_PERIOD]),
            E.Activity(id=NURSERY_ID, name="CRÈCHE", pre_registration=True, periods=[]),
        ]),
    ]),
    E.Facility(id=SCHOOL_ID, name="GESTION SCOLAIRE / PÉRISCOLAIRE", activity_types=[]),
]))


def registration(reg_id: str, first_name: str, *, family_id: str = FAMILY_ID,
                 group_id: str = GROUP_ID, group_label: str = "6-8 ans Rémond",
                 status: str = "en_attente", requested_at: str = "2016-10-02T07:30:00+00:00",
                 typical_week: list | None = None, memo: str = "", position: int | None = None,
                 capacity: int = 12, places_taken: int | None = 7) -> dict:
    """A registration of the staff queue (with its group's places taken), or, with
    `places_taken=None`, of a waiting list."""
    model = E.StaffRegistration if places_taken is not None else E.Registration
    extra = {"places_taken": places_taken} if places_taken is not None else {}
    return answer(model(
        id=reg_id, child_id=reg_id.replace("e", "c", 1), child_first_name=first_name,
        child_last_name="Martin", family_id=family_id, period_id=PERIOD_ID, group_id=group_id,
        status=status, mark="?", pre_registration=False, facility_name="CENTRE DE LOISIRS ALSH",
        activity_name="AUTOMNE", period_label="Automne 2016", group_label=group_label,
        start_date="2016-10-20", end_date="2016-11-03", typical_week=typical_week or [],
        memo=memo, requested_at=requested_at, decided_at=None, reason=None,
        waitlist_position=position, capacity=capacity, **extra))


QUEUE = answer(E.StaffRegistrations(items=[
    registration(REG_LEA, "Léa", requested_at="2016-10-01T22:15:00+00:00",
                 typical_week=[{"weekday": 1, "units": []},
                               {"weekday": 3, "units": ["accueil", "repas"]}],
                 memo="Allergie aux arachides"),
    registration(REG_HUGO, "Hugo", family_id=OTHER_FAMILY_ID,
                 requested_at="2016-10-03T09:00:00+00:00"),
]))

WAITING = answer(E.WaitingList(
    group_id=FULL_GROUP_ID, label="9-11 ans", capacity=2, places_taken=2, items=[
        registration(REG_ZOE, "Zoé", group_id=FULL_GROUP_ID, group_label="9-11 ans",
                     status="liste_attente", position=1, capacity=2, places_taken=None),
        registration(REG_HUGO, "Hugo", group_id=FULL_GROUP_ID, group_label="9-11 ans",
                     status="liste_attente", position=2, capacity=2, places_taken=None,
                     requested_at="2016-10-04T09:00:00+00:00"),
        registration(REG_MAX, "Max", group_id=FULL_GROUP_ID, group_label="9-11 ans",
                     status="liste_attente", position=3, capacity=2, places_taken=None,
                     requested_at="2016-10-05T09:00:00+00:00",
                     typical_week=[{"weekday": 5, "units": ["journée"]}]),
    ]))

ATTESTATIONS = answer(E.StaffAttestations(items=[
    E.StaffAttestation(id=ATTESTATION_ID, registration_id=REG_LEA, status="demandee",
                       requested_at="2016-12-31T23:30:00+00:00", issued_at=None,
                       family_id=FAMILY_ID, child_name="Léa Martin",
                       facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE",
                       period_label="Automne 2016", group_label="6-8 ans Rémond"),
]))

ISSUED = answer(E.StaffAttestations(items=[
    E.StaffAttestation(**{**ATTESTATIONS["items"][0], "status": "delivree",
                          "issued_at": "2017-01-02T09:00:00+00:00"}),
]))


def catalogue() -> dict:
    """A copy the test may change."""
    return copy.deepcopy(CATALOGUE)


# --- school classes (from the schools' system) ----------------------------------------------------

SCHOOL_YEAR = "2016-2017"
UAI = "0750001A"
CHILD_LEA = REG_LEA.replace("e", "c", 1)
CHILD_HUGO = REG_HUGO.replace("e", "c", 1)
CHILD_UNKNOWN = "c0000000-0000-4000-8000-000000000099"

CLASSES = answer(E.SchoolClasses(school_year=SCHOOL_YEAR, items=[
    E.SchoolClass(school_id=UAI, school_name="École Pasteur", class_name="CE1-CE2",
                  levels=["CE1", "CE2"], children=24),
    E.SchoolClass(school_id=UAI, school_name="École Pasteur", class_name="CP A",
                  levels=["CP"], children=3),
]))

CLASS_CHILDREN = answer(E.ClassChildren(
    school_year=SCHOOL_YEAR, school_id=UAI, school_name="École Pasteur", class_name="CP A",
    levels=["CP"], children=[
        E.ClassChild(child_id=CHILD_HUGO, known=True, family_id=OTHER_FAMILY_ID,
                     first_name="Hugo", last_name="Martin", birth_date="2010-11-20", age=5,
                     level="CP", assigned_on="2016-07-01", registrations=[
                         E.ClassRegistration(
                             id=REG_HUGO, period_id=PERIOD_ID, group_id=FULL_GROUP_ID,
                             facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE",
                             period_label="Automne 2016", group_label="9-11 ans",
                             start_date="2016-10-20", end_date="2016-11-03",
                             status="liste_attente", mark="", min_age=9, max_age=11,
                             age_at_start=5, flags=[
                                 E.AgeGroupFlag(kind="age", message=(
                                     "Âge hors du groupe : le groupe « 9-11 ans » accueille les "
                                     "enfants de 9 à 11 ans (âge au début de la période, le "
                                     "20/10/2016) ; Hugo a alors 5 ans.")),
                                 E.AgeGroupFlag(kind="niveau", message=(
                                     "Niveau scolaire et groupe ne concordent pas : le groupe "
                                     "« 9-11 ans » accueille les enfants de 9 à 11 ans, alors "
                                     "qu'un élève de CP a normalement 6 ans au 31/12/2016.")),
                             ]),
                     ]),
        E.ClassChild(child_id=CHILD_LEA, known=True, family_id=FAMILY_ID, first_name="Léa",
                     last_name="Martin", birth_date="2010-03-10", age=6, level="CP",
                     assigned_on="2016-07-01", registrations=[
                         E.ClassRegistration(
                             id=REG_LEA, period_id=PERIOD_ID, group_id=GROUP_ID,
                             facility_name="CENTRE DE LOISIRS ALSH", activity_name="AUTOMNE",
                             period_label="Automne 2016", group_label="6-8 ans Rémond",
                             start_date="2016-10-20", end_date="2016-11-03", status="validee",
                             mark="V", min_age=6, max_age=8, age_at_start=6, flags=[]),
                     ]),
        E.ClassChild(child_id=CHILD_UNKNOWN, known=False, level="CP", assigned_on="2016-07-01"),
    ]))

# The opening of « Automne 2016 », live: 9-11 ans full with its waiting list, 6-8 ans deciding.
OPENING = answer(E.OpeningStatus(
    period_id=PERIOD_ID, label="Automne 2016", opens_at="2016-09-01T06:30:00Z",
    resources=[
        E.OpeningResource(id=GROUP_ID, label="6-8 ans", capacity=24, received=180, decided=150,
                          places_left=0, waitlisted=126),
        E.OpeningResource(id=FULL_GROUP_ID, label="9-11 ans", capacity=12, received=40,
                          decided=40, places_left=0, waitlisted=28)]))
