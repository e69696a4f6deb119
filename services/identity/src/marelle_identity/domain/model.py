"""Households and the people in them. Pure Python: no framework, no database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from marelle_chassis.domain_errors import Conflict, InvalidInput

MAX_NAME = 100
OLDEST_CHILD_YEARS = 25


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


def clean_name(value: str, label: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput(f"{label} est obligatoire.")
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f"{label} ne doit pas dépasser {MAX_NAME} caractères.")
    return cleaned


def check_birth_date(birth_date: date, today: date) -> date:
    if birth_date > today:
        raise InvalidInput("La date de naissance ne peut pas être dans le futur.")
    if birth_date.year < today.year - OLDEST_CHILD_YEARS:
        raise InvalidInput(
            f"La date de naissance d'un enfant ne peut pas remonter à plus de {OLDEST_CHILD_YEARS} ans.")
    return birth_date


@dataclass
class Child:
    id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None

    @classmethod
    def new(cls, first_name: str, last_name: str, birth_date: date, sex: Sex | None,
            today: date) -> Child:
        return cls(
            id=uuid.uuid4(),
            first_name=clean_name(first_name, "Le prénom"),
            last_name=clean_name(last_name, "Le nom"),
            birth_date=check_birth_date(birth_date, today),
            sex=sex,
        )


@dataclass
class Family:
    id: uuid.UUID
    name: str
    email: str | None
    children: list[Child] = field(default_factory=list)

    @classmethod
    def new(cls, name: str, email: str | None) -> Family:
        return cls(id=uuid.uuid4(), name=clean_name(name, "Le nom du foyer"),
                   email=normalise_email(email) if email else None)

    def add_child(self, child: Child) -> None:
        duplicate = any(
            c.first_name.casefold() == child.first_name.casefold()
            and c.birth_date == child.birth_date for c in self.children)
        if duplicate:
            raise InvalidInput("Cet enfant fait déjà partie du foyer.")
        self.children.append(child)


def normalise_email(email: str) -> str:
    value = email.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or " " in value or len(value) > 254:
        raise InvalidInput("L'adresse e-mail n'est pas valide.")
    # Lower-case whole: in practice mailboxes ignore case, and one household = one address.
    return f"{local}@{domain}".lower()


MAX_GUARDIANS = 2


@dataclass
class Guardian:
    id: uuid.UUID
    rank: int
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Sex | None = None

    @classmethod
    def new(cls, rank: int, first_name: str, last_name: str, birth_date: date | None,
            sex: Sex | None, today: date) -> Guardian:
        if birth_date is not None and birth_date > today:
            raise InvalidInput("La date de naissance ne peut pas être dans le futur.")
        return cls(id=uuid.uuid4(), rank=rank, first_name=clean_name(first_name, "Le prénom"),
                   last_name=clean_name(last_name, "Le nom"), birth_date=birth_date, sex=sex)


def next_guardian_rank(existing_ranks: list[int]) -> int:
    if len(existing_ranks) >= MAX_GUARDIANS:
        raise Conflict("Le foyer compte déjà deux responsables légaux.")
    return 1 if 1 not in existing_ranks else 2


def age_on(birth_date: date | None, today: date) -> int | None:
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))
