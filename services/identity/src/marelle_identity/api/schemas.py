"""Request and response bodies (the French field errors come from the chassis handlers)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from marelle_identity.domain.model import Sex

Name = Annotated[str, Field(min_length=1, max_length=100)]
Email = Annotated[str, Field(min_length=3, max_length=254)]
Password = Annotated[str, Field(min_length=1, max_length=200)]
Token = Annotated[str, Field(min_length=10, max_length=200)]
Phone = Annotated[str | None, Field(max_length=30)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    email: Email
    password: Password


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    expires_in: int


class RefreshIn(Strict):
    refresh_token: Token


class EmailIn(Strict):
    email: Email


class OneTimeTokenIn(Strict):
    token: Token
    purpose: Literal["reset", "invitation"]


class SetPasswordIn(Strict):
    token: Token
    password: Password


class ChangePasswordIn(Strict):
    current_password: Password
    new_password: Password


class GuardianIn(Strict):
    first_name: Name
    last_name: Name
    birth_date: date | None = None
    sex: Sex | None = None


class ChildIn(Strict):
    first_name: Name
    last_name: Name
    birth_date: date
    sex: Sex | None = None


class SignupIn(Strict):
    family_name: Name
    email: Email
    password: Password
    guardian: GuardianIn


class ProvisionalFamilyIn(BaseModel):
    name: Name
    email: Email | None = None
    child: ChildIn


class Person(BaseModel):
    id: uuid.UUID
    role: Literal["guardian", "child"]
    rank: int | None
    first_name: str
    last_name: str
    birth_date: date | None
    sex: str | None
    age: int | None


class Family(BaseModel):
    id: uuid.UUID
    name: str
    email: str | None
    needs_review: bool
    persons: list[Person]


class GuardianPhonesIn(Strict):
    person_id: uuid.UUID
    mobile_phone: Phone = None
    work_phone: Phone = None


class ContactChangeIn(Strict):
    home_phone: Phone = None
    guardian_phones: list[GuardianPhonesIn] | None = None
    beneficiary_name: Annotated[str | None, Field(max_length=100)] = None
    beneficiary_scheme: Annotated[str | None, Field(max_length=10)] = None
    beneficiary_number: Annotated[str | None, Field(max_length=30)] = None

    def proposal(self) -> dict[str, Any]:
        """Only the fields the family sent (absent = unchanged, "" = cleared)."""
        data = self.model_dump(exclude_unset=True)
        if "guardian_phones" in data:
            data["guardian_phones"] = [g.model_dump(exclude_unset=True)
                                       for g in self.guardian_phones or []]
        return data


class ContactChangeRequest(BaseModel):
    id: uuid.UUID
    status: str
    changes: dict[str, dict[str, Any]]
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


class Items(BaseModel):
    items: list[dict[str, Any]]


class Decision(Strict):
    request_id: uuid.UUID
    decision: Literal["accept", "refuse"]
    reason: Annotated[str | None, Field(max_length=1000)] = None


class DecisionsIn(Strict):
    decisions: Annotated[list[Decision], Field(min_length=1, max_length=200)]


class StaffFamilyIn(Strict):
    name: Name
    email: Email
    guardian: GuardianIn
    children: Annotated[list[ChildIn], Field(max_length=12)] = []


class StaffAccountIn(Strict):
    email: Email
    display_name: Name
    password: Password
    roles: list[Literal["administrator", "manager"]]
