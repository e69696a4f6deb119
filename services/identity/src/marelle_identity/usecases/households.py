"""Households: creation, « Ma famille » (children and guardians)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from marelle_chassis.domain_errors import Conflict, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_identity.db import account
from marelle_identity.db import family as family_t
from marelle_identity.db import one_time_token
from marelle_identity.db import person as person_t
from marelle_identity.domain.model import (
    Child,
    Family,
    Guardian,
    Sex,
    check_birth_date,
    clean_name,
    next_guardian_rank,
)
from marelle_identity.usecases.common import (
    bump_version,
    digest,
    family_view,
    new_secret,
    now,
    person_rows,
    person_view,
    refresh_search_key,
    today_in_paris,
)


@dataclass(frozen=True)
class NewChild:
    first_name: str
    last_name: str
    birth_date: date
    sex: Sex | None = None


@dataclass(frozen=True)
class NewGuardian:
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Sex | None = None


def child_facts(child: Child) -> events.ChildFacts:
    return events.ChildFacts(
        child_id=child.id, first_name=child.first_name, last_name=child.last_name,
        birth_date=child.birth_date, sex=events.Sex(child.sex.value) if child.sex else None)


def guardian_facts(g: Guardian) -> events.GuardianFacts:
    return events.GuardianFacts(
        guardian_id=g.id, rank=g.rank, first_name=g.first_name, last_name=g.last_name,
        birth_date=g.birth_date, sex=events.Sex(g.sex.value) if g.sex else None)


async def email_taken(uow: UnitOfWork, email: str, except_family: uuid.UUID | None = None) -> bool:
    stmt = select(family_t.c.id).where(family_t.c.email == email)
    if except_family:
        stmt = stmt.where(family_t.c.id != except_family)
    return await uow.session.scalar(stmt) is not None


async def insert_household(uow: UnitOfWork, name: str, email: str | None,
                           guardians: list[NewGuardian], children: list[NewChild], *,
                           needs_review: bool) -> Family:
    """Writes the household and announces it; the caller commits (and adds the account)."""
    today = today_in_paris()
    family = Family.new(name, email)
    for new in children:
        family.add_child(Child.new(new.first_name, new.last_name, new.birth_date, new.sex, today))
    people = [Guardian.new(rank, g.first_name, g.last_name, g.birth_date, g.sex, today)
              for rank, g in enumerate(guardians[:2], start=1)]
    if family.email and await email_taken(uow, family.email):
        raise Conflict("Un foyer utilise déjà cette adresse e-mail.", erreurs=[
            {"champ": "email", "message": "Un foyer utilise déjà cette adresse e-mail."}])
    at = now()
    await uow.session.execute(insert(family_t).values(
        id=family.id, name=family.name, email=family.email, needs_review=needs_review,
        created_at=at, version=1))
    for g in people:
        await uow.session.execute(insert(person_t).values(
            id=g.id, family_id=family.id, role="guardian", rank=g.rank, first_name=g.first_name,
            last_name=g.last_name, birth_date=g.birth_date, sex=g.sex.value if g.sex else None,
            created_at=at, updated_at=at))
    for c in family.children:
        await uow.session.execute(insert(person_t).values(
            id=c.id, family_id=family.id, role="child", first_name=c.first_name,
            last_name=c.last_name, birth_date=c.birth_date, sex=c.sex.value if c.sex else None,
            created_at=at, updated_at=at))
    await refresh_search_key(uow, family.id)
    uow.publish(events.FamilyCreated(
        family_id=family.id, name=family.name, email=family.email, needs_review=needs_review,
        children=[child_facts(c) for c in family.children],
        guardians=[guardian_facts(g) for g in people]), version=1)
    return family


async def insert_account(uow: UnitOfWork, family_id: uuid.UUID, email: str,
                         password_hash: str | None, *, pending: bool = False) -> uuid.UUID:
    """`pending`: a sign-up's account, with its password but inactive until the address is
    confirmed by the emailed link."""
    account_id = uuid.uuid4()
    at = now()
    status = "pending" if pending else "active" if password_hash else "invited"
    await uow.session.execute(insert(account).values(
        id=account_id, family_id=family_id, email=email, password_hash=password_hash,
        status=status, activated_at=at if status == "active" else None, created_at=at))
    return account_id


async def issue_one_time_token(uow: UnitOfWork, account_id: uuid.UUID, purpose: str,
                               ttl: timedelta) -> str:
    """A new single-use link; the previous unused links of the same purpose stop working."""
    at = now()
    await uow.session.execute(
        update(one_time_token)
        .where(one_time_token.c.account_id == account_id, one_time_token.c.purpose == purpose,
               one_time_token.c.used_at.is_(None))
        .values(used_at=at))
    secret = new_secret()
    await uow.session.execute(insert(one_time_token).values(
        token_hash=digest(secret), purpose=purpose, account_id=account_id, created_at=at,
        expires_at=at + ttl))
    return secret


async def get_family(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        return await family_view(uow, family_id)


async def _person(uow: UnitOfWork, family_id: uuid.UUID, person_id: uuid.UUID, role: str) -> Any:
    row = (await uow.session.execute(select(person_t).where(
        person_t.c.id == person_id, person_t.c.family_id == family_id,
        person_t.c.role == role))).first()
    if row is None:
        raise NotFound("Cette personne ne fait pas partie du foyer.")
    return row


async def add_child(uow: UnitOfWork, family_id: uuid.UUID, new: NewChild) -> dict[str, Any]:
    today = today_in_paris()
    child = Child.new(new.first_name, new.last_name, new.birth_date, new.sex, today)
    async with uow:
        # First the household's row (locked until the commit): concurrent changes to one
        # household queue here, so the duplicate check below cannot race.
        version = await bump_version(uow, family_id)
        existing = [p for p in await person_rows(uow, family_id) if p.role == "child"]
        if any(p.first_name.casefold() == child.first_name.casefold()
               and p.birth_date == child.birth_date for p in existing):
            raise Conflict("Cet enfant fait déjà partie du foyer.")
        at = now()
        await uow.session.execute(insert(person_t).values(
            id=child.id, family_id=family_id, role="child", first_name=child.first_name,
            last_name=child.last_name, birth_date=child.birth_date,
            sex=child.sex.value if child.sex else None, created_at=at, updated_at=at))
        await refresh_search_key(uow, family_id)
        uow.publish(events.ChildAdded(family_id=family_id, child=child_facts(child)),
                    version=version)
        row = await _person(uow, family_id, child.id, "child")
        await uow.commit()
    return person_view(row, today)


async def update_child(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID,
                       new: NewChild) -> dict[str, Any]:
    today = today_in_paris()
    first = clean_name(new.first_name, "Le prénom")
    last = clean_name(new.last_name, "Le nom")
    born = check_birth_date(new.birth_date, today)
    async with uow:
        version = await bump_version(uow, family_id)
        await _person(uow, family_id, child_id, "child")
        await uow.session.execute(update(person_t).where(person_t.c.id == child_id).values(
            first_name=first, last_name=last, birth_date=born,
            sex=new.sex.value if new.sex else None, updated_at=now()))
        child = Child(child_id, first, last, born, new.sex)
        await refresh_search_key(uow, family_id)
        uow.publish(events.ChildUpdated(family_id=family_id, child=child_facts(child)),
                    version=version)
        row = await _person(uow, family_id, child_id, "child")
        await uow.commit()
    return person_view(row, today)


async def add_guardian(uow: UnitOfWork, family_id: uuid.UUID, new: NewGuardian) -> dict[str, Any]:
    today = today_in_paris()
    async with uow:
        version = await bump_version(uow, family_id)  # locks the household: ranks cannot race
        ranks = [p.rank or 1 for p in await person_rows(uow, family_id) if p.role == "guardian"]
        guardian = Guardian.new(next_guardian_rank(ranks), new.first_name, new.last_name,
                                new.birth_date, new.sex, today)
        at = now()
        await uow.session.execute(insert(person_t).values(
            id=guardian.id, family_id=family_id, role="guardian", rank=guardian.rank,
            first_name=guardian.first_name, last_name=guardian.last_name,
            birth_date=guardian.birth_date, sex=guardian.sex.value if guardian.sex else None,
            created_at=at, updated_at=at))
        await refresh_search_key(uow, family_id)
        uow.publish(events.GuardianAdded(family_id=family_id, guardian=guardian_facts(guardian)),
                    version=version)
        row = await _person(uow, family_id, guardian.id, "guardian")
        await uow.commit()
    return person_view(row, today)


async def update_guardian(uow: UnitOfWork, family_id: uuid.UUID, guardian_id: uuid.UUID,
                          new: NewGuardian) -> dict[str, Any]:
    today = today_in_paris()
    async with uow:
        version = await bump_version(uow, family_id)
        current = await _person(uow, family_id, guardian_id, "guardian")
        guardian = Guardian.new(current.rank or 1, new.first_name, new.last_name, new.birth_date,
                                new.sex, today)
        guardian.id = guardian_id
        await uow.session.execute(update(person_t).where(person_t.c.id == guardian_id).values(
            first_name=guardian.first_name, last_name=guardian.last_name,
            birth_date=guardian.birth_date, sex=guardian.sex.value if guardian.sex else None,
            updated_at=now()))
        await refresh_search_key(uow, family_id)
        uow.publish(events.GuardianUpdated(family_id=family_id, guardian=guardian_facts(guardian)),
                    version=version)
        row = await _person(uow, family_id, guardian_id, "guardian")
        await uow.commit()
    return person_view(row, today)
