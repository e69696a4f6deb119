"""Request bodies (answers are the use cases' dictionaries)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from marelle_enrolment.domain.rules import ValidationMode

Label = Annotated[str, Field(min_length=1, max_length=120)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameIn(Strict):
    name: Label


class ActivityTypeIn(Strict):
    facility_id: uuid.UUID
    name: Label


class ActivityIn(Strict):
    activity_type_id: uuid.UUID
    name: Label
    pre_registration: bool = False


class PeriodIn(Strict):
    label: Label
    start_date: date
    end_date: date
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    priority_opens_at: AwareDatetime | None = None
    memo: Annotated[str, Field(max_length=5000)] = ""
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


class WeekdayIn(Strict):
    weekday: Annotated[int, Field(ge=1, le=7)]
    units: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=10)] = []


class RegistrationRequestIn(Strict):
    child_id: uuid.UUID
    group_id: uuid.UUID
    typical_week: Annotated[list[WeekdayIn], Field(max_length=7)] = []
    memo: Annotated[str, Field(max_length=2000)] = ""
    duplicate_for: Annotated[list[uuid.UUID], Field(max_length=10)] = []


class Decision(Strict):
    registration_id: uuid.UUID
    decision: Literal["validate", "refuse"]
    reason: Annotated[str | None, Field(max_length=1000)] = None


class DecisionsIn(Strict):
    decisions: Annotated[list[Decision], Field(min_length=1, max_length=200)]


class OrderIn(Strict):
    registration_ids: Annotated[list[uuid.UUID], Field(max_length=1000)]


class ReasonIn(Strict):
    reason: Annotated[str | None, Field(max_length=1000)] = None
