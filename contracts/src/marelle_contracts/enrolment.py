"""Events published by enrolment on `marelle.enrolment.v1`.

Catalogue events are keyed by period id; registration and attestation events by child id, so one
child's story is read in order.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RegistrationStatus(StrEnum):
    PENDING = "en_attente"
    VALIDATED = "validee"
    REFUSED = "refusee"
    CANCELLED = "annulee"
    WAITLISTED = "liste_attente"


class GroupFacts(_Payload):
    group_id: uuid.UUID
    label: str
    min_age: int
    max_age: int
    capacity: int
    closed: bool = False


class PeriodFacts(_Payload):
    """A period with its place in the catalogue and its groups (whole state)."""

    period_id: uuid.UUID
    facility_id: uuid.UUID
    facility_name: str
    activity_type_id: uuid.UUID
    activity_type_name: str
    activity_id: uuid.UUID
    activity_name: str
    pre_registration: bool = False
    label: str
    start_date: date
    end_date: date
    opens_at: datetime
    closes_at: datetime
    closed: bool = False
    groups: list[GroupFacts] = []


class PeriodPublished(PeriodFacts):
    pass


class PeriodChanged(PeriodFacts):
    pass


class WeekdayUnits(_Payload):
    """One weekday of a typical week (1 = Monday … 7 = Sunday) and, later, its units."""

    weekday: int
    units: list[str] = []


class RegistrationFacts(_Payload):
    registration_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    facility_name: str
    activity_name: str
    period_label: str
    group_label: str
    start_date: date
    end_date: date
    status: RegistrationStatus
    typical_week: list[WeekdayUnits] = []
    # The family's note to the structure (allergies, pick-up…): staff day lists show it.
    memo: str = ""


class RegistrationRequested(RegistrationFacts):
    pass


class RegistrationValidated(RegistrationFacts):
    pass


class RegistrationRefused(RegistrationFacts):
    reason: str


class RegistrationWaitlisted(RegistrationFacts):
    position: int


class RegistrationPromoted(RegistrationFacts):
    """Taken off the waiting list: now validated (status) or pending staff validation."""


class RegistrationCancelled(RegistrationFacts):
    cancelled_by: str  # "famille" | "structure"


class AttestationIssued(_Payload):
    attestation_id: uuid.UUID
    registration_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    period_label: str
