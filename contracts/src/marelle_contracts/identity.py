"""Events published by identity on `marelle.identity.v1`, keyed by family id."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class BeneficiaryScheme(StrEnum):
    CAF = "CAF"
    MSA = "MSA"
    OTHER = "AUTRE"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChildFacts(_Payload):
    child_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None


class GuardianFacts(_Payload):
    guardian_id: uuid.UUID
    rank: int
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Sex | None = None


class GuardianPhones(_Payload):
    guardian_id: uuid.UUID
    rank: int
    mobile_phone: str | None = None
    work_phone: str | None = None


class FamilyCreated(_Payload):
    """A household was created, with the people known at creation."""

    family_id: uuid.UUID
    name: str
    email: str | None = None
    children: list[ChildFacts] = []
    guardians: list[GuardianFacts] = []
    needs_review: bool = False


class ChildAdded(_Payload):
    family_id: uuid.UUID
    child: ChildFacts


class ChildUpdated(_Payload):
    family_id: uuid.UUID
    child: ChildFacts


class GuardianAdded(_Payload):
    family_id: uuid.UUID
    guardian: GuardianFacts


class GuardianUpdated(_Payload):
    family_id: uuid.UUID
    guardian: GuardianFacts


class ContactDetailsChanged(_Payload):
    """The household's contact details as they now are (whole state, phones in E.164)."""

    family_id: uuid.UUID
    email: str | None = None
    home_phone: str | None = None
    beneficiary_name: str | None = None
    beneficiary_scheme: BeneficiaryScheme | None = None
    beneficiary_number: str | None = None
    guardians: list[GuardianPhones] = []


class FieldChange(_Payload):
    before: str | None = None
    after: str | None = None


class ContactChangeRequested(_Payload):
    family_id: uuid.UUID
    request_id: uuid.UUID
    changes: dict[str, FieldChange]


class ContactChangeAccepted(_Payload):
    family_id: uuid.UUID
    request_id: uuid.UUID
    decided_by: uuid.UUID


class ContactChangeRefused(_Payload):
    family_id: uuid.UUID
    request_id: uuid.UUID
    decided_by: uuid.UUID
    reason: str


class EmailChanged(_Payload):
    family_id: uuid.UUID
    old_email: str | None = None
    new_email: str
