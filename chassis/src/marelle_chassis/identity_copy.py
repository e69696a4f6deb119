"""Each consuming service's own copy of the households (contact details) and their children,
fed by identity's events.

Services never read identity's database (event-carried state transfer); this is the one
implementation of that copy, shared by enrolment, booking and billing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from marelle_chassis.copies import (
    CopyRow,
    apply_if_newer,
    apply_many_if_newer,
    event_version,
    layers,
)
from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.db import UtcDateTime
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.messaging import PayloadHandler, with_bulk
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.identity import (
    ChildAdded,
    ChildFacts,
    ChildUpdated,
    ContactDetailsChanged,
    EmailChanged,
    FamilyCreated,
    HouseholdAnonymised,
)

CHILD_COPY = "child_copy"
FAMILY_COPY = "family_copy"


def add_child_copy_table(metadata: MetaData) -> Table:
    return Table(
        CHILD_COPY,
        metadata,
        Column("child_id", Uuid, primary_key=True),
        Column("family_id", Uuid, nullable=False, index=True),
        Column("first_name", String(100), nullable=False),
        Column("last_name", String(100), nullable=False),
        Column("birth_date", Date, nullable=False),
        Column("sex", String(1), nullable=True),
        # How many identity events were applied to this row: with an idempotent consumer it
        # equals the number of distinct events about the child, which tests check after crashes.
        Column("revision", Integer, nullable=False),
        Column("source_event_id", Uuid, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        # The household version of the event that last set the row (see marelle_chassis.copies).
        Column("version", Integer, nullable=False, server_default="0"),
    )


def add_family_copy_table(metadata: MetaData) -> Table:
    return Table(
        FAMILY_COPY,
        metadata,
        Column("family_id", Uuid, primary_key=True),
        Column("name", String(100), nullable=False),
        Column("email", String(254), nullable=True),
        Column("home_phone", String(20), nullable=True),
        Column("beneficiary_name", String(100), nullable=True),
        Column("beneficiary_scheme", String(10), nullable=True),
        Column("beneficiary_number", String(20), nullable=True),
        Column("guardian_phones", Text, nullable=False),  # JSON list, as in the event
        Column("revision", Integer, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        # Household versions of the events that last set the contact details (phones,
        # beneficiary) and the email: three events carry the email, one the rest, so each part
        # keeps its own stamp and a late event only loses where it is older.
        Column("version", Integer, nullable=False, server_default="0"),
        Column("email_version", Integer, nullable=False, server_default="0"),
    )


_NEW_FAMILY = {"name": "", "guardian_phones": "[]", "version": 0, "email_version": 0}
# The name an anonymised household keeps (`identity.household_anonymised`): `family_created`,
# which sets the name outside the versions, never writes over it.
ANONYMOUS = "Anonyme"


def _child_row(family_id: uuid.UUID, child: ChildFacts, envelope: Envelope,
               now: datetime | None = None) -> CopyRow:
    return CopyRow({"child_id": child.child_id}, event_version(envelope), {
        "family_id": family_id, "first_name": child.first_name, "last_name": child.last_name,
        "birth_date": child.birth_date, "sex": child.sex.value if child.sex else None,
        "source_event_id": envelope.event_id, "updated_at": now or datetime.now(UTC),
    })


def _email_row(family_id: uuid.UUID, version: int, email: str | None,
               on_insert: dict[str, Any], now: datetime | None = None) -> CopyRow:
    return CopyRow({"family_id": family_id}, version,
                   {"email": email, "updated_at": now or datetime.now(UTC)},
                   defaults={**_NEW_FAMILY, **on_insert})


def _first_of_each(children: Sequence[ChildFacts]) -> list[ChildFacts]:
    """Each child once, as listed first: an event naming a child twice leaves what applying
    it once does (the second, of the same version, is not newer)."""
    first: dict[uuid.UUID, ChildFacts] = {}
    for child in children:
        first.setdefault(child.child_id, child)
    return list(first.values())


async def _apply_child(session: AsyncSession, table: Table, family_id: uuid.UUID,
                       child: ChildFacts, envelope: Envelope) -> None:
    row = _child_row(family_id, child, envelope)
    await apply_if_newer(session, table, row.key, row.version, row.values)


async def _apply_email(session: AsyncSession, table: Table, family_id: uuid.UUID, version: int,
                       email: str | None, on_insert: dict[str, Any]) -> None:
    row = _email_row(family_id, version, email, on_insert)
    await apply_if_newer(session, table, row.key, row.version, row.values,
                         version_column="email_version", defaults=row.defaults)


async def _set_names(session: AsyncSession, families: Table,
                     names: list[tuple[uuid.UUID, str]]) -> None:
    """`UPDATE … SET name = :name WHERE family_id = :id AND name <> 'Anonyme'` for each pair
    (`<> :name` spares rewriting rows that already have it). On PostgreSQL one set-based
    statement (one execution, not one per household); SQLite runs in-process: executemany."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text(
            f"UPDATE {families.name} AS f SET name = v.name"
            " FROM unnest(CAST(:ids AS UUID[]), CAST(:names AS TEXT[])) AS v(family_id, name)"
            " WHERE f.family_id = v.family_id AND f.name <> :anonymous AND f.name <> v.name"),
            {"ids": [i for i, _ in names], "names": [n for _, n in names],
             "anonymous": ANONYMOUS})
        return
    await session.execute(
        update(families)
        .where(families.c.family_id == bindparam("b_family_id"), families.c.name != ANONYMOUS,
               families.c.name != bindparam("b_name"))
        .values(name=bindparam("b_name")),
        [{"b_family_id": family_id, "b_name": name} for family_id, name in names])


def child_copy_handlers(table: Table, families: Table | None = None) -> dict[str, PayloadHandler]:
    async def family_created(p: FamilyCreated, e: Envelope, uow: UnitOfWork) -> None:
        for child in p.children:
            await _apply_child(uow.session, table, p.family_id, child, e)
        if families is not None:
            await _apply_email(uow.session, families, p.family_id, event_version(e), p.email,
                               {"name": p.name})
            # Only this event carries the name, which never changes afterwards, except to
            # « Anonyme » (a replayed `family_created` must not bring the name back).
            await uow.session.execute(update(families).where(families.c.family_id == p.family_id,
                                                             families.c.name != ANONYMOUS)
                                      .values(name=p.name))

    async def families_created(items: Sequence[tuple[FamilyCreated, Envelope]],
                               uow: UnitOfWork) -> None:
        """`family_created` for a batch: a few multi-row statements, same result as one by one
        (layers keep the order of the events touching the same household or child)."""
        session = uow.session
        now = datetime.now(UTC)  # the batch's changes are one moment
        # Keyed by the ids' integers (a UUID's own hash is a Python call).
        for layer in layers(items, lambda it: [
                (0, it[0].family_id.int), *((1, c.child_id.int) for c in it[0].children)]):
            # A layer holds each household and each child once.
            await apply_many_if_newer(session, table, [
                _child_row(p.family_id, child, e, now) for p, e in layer
                for child in _first_of_each(p.children)], distinct_keys=True)
            if families is None:
                continue
            await apply_many_if_newer(session, families, [
                _email_row(p.family_id, event_version(e), p.email, {"name": p.name}, now)
                for p, e in layer], version_column="email_version", distinct_keys=True)
            # The name, as above (a layer names each household once).
            await _set_names(session, families, [(p.family_id, p.name) for p, _ in layer])

    with_bulk(family_created, families_created)

    async def child_changed(p: ChildAdded | ChildUpdated, e: Envelope, uow: UnitOfWork) -> None:
        await _apply_child(uow.session, table, p.family_id, p.child, e)

    async def contact_changed(p: ContactDetailsChanged, e: Envelope, uow: UnitOfWork) -> None:
        assert families is not None
        contact = {
            "home_phone": p.home_phone, "beneficiary_name": p.beneficiary_name,
            "beneficiary_scheme": p.beneficiary_scheme.value if p.beneficiary_scheme else None,
            "beneficiary_number": p.beneficiary_number,
            "guardian_phones": json.dumps([g.model_dump(mode="json") for g in p.guardians]),
            "updated_at": datetime.now(UTC)}
        version = event_version(e)
        await apply_if_newer(uow.session, families, {"family_id": p.family_id}, version, contact,
                             defaults={**_NEW_FAMILY, "email": p.email, "email_version": version})
        await _apply_email(uow.session, families, p.family_id, version, p.email, {})

    async def email_changed(p: EmailChanged, e: Envelope, uow: UnitOfWork) -> None:
        assert families is not None
        await _apply_email(uow.session, families, p.family_id, event_version(e), p.new_email, {})

    async def household_anonymised(p: HouseholdAnonymised, e: Envelope, uow: UnitOfWork) -> None:
        """The deletion request was accepted: names and contact details go, by version (an
        older event arriving later loses), idempotently (a replay sets the same values)."""
        version = event_version(e)
        for child in p.children:
            await _apply_child(uow.session, table, p.family_id, child, e)
        if families is None:
            return
        erased = {"name": p.name, "home_phone": None, "beneficiary_name": None,
                  "beneficiary_scheme": None, "beneficiary_number": None, "guardian_phones": "[]",
                  "updated_at": datetime.now(UTC)}
        await apply_if_newer(uow.session, families, {"family_id": p.family_id}, version, erased,
                             defaults={**_NEW_FAMILY, "email": None, "email_version": version})
        await _apply_email(uow.session, families, p.family_id, version, None, {"name": p.name})
        # Whatever the versions said, the name is now the anonymous one for good.
        await uow.session.execute(update(families).where(families.c.family_id == p.family_id)
                                  .values(name=p.name))

    handlers: dict[str, PayloadHandler] = {
        "identity.family_created": family_created,
        "identity.child_added": child_changed,
        "identity.child_updated": child_changed,
        "identity.household_anonymised": household_anonymised,
    }
    if families is not None:
        handlers["identity.contact_details_changed"] = contact_changed
        handlers["identity.email_changed"] = email_changed
    return handlers


class ChildCopy(BaseModel):
    child_id: uuid.UUID
    family_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    sex: str | None
    revision: int
    version: int


class ChildCopies(BaseModel):
    items: list[ChildCopy]


def child_copy_router(table: Table, sessions: Any) -> APIRouter:
    """Staff read access to the copy (used by the back-office and the end-to-end tests)."""
    router = APIRouter(prefix="/staff/children", tags=["children (copy)"])
    staff = require_staff(principal_dependency(verifier_from_app))

    @router.get("", response_model=ChildCopies)
    async def list_children(family_id: uuid.UUID | None = None,
                            _: Principal = Depends(staff)) -> ChildCopies:
        stmt = select(table).order_by(table.c.last_name, table.c.first_name)
        if family_id:
            stmt = stmt.where(table.c.family_id == family_id)
        async with sessions() as session:
            rows = (await session.execute(stmt)).mappings().all()
        return ChildCopies(items=[ChildCopy.model_validate(dict(r)) for r in rows])

    @router.get("/{child_id}", response_model=ChildCopy)
    async def get_child(child_id: uuid.UUID, _: Principal = Depends(staff)) -> ChildCopy:
        async with sessions() as session:
            row = (await session.execute(select(table).where(table.c.child_id == child_id))
                   ).mappings().first()
        if row is None:
            raise NotFound("Cet enfant est inconnu de ce service.")
        return ChildCopy.model_validate(dict(row))

    return router


class FamilyCopy(BaseModel):
    family_id: uuid.UUID
    name: str
    email: str | None
    home_phone: str | None
    beneficiary_name: str | None
    beneficiary_scheme: str | None
    beneficiary_number: str | None
    guardian_phones: list[dict[str, Any]]
    revision: int
    version: int
    email_version: int


def family_copy_router(table: Table, sessions: Any) -> APIRouter:
    """Staff read access to this service's copy of a household's contact details."""
    router = APIRouter(prefix="/staff/families", tags=["families (copy)"])
    staff = require_staff(principal_dependency(verifier_from_app))

    @router.get("/{family_id}", response_model=FamilyCopy)
    async def get_family(family_id: uuid.UUID, _: Principal = Depends(staff)) -> FamilyCopy:
        async with sessions() as session:
            row = (await session.execute(select(table).where(table.c.family_id == family_id))
                   ).mappings().first()
        if row is None:
            raise NotFound("Ce foyer est inconnu de ce service.")
        return FamilyCopy.model_validate({**row, "guardian_phones": json.loads(row["guardian_phones"])})

    return router
