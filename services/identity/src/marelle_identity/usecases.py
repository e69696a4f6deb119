"""Identity's use cases: plain async functions taking a unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import insert, select

from marelle_chassis.domain_errors import Conflict, Unauthorized
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_identity.db import family as family_t
from marelle_identity.db import person as person_t
from marelle_identity.db import staff_account
from marelle_identity.domain.model import Child, Family, Sex, normalise_email
from marelle_identity.keys import KeyRing

PARIS = ZoneInfo("Europe/Paris")
hasher = PasswordHasher()  # argon2id with the library's current defaults


def today_in_paris() -> date:
    return datetime.now(PARIS).date()


@dataclass(frozen=True)
class NewChild:
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None


def _child_facts(child: Child) -> events.ChildFacts:
    return events.ChildFacts(
        child_id=child.id, first_name=child.first_name, last_name=child.last_name,
        birth_date=child.birth_date, sex=events.Sex(child.sex.value) if child.sex else None)


async def create_family(uow: UnitOfWork, name: str, email: str | None,
                        children: list[NewChild], *, needs_review: bool) -> Family:
    family = Family.new(name, email)
    for new in children:
        family.add_child(Child.new(new.first_name, new.last_name, new.birth_date, new.sex,
                                   today_in_paris()))
    async with uow:
        if family.email and await uow.session.scalar(
                select(family_t.c.id).where(family_t.c.email == family.email)):
            raise Conflict("Un foyer utilise déjà cette adresse e-mail.")
        now = datetime.now(UTC)
        await uow.session.execute(insert(family_t).values(
            id=family.id, name=family.name, email=family.email, needs_review=needs_review,
            created_at=now))
        for child in family.children:
            await uow.session.execute(insert(person_t).values(
                id=child.id, family_id=family.id, role="child", first_name=child.first_name,
                last_name=child.last_name, birth_date=child.birth_date,
                sex=child.sex.value if child.sex else None, created_at=now, updated_at=now))
        uow.publish(events.FamilyCreated(
            family_id=family.id, name=family.name, email=family.email,
            children=[_child_facts(c) for c in family.children]))
        await uow.commit()
    return family


async def ensure_staff_account(uow: UnitOfWork, email: str, password: str, display_name: str,
                               roles: list[str]) -> bool:
    """Idempotent (demo data, first administrator). True when the account was created."""
    email = normalise_email(email)
    async with uow:
        if await uow.session.scalar(select(staff_account.c.id).where(staff_account.c.email == email)):
            return False
        await uow.session.execute(insert(staff_account).values(
            id=uuid.uuid4(), email=email, display_name=display_name,
            password_hash=hasher.hash(password), roles=" ".join(roles),
            created_at=datetime.now(UTC)))
        await uow.commit()
        return True


async def staff_login(uow: UnitOfWork, keys: KeyRing, email: str, password: str,
                      ttl_seconds: int) -> str:
    refused = Unauthorized("Identifiant ou mot de passe incorrect.")
    try:
        email = normalise_email(email)
    except Exception:
        raise refused from None
    async with uow:
        row = (await uow.session.execute(
            select(staff_account).where(staff_account.c.email == email))).first()
    if row is None:
        # Same work as a real check, so timing does not reveal which addresses exist.
        hasher.hash(password)
        raise refused
    try:
        hasher.verify(row.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        raise refused from None
    return keys.sign({"sub": str(row.id), "kind": "staff", "roles": row.roles.split(),
                      "name": row.display_name}, ttl_seconds)
