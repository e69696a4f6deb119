"""Registration requests: asked by families, decided by staff, waiting lists and promotions."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, DomainError, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import enrolment as events
from marelle_enrolment.db import (
    activity,
    activity_group,
    activity_type,
    child_copy,
    facility,
    family_review,
    period,
    registration,
)
from marelle_enrolment.domain.rules import (
    HOLDS_A_PLACE,
    AgeBounds,
    Status,
    ValidationMode,
    check_can_cancel,
    check_can_decide,
    check_no_active_registration,
    period_window,
    status_for_new_request,
    status_mark,
)
from marelle_enrolment.residency import NOT_KNOWN, residency_of
from marelle_enrolment.usecases.catalogue import child_of_family, places_taken
from marelle_enrolment.usecases.common import group_row, now, period_row, registration_facts

WEEKDAYS = range(1, 8)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewRequest:
    child_id: uuid.UUID
    group_id: uuid.UUID
    typical_week: list[dict[str, Any]] = field(default_factory=list)
    memo: str = ""
    duplicate_for: list[uuid.UUID] = field(default_factory=list)


def _clean_week(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[int, list[str]] = {}
    for day in days:
        weekday = int(day.get("weekday", 0))
        if weekday not in WEEKDAYS:
            raise InvalidInput("Jour de la semaine type invalide (1 = lundi … 7 = dimanche).")
        seen[weekday] = sorted({str(u)[:40] for u in day.get("units", [])})
    return [{"weekday": d, "units": seen[d]} for d in sorted(seen)]


async def _returning(uow: UnitOfWork, child_id: uuid.UUID, activity_id: uuid.UUID) -> bool:
    return await uow.session.scalar(
        select(registration.c.id).join(period, period.c.id == registration.c.period_id)
        .where(registration.c.child_id == child_id, period.c.activity_id == activity_id,
               registration.c.status == Status.VALIDATED.value).limit(1)) is not None


# --- Safe transitions -------------------------------------------------------------------------
#
# Lock order, everywhere: the group row (FOR UPDATE) first, then the registration. Every change
# of a registration's status happens with its group locked, reads the registration again after
# the lock, and is a compare-and-set on the status it read (`_transition`): a rival that got
# there first makes it match no row, which is a Conflict (409), never an overwrite. On SQLite
# every transaction is BEGIN IMMEDIATE (one writer at a time): the same code is serial there.

async def _locked(uow: UnitOfWork, registration_id: uuid.UUID,
                  family_id: uuid.UUID | None = None) -> tuple[Any, Any]:
    """(group, registration), the group row locked, the registration read after the lock."""
    stmt = select(registration.c.group_id).where(registration.c.id == registration_id)
    if family_id is not None:
        stmt = stmt.where(registration.c.family_id == family_id)
    group_id = await uow.session.scalar(stmt)  # never changes: safe to read before the lock
    if group_id is None:
        raise NotFound("Cette inscription est introuvable.")
    group = await group_row(uow, group_id, lock=True)
    reg = (await uow.session.execute(select(registration).where(
        registration.c.id == registration_id))).one()
    return group, reg


Announce = list[tuple[type, dict[str, Any]]]


async def _announce(uow: UnitOfWork, row: Any, announce: Announce, group_label: str | None = None
                    ) -> None:
    """One event per change; the n events of one transition take the registration's last n
    versions, in order (the row's `version` is the last one)."""
    p = await period_row(uow, row.period_id)
    if group_label is None:
        group_label = (await group_row(uow, row.group_id)).label
    first = row.version - len(announce) + 1
    for i, (model, extra) in enumerate(announce):
        uow.publish(model(**registration_facts(row, p, group_label), **extra), version=first + i)


async def _transition(uow: UnitOfWork, reg: Any, expected: str, announce: Announce, *,
                      conflict: str, group_label: str | None = None, **values: Any) -> Any:
    """Compare-and-set: `reg` goes from `expected` to `values` only if nobody changed it since;
    the version grows by one per event announced, in the same UPDATE."""
    row = (await uow.session.execute(
        update(registration)
        .where(registration.c.id == reg.id, registration.c.status == expected)
        .values(version=registration.c.version + len(announce), **values)
        .returning(*registration.c))).first()
    if row is None:
        raise Conflict(conflict)
    await _announce(uow, row, announce, group_label)
    return row


def _full(group: Any) -> Conflict:
    return Conflict(f"Le groupe « {group.label} » est complet ({group.capacity} place"
                    f"{'s' if group.capacity > 1 else ''}) : libérez ou ajoutez une place "
                    "avant de valider ou de promouvoir une demande.")


ALREADY_DECIDED = "Cette demande a déjà été traitée."
NOT_WAITLISTED = "Cette demande n'est pas sur la liste d'attente."
ALREADY_CLOSED = "Cette inscription est déjà annulée ou refusée."
TECHNICAL = ("Votre demande n'a pas pu être enregistrée à cause d'un incident technique : "
             "réessayez dans un instant.")


async def _request_one(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID,
                       group_id: uuid.UUID, typical_week: list[dict[str, Any]], memo: str
                       ) -> uuid.UUID:
    week = json.dumps(_clean_week(typical_week))
    async with uow:
        child = await child_of_family(uow, family_id, child_id)
        group = await group_row(uow, group_id, lock=True)
        # Arrival is when the request gets its turn on the group: places and waiting-list ranks
        # then follow the same order.
        at = now()
        p = await period_row(uow, group.period_id)
        if p.closed or group.closed:
            raise InvalidInput(f"Les inscriptions au groupe « {group.label} » sont fermées.")
        returning = await _returning(uow, child_id, p.activity_id)
        home = (await residency_of(uow, family_id)  # asked only before the opening to all
                if (p.residents_open_at or p.district_openings) and at < p.opens_at
                else NOT_KNOWN)
        period_window(p).check_open(at, p.label, returning, home.resident, home.district)
        AgeBounds(group.min_age, group.max_age).check(child.first_name, child.birth_date,
                                                      p.start_date, group.label)
        existing = (await uow.session.scalars(select(registration.c.status).where(
            registration.c.child_id == child_id, registration.c.period_id == p.id))).all()
        check_no_active_registration(list(existing))
        taken = await places_taken(uow, group_id)
        status = status_for_new_request(group.capacity, taken, ValidationMode(p.validation_mode))
        rank = None
        if status is Status.WAITLISTED:
            last = await uow.session.scalar(select(func.max(registration.c.waitlist_rank)).where(
                registration.c.group_id == group_id))
            rank = (last or 0) + 1
        announce: Announce = [(events.RegistrationRequested, {})]
        if status is Status.VALIDATED:
            announce.append((events.RegistrationValidated, {}))
        elif status is Status.WAITLISTED:
            position = 1 + int(await uow.session.scalar(select(func.count()).where(
                registration.c.group_id == group_id,
                registration.c.status == Status.WAITLISTED.value)) or 0)
            announce.append((events.RegistrationWaitlisted, {"position": position}))
        reg_id = uuid.uuid4()
        try:
            row = (await uow.session.execute(insert(registration).values(
                id=reg_id, child_id=child_id, family_id=family_id, period_id=p.id,
                group_id=group_id, status=status.value, typical_week=week,
                memo=memo.strip()[:2000], requested_at=at, waitlist_rank=rank,
                decided_at=at if status is Status.VALIDATED else None,
                version=len(announce)).returning(*registration.c))).one()
            await _announce(uow, row, announce, group.label)
            await uow.commit()
        except IntegrityError:
            # The same child asked at the same moment for another group of the period: the
            # unique index answered (PostgreSQL at the INSERT, SQLite at the latest at COMMIT).
            raise Conflict("Cet enfant a déjà une inscription en cours ou en attente sur cette "
                           "période.") from None
    return reg_id


async def request_one(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID,
                      group_id: uuid.UUID, typical_week: list[dict[str, Any]], memo: str) -> uuid.UUID:
    return await retry_transaction(
        lambda: _request_one(uow, family_id, child_id, group_id, typical_week, memo))


UNREVIEWED = ("Votre espace famille est en cours de vérification par la structure : vous pourrez "
              "demander des inscriptions dès qu'elle l'aura validé.")


async def check_reviewed(uow: UnitOfWork, family_id: uuid.UUID) -> None:
    """A household created by online sign-up and still « à vérifier » asks for nothing (when
    the city refuses unreviewed households: ENROLMENT_REFUSE_UNREVIEWED_FAMILIES)."""
    async with uow:
        flagged = await uow.session.scalar(select(family_review.c.needs_review)
                                           .where(family_review.c.family_id == family_id))
    if flagged:
        raise Conflict(UNREVIEWED, raison="foyer_a_verifier")


async def request_registrations(uow_factory: Any, family_id: uuid.UUID, req: NewRequest, *,
                                refuse_unreviewed: bool = False) -> list[dict[str, Any]]:
    """One request per child (the child, then the brothers and sisters), each in its own
    transaction: every child's attempt ends in a reported outcome, never half-way in a 500."""
    if refuse_unreviewed:
        await check_reviewed(uow_factory(), family_id)
    results = []
    for child_id in dict.fromkeys([req.child_id, *req.duplicate_for]):
        try:
            reg_id = await request_one(uow_factory(), family_id, child_id, req.group_id,
                                       req.typical_week, req.memo)
        except DomainError as exc:
            results.append({"child_id": child_id, "ok": False, "registration": None,
                            "detail": exc.detail})
            continue
        except SQLAlchemyError:
            log.exception("registration request for child %s failed", child_id)
            results.append({"child_id": child_id, "ok": False, "registration": None,
                            "detail": TECHNICAL})
            continue
        view = await get_registration(uow_factory(), family_id, reg_id)
        results.append({"child_id": child_id, "ok": True, "registration": view,
                        "detail": _outcome(view)})
    return results


def _outcome(view: dict[str, Any]) -> str:
    name = view["child_first_name"]
    return {
        Status.VALIDATED: f"Inscription de {name} validée.",
        Status.PENDING: f"Demande d'inscription de {name} transmise à la structure.",
        Status.WAITLISTED: (f"Le groupe est complet : {name} est inscrit(e) sur la liste "
                            f"d'attente, en position {view['waitlist_position']}."),
    }.get(view["status"], "")


@functools.cache
def _mark(status: str, pre_registration: bool) -> str:
    # The domain's rule, looked up once per (status, pre-registration) pair: long listings.
    return status_mark(status, pre_registration)


def _joined(stmt: Any) -> Any:
    """`stmt` over a registration with its child, period, group, activity and facility."""
    return (stmt.join(child_copy, child_copy.c.child_id == registration.c.child_id)
            .join(period, period.c.id == registration.c.period_id)
            .join(activity_group, activity_group.c.id == registration.c.group_id)
            .join(activity, activity.c.id == period.c.activity_id)
            .join(activity_type, activity_type.c.id == activity.c.activity_type_id)
            .join(facility, facility.c.id == activity_type.c.facility_id))


_WAITLISTED = registration.c.status == Status.WAITLISTED.value


def _listing_select(position: Any) -> Any:
    """The listing's columns, named as the response model's fields."""
    return _joined(select(
        registration.c.id, registration.c.child_id,
        child_copy.c.first_name.label("child_first_name"),
        child_copy.c.last_name.label("child_last_name"), registration.c.family_id,
        registration.c.period_id, registration.c.group_id, registration.c.status,
        activity.c.pre_registration, facility.c.name.label("facility_name"),
        activity.c.name.label("activity_name"), period.c.label.label("period_label"),
        activity_group.c.label.label("group_label"), period.c.start_date, period.c.end_date,
        registration.c.typical_week, registration.c.memo, registration.c.requested_at,
        registration.c.decided_at, registration.c.reason, position.label("waitlist_position"),
        activity_group.c.capacity).select_from(registration))


_AHEAD = registration.alias("ahead")
_LISTS = registration.alias("waiting")
_POSITIONS: dict[str, Any] = {
    # Rows of one group's waiting list, in its order: their own number.
    "row_number": func.row_number().over(
        order_by=(registration.c.waitlist_rank, registration.c.id)),
    # Few rows: each waitlisted one counts the registrations ahead of it on its list.
    "count": case((_WAITLISTED, select(func.count()).select_from(_AHEAD).where(
        _AHEAD.c.group_id == registration.c.group_id,
        _AHEAD.c.status == Status.WAITLISTED.value,
        tuple_(_AHEAD.c.waitlist_rank, _AHEAD.c.id)
        <= tuple_(registration.c.waitlist_rank, registration.c.id)).scalar_subquery())),
}
# Built once (statements are immutable; building this one costs more than a family's query).
_LISTINGS = {name: _listing_select(position) for name, position in _POSITIONS.items()}


def _listing(*where: Any, positions: str = "window") -> Any:
    """Registrations matching `where`, each with its labels and, when waitlisted, its position
    on its group's list, in ONE query (window functions: SQLite ≥ 3.25 and PostgreSQL).

    `positions`: "row_number" when `where` selects exactly one group's waiting list (the
    staff's page); "count" for few rows (a family's, one registration); "window" for any
    listing: the waiting lists of only the groups where a matching row is waitlisted are
    numbered, then joined."""
    if positions != "window":
        return _LISTINGS[positions].where(*where)
    groups = _joined(select(registration.c.group_id).select_from(registration)).where(
        *where, _WAITLISTED).correlate(None)
    numbered = select(_LISTS.c.id, func.row_number().over(
        partition_by=_LISTS.c.group_id, order_by=(_LISTS.c.waitlist_rank, _LISTS.c.id))
        .label("position")).where(_LISTS.c.status == Status.WAITLISTED.value,
                                  _LISTS.c.group_id.in_(groups)).subquery("positions")
    return (_listing_select(numbered.c.position)
            .outerjoin(numbered, numbered.c.id == registration.c.id).where(*where))


async def _views(uow: UnitOfWork, stmt: Any) -> list[dict[str, Any]]:
    """The rows of a `_listing` as the response model's dicts, built in the shape the endpoints
    serialise (rows zipped with the column names, the mark and the typical week filled in): no
    per-field Python work on the staff's 10,000-row waiting list."""
    result = await uow.session.execute(stmt)
    keys = [str(k) for k in result.keys()]  # plain str: some are SQLAlchemy's quoted names
    views = [dict(zip(keys, row)) for row in result.all()]
    for v in views:
        v["mark"] = _mark(v["status"], v["pre_registration"])
        week = v["typical_week"]
        # Most requests carry no typical week: no JSON parsing for those (long listings).
        v["typical_week"] = json.loads(week) if week not in (None, "", "[]") else []
    return views


async def places_by_group(uow: UnitOfWork, group_ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Places taken in each of these groups, in ONE grouped query."""
    if not group_ids:
        return {}
    rows = (await uow.session.execute(
        select(registration.c.group_id, func.count()).where(
            registration.c.group_id.in_(sorted(group_ids)),
            registration.c.status.in_([s.value for s in HOLDS_A_PLACE]))
        .group_by(registration.c.group_id))).all()
    return {g: 0 for g in group_ids} | {r[0]: int(r[1]) for r in rows}


async def get_registration(uow: UnitOfWork, family_id: uuid.UUID | None,
                           registration_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        where = [registration.c.id == registration_id]
        if family_id is not None:
            where.append(registration.c.family_id == family_id)
        views = await _views(uow, _listing(*where, positions="count"))
    if not views:
        raise NotFound("Cette inscription est introuvable.")
    return views[0]


async def family_registrations(uow: UnitOfWork, family_id: uuid.UUID,
                               child_id: uuid.UUID | None = None,
                               state: str | None = None) -> list[dict[str, Any]]:
    """`state`: « attente » (pending or waitlisted) or « cours » (validated, not ended)."""
    async with uow:
        return await family_views(uow, family_id, child_id, state)


async def family_views(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID | None = None,
                       state: str | None = None) -> list[dict[str, Any]]:
    """`family_registrations` inside a unit of work the caller opened."""
    where = [registration.c.family_id == family_id]
    if child_id:
        where.append(registration.c.child_id == child_id)
    if state == "attente":
        where.append(registration.c.status.in_([Status.PENDING.value, Status.WAITLISTED.value]))
    elif state == "cours":
        where += [registration.c.status == Status.VALIDATED.value,
                  period.c.end_date >= now().date()]
    return await _views(uow, _listing(*where, positions="count").order_by(
        period.c.start_date.desc(), child_copy.c.first_name))


async def fill_freed_places(uow: UnitOfWork, group_id: uuid.UUID) -> None:
    """A place freed up: with automatic promotion, the first in line take the free places (more
    than one if the capacity grew). Staff-promoted periods wait for staff. Called with the group
    locked (the lock is taken again here, which is a no-op, so the order stays group first)."""
    group = await group_row(uow, group_id, lock=True)
    p = await period_row(uow, group.period_id)
    if p.promotion_mode != ValidationMode.AUTO:
        return
    free = group.capacity - await places_taken(uow, group_id)
    if free <= 0:
        return
    firsts = (await uow.session.execute(select(registration).where(
        registration.c.group_id == group_id, registration.c.status == Status.WAITLISTED.value)
        .order_by(registration.c.waitlist_rank, registration.c.id).limit(free))).all()
    for reg in firsts:
        await _promote(uow, reg, group, validated=p.validation_mode == ValidationMode.AUTO)


async def _promote(uow: UnitOfWork, reg: Any, group: Any, *, validated: bool) -> None:
    at = now()
    status = Status.VALIDATED if validated else Status.PENDING
    announce: Announce = [(events.RegistrationPromoted, {})]
    if validated:
        announce.append((events.RegistrationValidated, {}))
    await _transition(uow, reg, Status.WAITLISTED.value, announce, conflict=NOT_WAITLISTED,
                      group_label=group.label, status=status.value, waitlist_rank=None,
                      promoted_at=at, decided_at=at if validated else None)


async def _cancel(uow: UnitOfWork, group: Any, reg: Any, by: str, reason: str | None = None
                  ) -> None:
    check_can_cancel(reg.status)
    await _transition(uow, reg, reg.status, [(events.RegistrationCancelled, {"cancelled_by": by})],
                      conflict=ALREADY_CLOSED, group_label=group.label,
                      status=Status.CANCELLED.value, waitlist_rank=None, decided_at=now(),
                      reason=reason)
    if reg.status in HOLDS_A_PLACE:
        await fill_freed_places(uow, group.id)


async def cancel_by_family(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID) -> None:
    async def work() -> None:
        async with uow:
            group, reg = await _locked(uow, registration_id, family_id)
            await _cancel(uow, group, reg, "famille")
            await uow.commit()

    await retry_transaction(work)


async def staff_queue(uow: UnitOfWork, *, status: str = Status.PENDING.value,
                      facility_id: uuid.UUID | None = None, period_id: uuid.UUID | None = None,
                      group_id: uuid.UUID | None = None, requested_from: Any = None,
                      requested_to: Any = None) -> list[dict[str, Any]]:
    where = [registration.c.status == status]
    if facility_id:
        where.append(period.c.activity_id.in_(_activities_of(facility_id)))
    if period_id:
        where.append(registration.c.period_id == period_id)
    if group_id:
        where.append(registration.c.group_id == group_id)
    if requested_from:
        where.append(registration.c.requested_at >= requested_from)
    if requested_to:
        where.append(registration.c.requested_at < requested_to)
    async with uow:
        views = await _views(uow, _listing(*where).order_by(registration.c.requested_at))
        taken = await places_by_group(uow, {v["group_id"] for v in views})
    for view in views:
        view["places_taken"] = taken[view["group_id"]]
    return views


def _activities_of(facility_id: uuid.UUID) -> Any:
    return (select(activity.c.id).join(activity_type, activity_type.c.id == activity.c.activity_type_id)
            .where(activity_type.c.facility_id == facility_id))


async def _decide_one(uow: UnitOfWork, actor: Principal, registration_id: uuid.UUID, validate: bool,
                      reason: str | None) -> None:
    reason = (reason or "").strip() or None
    if not validate and not reason:
        raise InvalidInput("Indiquez le motif du refus : il est communiqué à la famille.")
    group, reg = await _locked(uow, registration_id)
    check_can_decide(reg.status)
    if validate and await places_taken(uow, group.id) > group.capacity:
        # The request holds one of the places counted: more than the capacity means the group
        # is over-full (e.g. its capacity was lowered by hand): do not validate beyond it.
        raise _full(group)
    values = {"status": (Status.VALIDATED if validate else Status.REFUSED).value,
              "decided_at": now(), "decided_by": uuid.UUID(actor.subject), "reason": reason}
    announce: Announce = ([(events.RegistrationValidated, {})] if validate
                          else [(events.RegistrationRefused, {"reason": reason})])
    await _transition(uow, reg, Status.PENDING.value, announce, conflict=ALREADY_DECIDED,
                      group_label=group.label, **values)
    await audit(uow, actor, "inscription.validee" if validate else "inscription.refusee",
                f"inscription:{registration_id}", before={"status": reg.status},
                after={"status": values["status"], "reason": reason})
    if not validate:
        await fill_freed_places(uow, group.id)


async def decide(uow_factory: Any, actor: Principal,
                 decisions: list[tuple[uuid.UUID, bool, str | None]]) -> list[dict[str, Any]]:
    """Each decision in its own transaction: one failed item does not undo the others, and
    every item ends in a reported outcome."""
    results = []
    for registration_id, validate, reason in decisions:
        async def work(registration_id: uuid.UUID = registration_id, validate: bool = validate,
                       reason: str | None = reason) -> None:
            async with uow_factory() as uow:
                await _decide_one(uow, actor, registration_id, validate, reason)
                await uow.commit()

        try:
            await retry_transaction(work)
            results.append({"registration_id": registration_id, "ok": True,
                            "detail": "Inscription validée." if validate else "Inscription refusée."})
        except DomainError as exc:
            results.append({"registration_id": registration_id, "ok": False, "detail": exc.detail})
        except SQLAlchemyError:
            log.exception("decision on registration %s failed", registration_id)
            results.append({"registration_id": registration_id, "ok": False, "detail": TECHNICAL})
    return results


async def waiting_list(uow: UnitOfWork, group_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        group = await group_row(uow, group_id)
        views = await _views(uow, _listing(
            registration.c.group_id == group_id, registration.c.status == Status.WAITLISTED.value,
            positions="row_number").order_by(registration.c.waitlist_rank, registration.c.id))
        taken = await places_taken(uow, group_id)
    return {"group_id": group_id, "label": group.label, "capacity": group.capacity,
            "places_taken": taken, "items": views}


async def reorder_waiting_list(uow: UnitOfWork, group_id: uuid.UUID,
                               ordered_ids: list[uuid.UUID], actor: Principal | None = None
                               ) -> None:
    async def work() -> None:
        async with uow:
            await group_row(uow, group_id, lock=True)
            current = set((await uow.session.scalars(select(registration.c.id).where(
                registration.c.group_id == group_id,
                registration.c.status == Status.WAITLISTED.value))).all())
            before = (await uow.session.scalars(select(registration.c.id).where(
                registration.c.group_id == group_id,
                registration.c.status == Status.WAITLISTED.value)
                .order_by(registration.c.waitlist_rank, registration.c.id))).all()
            if set(ordered_ids) != current or len(ordered_ids) != len(current):
                raise InvalidInput("La nouvelle liste doit reprendre exactement les demandes en "
                                   "attente de ce groupe.")
            for rank, reg_id in enumerate(ordered_ids, start=1):
                await uow.session.execute(update(registration).where(
                    registration.c.id == reg_id,
                    registration.c.status == Status.WAITLISTED.value)
                    .values(waitlist_rank=float(rank)))
            if actor:
                await audit(uow, actor, "liste_attente.reordonnee", f"groupe:{group_id}",
                            before={"order": [str(i) for i in before]},
                            after={"order": [str(i) for i in ordered_ids]})
            await uow.commit()

    await retry_transaction(work)


async def promote(uow: UnitOfWork, registration_id: uuid.UUID,
                  actor: Principal | None = None) -> None:
    async def work() -> None:
        async with uow:
            group, reg = await _locked(uow, registration_id)
            if reg.status != Status.WAITLISTED:
                raise Conflict(NOT_WAITLISTED)
            if await places_taken(uow, group.id) >= group.capacity:
                raise _full(group)
            await _promote(uow, reg, group, validated=True)
            if actor:
                await audit(uow, actor, "liste_attente.promue", f"inscription:{registration_id}",
                            before={"status": reg.status},
                            after={"status": Status.VALIDATED.value})
            await uow.commit()

    await retry_transaction(work)


async def remove_from_waiting_list(uow: UnitOfWork, registration_id: uuid.UUID,
                                   reason: str | None, actor: Principal | None = None) -> None:
    async def work() -> None:
        async with uow:
            group, reg = await _locked(uow, registration_id)
            if reg.status != Status.WAITLISTED:
                raise Conflict(NOT_WAITLISTED)
            await _cancel(uow, group, reg, "structure", reason)
            if actor:
                await audit(uow, actor, "liste_attente.retiree", f"inscription:{registration_id}",
                            before={"status": reg.status},
                            after={"status": "annulee", "reason": reason})
            await uow.commit()

    await retry_transaction(work)


STATUS_FOR_DASHBOARD = {
    Status.PENDING: "en_attente", Status.WAITLISTED: "en_attente",
    Status.VALIDATED: "acceptee", Status.REFUSED: "refusee",
}


def dashboard_items(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for v in views:
        if v["status"] not in STATUS_FOR_DASHBOARD:
            continue
        waiting = (f" — liste d'attente, position {v['waitlist_position']}"
                   if v["status"] == Status.WAITLISTED else "")
        items.append({
            "kind": "inscription",
            "label": (f"Inscription de {v['child_first_name']} : {v['facility_name']} › "
                      f"{v['activity_name']} - {v['period_label']} ({v['group_label']}){waiting}"),
            "status": STATUS_FOR_DASHBOARD[Status(v["status"])], "created_at": v["requested_at"],
            "decided_at": v["decided_at"], "reason": v["reason"],
        })
    return items
