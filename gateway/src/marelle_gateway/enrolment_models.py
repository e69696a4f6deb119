"""enrolment's answers as the pages read them (`services/enrolment/API.md`); extra fields ignored.

The JSON API relays enrolment's bodies as they are; it uses these models only to document them.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

# Statuses of a registration (API.md « Statuses »), in the order the pages group them.
STATUSES = ("en_attente", "liste_attente", "validee", "refusee", "annulee")
# Statuses a family may still cancel (enrolment answers 409 for the others).
CANCELLABLE = ("en_attente", "liste_attente", "validee")
# The guide's marks, by the catalogue name of their meaning.
MARKS = {"V": "validated", "?": "pending", "!": "pre_registration"}


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Group(_Read):
    id: str
    label: str
    min_age: int | None = None
    max_age: int | None = None
    capacity: int | None = None
    places_taken: int | None = None
    places_left: int = 0
    waiting: int = 0
    full: bool = False
    closed: bool = False


class Period(_Read):
    id: str
    label: str
    start_date: date
    end_date: date
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    priority_opens_at: datetime | None = None
    memo: str = ""
    validation_mode: str | None = None
    groups: list[Group] = []


class Activity(_Read):
    id: str
    name: str
    pre_registration: bool = False
    periods: list[Period] = []


class ActivityType(_Read):
    id: str
    name: str
    activities: list[Activity] = []


class Facility(_Read):
    id: str
    name: str
    activity_types: list[ActivityType] = []


class OfferChild(_Read):
    id: str
    first_name: str
    last_name: str
    birth_date: date | None = None
    age: int | None = None


class Offer(_Read):
    """What a child may ask for now: open periods, groups fitting its age."""

    child: OfferChild
    facilities: list[Facility] = []


class TypicalDay(_Read):
    weekday: int
    units: list[str] = []


class Registration(_Read):
    id: str
    child_id: str
    child_first_name: str = ""
    child_last_name: str = ""
    period_id: str | None = None
    group_id: str | None = None
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


class Attestation(_Read):
    id: str
    registration_id: str
    status: str  # demandee | delivree
    requested_at: datetime | None = None
    issued_at: datetime | None = None

    @property
    def issued(self) -> bool:
        return self.status == "delivree"


class RegistrationResult(_Read):
    """One child's outcome of a request (the child, then each brother or sister)."""

    child_id: str
    ok: bool
    detail: str = ""
    registration: Registration | None = None


class RegistrationResults(_Read):
    results: list[RegistrationResult]


class Registrations(_Read):
    items: list[Registration]


class Attestations(_Read):
    items: list[Attestation]
