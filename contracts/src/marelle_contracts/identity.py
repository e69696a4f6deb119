"""Events published by identity on `marelle.identity.v1`, keyed by family id."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChildFacts(_Payload):
    child_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None


class FamilyCreated(_Payload):
    """A household was created, with the children known at creation."""

    family_id: uuid.UUID
    name: str
    email: str | None = None
    children: list[ChildFacts] = []


class ChildAdded(_Payload):
    family_id: uuid.UUID
    child: ChildFacts


class ChildUpdated(_Payload):
    family_id: uuid.UUID
    child: ChildFacts
