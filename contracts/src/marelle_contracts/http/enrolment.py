"""enrolment's HTTP bodies (`services/enrolment/API.md`): the catalogue, the offer, registration
requests, waiting lists, attestations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from marelle_contracts.dashboard import RequestItem, RequestItems
from marelle_contracts.http._base import Answer, Created, FreeText, SingleLine, Strict
from marelle_contracts.http.queue import (
    IfSomeFull,
    Opening,
    OpeningResource,
    Openings,
    OpeningStatus,
    Ticket,
    Tickets,
)

__all__ = [
    "CANCELLABLE", "MARKS", "STATUSES", "Activity", "ActivityIn", "ActivityType",
    "ActivityTypeIn", "AgeGroupFlag", "Attestation", "Attestations", "Catalogue",
    "ClassChild", "ClassChildren", "ClassRegistration", "Created", "Decision",
    "DecisionResult", "DecisionResults", "DecisionsIn", "DistrictOpening",
    "DistrictOpeningIn", "Facility", "Group", "GroupIn", "Label",
    "NameIn", "NewGroupIn", "NewPeriodIn", "Offer", "OfferChild", "OrderIn", "Period",
    "PeriodIn", "ReasonIn", "Registration", "RegistrationRequestIn", "RegistrationResult",
    "RegistrationResults", "Registrations", "RequestItem", "RequestItems", "SchoolClass",
    "SchoolClasses", "StaffAttestation", "StaffAttestations", "StaffRegistration",
    "StaffRegistrations", "Strict", "TypicalDay", "RegistrationTicketIn", "Ticket",
    "Tickets", "OpeningStatus", "OpeningResource", "Opening", "Openings",
    "ValidationMode", "WaitingList", "WeekdayIn",
]

Label = Annotated[str, Field(min_length=1, max_length=120), SingleLine]

# Statuses of a registration (API.md « Statuses »), in the order the portal groups them.
STATUSES = ("en_attente", "liste_attente", "validee", "refusee", "annulee")
# Statuses a family may still cancel (enrolment answers 409 for the others).
CANCELLABLE = ("en_attente", "liste_attente", "validee")
# The guide's marks, by the catalogue name of their meaning.
MARKS = {"V": "validated", "?": "pending", "!": "pre_registration"}


class ValidationMode(StrEnum):
    """Who validates a period's requests (and promotes from its waiting lists)."""

    STAFF = "structure"
    AUTO = "automatique"


# --- the catalogue (staff writes) --------------------------------------------------------------

class NameIn(Strict):
    name: Label


class ActivityTypeIn(Strict):
    facility_id: uuid.UUID
    name: Label


class ActivityIn(Strict):
    activity_type_id: uuid.UUID
    name: Label
    pre_registration: bool = False


class DistrictOpeningIn(Strict):
    """Households of a district (billing's referential) may ask from `opens_at`."""

    district: Annotated[str, Field(min_length=1, max_length=30, pattern=r"^[a-z0-9][a-z0-9-]*$")
                        ] = Field(description="The district's code (billing's list). — Code du "
                                              "quartier (liste de la facturation).")
    district_label: Label = Field(description="The district's name, shown to families. — Nom du "
                                              "quartier, montré aux familles.")
    opens_at: AwareDatetime = Field(description="Opening to the district's households (before "
                                                "the opening to all). — Ouverture aux familles "
                                                "du quartier (avant l'ouverture à tous).")


class DistrictOpening(Answer):
    district: str = Field(description="The district's code. — Code du quartier.")
    district_label: str = Field(description="The district's name. — Nom du quartier.")
    opens_at: datetime = Field(description="Opening to the district's households. — Ouverture "
                                           "aux familles du quartier.")


class PeriodIn(Strict):
    label: Label
    start_date: date
    end_date: date
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    priority_opens_at: AwareDatetime | None = None
    # Households living in the city may ask from then (before `opens_at`).
    residents_open_at: AwareDatetime | None = Field(
        None, description="Opening to households living in the city. — Ouverture aux familles "
                          "résidant dans la commune.")
    # Districts at different times: each district's households may ask from its own moment.
    district_openings: Annotated[list[DistrictOpeningIn], Field(max_length=100)] = Field(
        [], description="Openings by district, each before `opens_at` (none: no district "
                        "priority). — Ouvertures par quartier, chacune avant l'ouverture à tous.")
    memo: FreeText(5000) = ""  # type: ignore[valid-type]
    validation_mode: ValidationMode = ValidationMode.STAFF
    promotion_mode: ValidationMode = ValidationMode.AUTO


class NewPeriodIn(PeriodIn):
    activity_id: uuid.UUID


class GroupIn(Strict):
    label: Label
    min_age: Annotated[int, Field(ge=0, le=25)]
    max_age: Annotated[int, Field(ge=0, le=25)]
    capacity: Annotated[int, Field(ge=0, le=10000)]


class NewGroupIn(GroupIn):
    period_id: uuid.UUID


# --- the catalogue and the offer (answers) ------------------------------------------------------

class Group(Answer):
    id: uuid.UUID
    label: str
    min_age: int | None = None
    max_age: int | None = None
    capacity: int | None = None
    places_taken: int | None = None
    places_left: int = 0
    waiting: int = 0
    full: bool = False
    closed: bool = False


class Period(Answer):
    id: uuid.UUID
    label: str
    start_date: date
    end_date: date
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    priority_opens_at: datetime | None = None
    residents_open_at: datetime | None = Field(
        None, description="Opening to households living in the city. — Ouverture aux familles "
                          "résidant dans la commune.")
    district_openings: list[DistrictOpening] = Field(
        [], description="Openings by district, earliest first. — Ouvertures par quartier, la "
                        "plus tôt d'abord.")
    memo: str = ""
    validation_mode: ValidationMode | None = None
    promotion_mode: ValidationMode | None = None
    closed: bool = False
    groups: list[Group] = []


class Activity(Answer):
    id: uuid.UUID
    name: str
    pre_registration: bool = False
    periods: list[Period] = []


class ActivityType(Answer):
    id: uuid.UUID
    name: str
    activities: list[Activity] = []


class Facility(Answer):
    id: uuid.UUID
    name: str
    activity_types: list[ActivityType] = []


class Catalogue(Answer):
    """`GET /staff/catalogue`: every facility, closed periods and groups included."""

    facilities: list[Facility]


class OfferChild(Answer):
    id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date | None = None
    age: int | None = None


class Offer(Answer):
    """What a child may ask for now: open periods, groups fitting its age."""

    child: OfferChild
    facilities: list[Facility] = []


# --- registration requests ----------------------------------------------------------------------

class WeekdayIn(Strict):
    weekday: Annotated[int, Field(ge=1, le=7)]  # 1 = lundi … 7 = dimanche
    units: Annotated[list[Annotated[str, Field(max_length=40), SingleLine]],
                     Field(max_length=10)] = []


class RegistrationRequestIn(Strict):
    """One request for the child, then one for each brother or sister in `duplicate_for`."""

    child_id: uuid.UUID
    group_id: uuid.UUID
    typical_week: Annotated[list[WeekdayIn], Field(max_length=7)] = []
    memo: FreeText(2000) = ""  # type: ignore[valid-type]
    duplicate_for: Annotated[list[uuid.UUID], Field(max_length=10)] = []


class RegistrationTicketIn(Strict):
    """A submission to the opening queue: one group, the children asking it (docs/opening-rush.md)."""

    group_id: uuid.UUID = Field(description="The group asked. — Le groupe demandé.")
    child_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=10)] = Field(
        description="The children, in the family's order of preference. — Les enfants, dans "
                    "l'ordre de la famille.")
    typical_week: Annotated[list[WeekdayIn], Field(max_length=7)] = Field(
        [], description="The typical week asked. — La semaine type souhaitée.")
    memo: FreeText(2000) = Field("", description="A note for the staff. — Un mot pour la "  # type: ignore[valid-type]
                                                 "structure.")
    if_some_full: IfSomeFull = Field(
        "prendre_le_reste",
        description="When places are missing for some children: take the rest and waitlist "
                    "the others, or waitlist all. — S'il manque des places : prendre le reste "
                    "et mettre les autres en liste d'attente, ou tout en liste d'attente.")


class TypicalDay(Answer):
    weekday: int
    units: list[str] = []


class Registration(Answer):
    id: uuid.UUID
    child_id: uuid.UUID
    child_first_name: str = ""
    child_last_name: str = ""
    family_id: uuid.UUID | None = None
    period_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    status: str
    mark: str = ""
    pre_registration: bool = False
    facility_name: str = ""
    activity_name: str = ""
    period_label: str = ""
    group_label: str = ""
    start_date: date
    end_date: date
    typical_week: list[TypicalDay] = []
    memo: str = ""
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    waitlist_position: int | None = None
    capacity: int | None = None

    @property
    def label(self) -> str:
        """« {activity} - {period} », the guide's « Libellé »."""
        return " - ".join(part for part in (self.activity_name, self.period_label) if part)

    @property
    def status_key(self) -> str:
        # An unknown (newer) status still renders, with a neutral word.
        return self.status if self.status in STATUSES else "other"

    @property
    def mark_key(self) -> str | None:
        return MARKS.get(self.mark)

    @property
    def validated(self) -> bool:
        return self.status == "validee"

    @property
    def cancellable(self) -> bool:
        return self.status in CANCELLABLE

    def current(self, today: date) -> bool:
        """« Inscriptions en cours »: validated and not ended (enrolment's `state=cours`)."""
        return self.validated and self.end_date >= today


class Registrations(Answer):
    items: list[Registration]


class StaffRegistration(Registration):
    """A registration in the staff queue: with its group's places taken."""

    places_taken: int | None = None


class StaffRegistrations(Answer):
    items: list[StaffRegistration]


class RegistrationResult(Answer):
    """One child's outcome of a request (the child, then each brother or sister)."""

    child_id: uuid.UUID
    ok: bool
    detail: str = ""
    registration: Registration | None = None


class RegistrationResults(Answer):
    results: list[RegistrationResult]


class Decision(Strict):
    registration_id: uuid.UUID
    decision: Literal["validate", "refuse"]
    reason: FreeText(1000) | None = None  # type: ignore[valid-type]


class DecisionsIn(Strict):
    decisions: Annotated[list[Decision], Field(min_length=1, max_length=200)]


class DecisionResult(Answer):
    registration_id: uuid.UUID
    ok: bool
    detail: str = ""


class DecisionResults(Answer):
    results: list[DecisionResult]


# --- waiting lists ------------------------------------------------------------------------------

class WaitingList(Answer):
    group_id: uuid.UUID
    label: str
    capacity: int
    places_taken: int
    items: list[Registration]


class OrderIn(Strict):
    registration_ids: Annotated[list[uuid.UUID], Field(max_length=1000)]


class ReasonIn(Strict):
    reason: FreeText(1000) | None = None  # type: ignore[valid-type]


# --- attestations -------------------------------------------------------------------------------

class Attestation(Answer):
    id: uuid.UUID
    registration_id: uuid.UUID
    status: str  # demandee | delivree
    requested_at: datetime | None = None
    issued_at: datetime | None = None

    @property
    def issued(self) -> bool:
        return self.status == "delivree"


class Attestations(Answer):
    items: list[Attestation]


class StaffAttestation(Attestation):
    family_id: uuid.UUID | None = None
    child_name: str = ""
    facility_name: str = ""
    activity_name: str = ""
    period_label: str = ""
    group_label: str = ""


class StaffAttestations(Answer):
    items: list[StaffAttestation]


# --- school classes (from the schools' system) --------------------------------------------------

class SchoolClass(Answer):
    """A class of a school year, as the schools' system assigned children to it."""

    school_id: str
    school_name: str
    class_name: str
    levels: list[str] = []  # TPS … CM2, in school order; two for a mixed class (CE1, CE2)
    children: int = 0


class SchoolClasses(Answer):
    """`GET /staff/classes?school_year=`: by school name, then class."""

    school_year: str
    items: list[SchoolClass]


class AgeGroupFlag(Answer):
    """Something staff should check about a registration, explained in French."""

    kind: str  # age | niveau (a newer kind may come: show its message)
    message: str


class ClassRegistration(Answer):
    """One of the child's registrations on a period of the school year (active ones only)."""

    id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    facility_name: str = ""
    activity_name: str = ""
    period_label: str = ""
    group_label: str = ""
    start_date: date
    end_date: date
    status: str
    mark: str = ""
    min_age: int | None = None
    max_age: int | None = None
    age_at_start: int | None = None  # the child's age on the period's first day
    flags: list[AgeGroupFlag] = []

    @property
    def status_key(self) -> str:
        return self.status if self.status in STATUSES else "other"


class ClassChild(Answer):
    """A child of the class; `known: false` while identity has not told enrolment about the
    child yet (no name, no birth date then)."""

    child_id: uuid.UUID
    known: bool = True
    family_id: uuid.UUID | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: date | None = None
    age: int | None = None  # on 1 September of the school year
    level: str
    assigned_on: date | None = None
    registrations: list[ClassRegistration] = []


class ClassChildren(Answer):
    """`GET /staff/classes/children?school_year=&school_id=&class_name=`."""

    school_year: str
    school_id: str
    school_name: str
    class_name: str
    levels: list[str] = []
    children: list[ClassChild]
