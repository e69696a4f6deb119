"""What several use cases share: clock, hashing, loading a household, the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import unicodedata
import uuid
import weakref
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import insert, select, update

from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_identity.db import family as family_t
from marelle_identity.db import person as person_t
from marelle_identity.db import staff_audit
from marelle_identity.domain.contact import ContactDetails, GuardianPhones, display_phone
from marelle_identity.domain.model import age_on

PARIS = ZoneInfo("Europe/Paris")
hasher = PasswordHasher()  # argon2id with the library's current defaults

# Argon2 is slow and memory-hard on purpose (~0.1-0.25 s of CPU, 64 MiB per call): it runs in a
# worker thread (never on the event loop) and never inside an open database transaction. The
# semaphore bounds the calls in flight to one less than the CPUs (at least one): a flood of logins
# queues for a slot instead of taking every core from the event loop (bench/login_flood.py).
PASSWORD_SLOTS = max(1, (os.cpu_count() or 2) - 1)
_slots_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())
_dummy_hash: str | None = None


def _slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()  # a semaphore belongs to one event loop
    slots = _slots_by_loop.get(loop)
    if slots is None:
        slots = _slots_by_loop[loop] = asyncio.Semaphore(PASSWORD_SLOTS)
    return slots


async def hash_password(password: str) -> str:
    async with _slots():
        return await asyncio.to_thread(hasher.hash, password)


def _verify_sync(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def prepare_dummy_hash() -> None:
    """At startup: the first unknown account must not cost a hash *and* a check."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = await hash_password(secrets.token_urlsafe(16))


async def verify_password(password_hash: str | None, password: str) -> bool:
    """False for a missing hash too, after the same work as a real check (one Argon2 check of a
    dummy hash, in the worker thread): an unknown account answers in the same time."""
    if not password_hash:
        await prepare_dummy_hash()
        await verify_password(_dummy_hash, password)
        return False
    async with _slots():
        return await asyncio.to_thread(_verify_sync, password_hash, password)


def now() -> datetime:
    return datetime.now(UTC)


def today_in_paris() -> date:
    return datetime.now(PARIS).date()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Tokens are stored hashed: a database leak gives no usable link or session."""
    return hashlib.sha256(secret.encode()).hexdigest()


def search_text(*parts: str | None) -> str:
    """Lower-case and without accents, so « Rémond » is found by « remond »."""
    text = " ".join(p for p in parts if p)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
                   ).casefold()


async def refresh_search_key(uow: UnitOfWork, family_id: uuid.UUID) -> None:
    row = await family_row(uow, family_id)
    people = await person_rows(uow, family_id)
    key = search_text(row.name, row.email, *(f"{p.first_name} {p.last_name}" for p in people))
    await uow.session.execute(update(family_t).where(family_t.c.id == family_id)
                              .values(search_key=key))


async def bump_version(uow: UnitOfWork, family_id: uuid.UUID) -> int:
    """The household's next version, atomically (it also locks the household's row until the
    commit, so changes to one household are serialised); 404 when there is no such household.

    Call it once per event published about the household, in the transaction that publishes it.
    """
    version = await uow.session.scalar(
        update(family_t).where(family_t.c.id == family_id)
        .values(version=family_t.c.version + 1).returning(family_t.c.version))
    if version is None:
        raise family_not_found()
    return version


def family_not_found() -> NotFound:
    return NotFound("Ce foyer est introuvable.")


async def family_row(uow: UnitOfWork, family_id: uuid.UUID) -> Any:
    row = (await uow.session.execute(select(family_t).where(family_t.c.id == family_id))).first()
    if row is None:
        raise family_not_found()
    return row


async def person_rows(uow: UnitOfWork, family_id: uuid.UUID) -> list[Any]:
    rows = (await uow.session.execute(select(person_t).where(person_t.c.family_id == family_id)))
    return sorted(rows.all(), key=lambda r: (r.role != "guardian", r.rank or 0,
                                             r.birth_date or date.min, r.first_name))


def person_view(row: Any, today: date) -> dict[str, Any]:
    return {"id": row.id, "role": row.role, "rank": row.rank, "first_name": row.first_name,
            "last_name": row.last_name, "birth_date": row.birth_date, "sex": row.sex,
            "age": age_on(row.birth_date, today)}


async def family_view(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    row = await family_row(uow, family_id)
    today = today_in_paris()
    return {"id": row.id, "name": row.name, "email": row.email, "needs_review": row.needs_review,
            "persons": [person_view(p, today) for p in await person_rows(uow, family_id)]}


async def contact_details(uow: UnitOfWork, family_id: uuid.UUID) -> ContactDetails:
    row = await family_row(uow, family_id)
    guardians = [p for p in await person_rows(uow, family_id) if p.role == "guardian"]
    return ContactDetails(
        email=row.email, home_phone=row.home_phone, beneficiary_name=row.beneficiary_name,
        beneficiary_scheme=row.beneficiary_scheme, beneficiary_number=row.beneficiary_number,
        guardians=tuple(GuardianPhones(g.id, g.rank or 1, g.mobile_phone, g.work_phone)
                        for g in guardians))


async def contact_view(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    details = await contact_details(uow, family_id)
    guardians = {p.id: p for p in await person_rows(uow, family_id)}
    return {
        "email": details.email,
        "home_phone": details.home_phone, "home_phone_display": display_phone(details.home_phone),
        "beneficiary_name": details.beneficiary_name,
        "beneficiary_scheme": details.beneficiary_scheme,
        "beneficiary_number": details.beneficiary_number,
        "guardians": [{
            "person_id": g.person_id, "rank": g.rank,
            "first_name": guardians[g.person_id].first_name,
            "last_name": guardians[g.person_id].last_name,
            "mobile_phone": g.mobile_phone, "mobile_phone_display": display_phone(g.mobile_phone),
            "work_phone": g.work_phone, "work_phone_display": display_phone(g.work_phone),
        } for g in details.guardians],
    }


def contact_event(family_id: uuid.UUID, details: ContactDetails) -> events.ContactDetailsChanged:
    return events.ContactDetailsChanged(
        family_id=family_id, email=details.email, home_phone=details.home_phone,
        beneficiary_name=details.beneficiary_name,
        beneficiary_scheme=(events.BeneficiaryScheme(details.beneficiary_scheme)
                            if details.beneficiary_scheme else None),
        beneficiary_number=details.beneficiary_number,
        guardians=[events.GuardianPhones(guardian_id=g.person_id, rank=g.rank,
                                         mobile_phone=g.mobile_phone, work_phone=g.work_phone)
                   for g in details.guardians])


async def audit(uow: UnitOfWork, actor: Principal, action: str, target: str,
                **details: Any) -> None:
    """Every staff write leaves a line: who, when, what (in the same transaction)."""
    await uow.session.execute(insert(staff_audit).values(
        at=now(), staff_id=uuid.UUID(actor.subject), staff_email=actor.email or "",
        action=action, target=target, details=json.dumps(details, default=str, ensure_ascii=False)))


async def auth_event(uow: UnitOfWork, action: str, kind: str, account_id: uuid.UUID | None,
                     email: str, **details: Any) -> None:
    """An authentication event in the audit log (in the caller's transaction): a login that
    succeeded or failed, a password changed or reset, a second factor enrolled or removed.
    Staff are identified by their id; a parent or an unknown address only by the address given
    (`staff_id` null), so the log never mixes a family's account with a staff member's."""
    staff_id = account_id if kind == "staff" else None
    target = (f"agent:{account_id}" if kind == "staff" else
              f"compte:{account_id}" if account_id else "compte:inconnu")
    await uow.session.execute(insert(staff_audit).values(
        at=now(), staff_id=staff_id, staff_email=email[:254], action=action, target=target,
        details=json.dumps({"compte": {"staff": "agent", "parent": "famille"}.get(kind, "inconnu"),
                            **details},
                           default=str, ensure_ascii=False)))


async def auth_event_alone(uow: UnitOfWork, action: str, kind: str, account_id: uuid.UUID | None,
                           email: str, **details: Any) -> None:
    """`auth_event` in a transaction of its own (a refusal: the caller's raises after it)."""
    async with uow:
        await auth_event(uow, action, kind, account_id, email, **details)
        await uow.commit()
