"""identity's answers as the pages read them (`services/identity/API.md`); extra fields ignored.

The JSON API does not use these: it relays identity's bodies as they are.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Person(_Read):
    id: str
    role: Literal["guardian", "child"]
    rank: int | None = None
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Literal["F", "M"] | None = None
    age: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Family(_Read):
    id: str
    name: str
    email: str | None = None
    needs_review: bool = False
    persons: list[Person] = []

    @property
    def guardians(self) -> list[Person]:
        return [p for p in self.persons if p.role == "guardian"]

    @property
    def children(self) -> list[Person]:
        return [p for p in self.persons if p.role == "child"]

    def person(self, person_id: str, role: str) -> Person | None:
        return next((p for p in self.persons if p.id == person_id and p.role == role), None)


class ContactChangeRequest(_Read):
    id: str
    status: Literal["en_attente", "acceptee", "refusee"]
    # field -> {"before": ..., "after": ...}
    changes: dict[str, dict[str, Any]] = {}
    reason: str | None = None
    created_at: datetime
    decided_at: datetime | None = None


class GuardianContact(_Read):
    model_config = ConfigDict(extra="allow")  # keeps the `*_display` forms beside the phones

    person_id: str
    rank: int
    first_name: str = ""
    last_name: str = ""
    mobile_phone: str | None = None
    work_phone: str | None = None

    def display(self, name: str) -> str | None:
        return (self.model_extra or {}).get(f"{name}_display") or getattr(self, name)


class Contact(_Read):
    model_config = ConfigDict(extra="allow")

    email: str | None = None
    home_phone: str | None = None
    beneficiary_name: str | None = None
    beneficiary_scheme: Literal["CAF", "MSA", "AUTRE"] | None = None
    beneficiary_number: str | None = None
    guardians: list[GuardianContact] = []
    pending_request: ContactChangeRequest | None = None

    def display(self, name: str) -> str | None:
        """A phone in its national form when identity gives it (`home_phone_display`)."""
        return (self.model_extra or {}).get(f"{name}_display") or getattr(self, name)

    def guardian(self, rank: int) -> GuardianContact | None:
        return next((g for g in self.guardians if g.rank == rank), None)
