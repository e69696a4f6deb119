"""« Pointage »: the roll call of a group on a day (staff, on a tablet).

The roll-call row is the lock of the day: every change starts with one conditional UPDATE of it
(`… SET version = version + 1 WHERE id = … AND locked_at IS NULL`), so records and the lock are
serialised on that row and a locked roll call refuses them (409). Attendance rows change by
compare-and-set on their version; each status set or changed is announced (AttendanceRecorded,
the record's version). An unlock needs a reason and is kept in `roll_call_unlock`.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.copies import insert_if_missing
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts.booking import AttendanceRecorded, AttendanceStatus, RollCallLocked
from marelle_booking.clock import PARIS
from marelle_booking.db import (
    attendance,
    child_copy,
    registration_copy,
    reservation,
    roll_call,
    roll_call_unlock,
)
from marelle_booking.usecases.shuttles import actor_id
from marelle_booking.usecases.views import calendar_units, period_groups

log = logging.getLogger(__name__)

BOOKED = "reservee"
VALIDATED = "validee"
LOCKED = "Le pointage est verrouillé : déverrouillez-le (avec un motif) pour le modifier."
PRESENT = {AttendanceStatus.PRESENT, AttendanceStatus.PRESENT_UNBOOKED}
ABSENT = {AttendanceStatus.ABSENT_JUSTIFIED, AttendanceStatus.ABSENT_UNJUSTIFIED}


@dataclass(frozen=True)
class Record:
    child_id: uuid.UUID
    status: AttendanceStatus
    reason: str | None = None


async def _place(uow: UnitOfWork, period_id: uuid.UUID, group_id: uuid.UUID, day: date
                 ) -> tuple[Any, str]:
    period, groups = await period_groups(uow, period_id)
    if group_id not in groups:
        raise NotFound("Ce groupe n'existe pas dans cette période.")
    if not period.start_date <= day <= period.end_date:
        raise InvalidInput(f"Le {day:%d/%m/%Y} est en dehors de la période « {period.label} ».")
    return period, groups[group_id]


def _today(at: datetime) -> date:
    return at.astimezone(PARIS).date()


async def _booked(uow: UnitOfWork, period_id: uuid.UUID, group_id: uuid.UUID, day: date
                  ) -> dict[uuid.UUID, Any]:
    """child → (family_id, registration_id, [units]) of the children booked in the group."""
    rows = (await uow.session.execute(
        select(reservation.c.child_id, reservation.c.family_id, reservation.c.registration_id,
               reservation.c.unit)
        .where(reservation.c.period_id == period_id, reservation.c.group_id == group_id,
               reservation.c.day == day, reservation.c.status == BOOKED))).all()
    booked: dict[uuid.UUID, Any] = {}
    for r in rows:
        entry = booked.setdefault(r.child_id, {"family_id": r.family_id,
                                                "registration_id": r.registration_id,
                                                "units": []})
        entry["units"].append(r.unit)
    return booked


async def _ensure(uow: UnitOfWork, period_id: uuid.UUID, group_id: uuid.UUID, day: date) -> None:
    await insert_if_missing(uow.session, roll_call, {
        "id": uuid.uuid4(), "period_id": period_id, "group_id": group_id, "day": day,
        "version": 0})


def _key(period_id: uuid.UUID, group_id: uuid.UUID, day: date) -> list[Any]:
    return [roll_call.c.period_id == period_id, roll_call.c.group_id == group_id,
            roll_call.c.day == day]


def _check_records(records: list[Record]) -> None:
    ids = [r.child_id for r in records]
    if len(set(ids)) != len(ids):
        raise InvalidInput("Un même enfant apparaît deux fois dans le pointage.")
    for r in records:
        if r.status is AttendanceStatus.ABSENT_JUSTIFIED and not (r.reason or "").strip():
            raise InvalidInput("Une absence justifiée demande un motif, par exemple « Maladie "
                               "(certificat) ».")


async def record(uow: UnitOfWork, staff: Principal, period_id: uuid.UUID, group_id: uuid.UUID,
                 day: date, records: list[Record], at: datetime) -> None:
    _check_records(records)
    by = actor_id(staff)

    async def work() -> int:
        async with uow:
            s = uow.session
            period, _ = await _place(uow, period_id, group_id, day)
            if day > _today(at):
                raise InvalidInput("On ne pointe pas un jour à venir.")
            await _ensure(uow, period_id, group_id, day)
            rc = (await s.execute(update(roll_call).where(
                *_key(period_id, group_id, day), roll_call.c.locked_at.is_(None))
                .values(version=roll_call.c.version + 1).returning(roll_call.c.id))).first()
            if rc is None:
                raise Conflict(LOCKED)
            booked = await _booked(uow, period_id, group_id, day)
            unbooked = [r.child_id for r in records if r.child_id not in booked]
            registered: dict[uuid.UUID, uuid.UUID] = {}
            if unbooked:
                registered = {r.child_id: r.family_id for r in (await s.execute(
                    select(registration_copy.c.child_id, registration_copy.c.family_id).where(
                        registration_copy.c.child_id.in_(unbooked),
                        registration_copy.c.period_id == period_id,
                        registration_copy.c.status == VALIDATED))).all()}
            names = {r.child_id: r.first_name for r in (await s.execute(
                select(child_copy.c.child_id, child_copy.c.first_name).where(
                    child_copy.c.child_id.in_([r.child_id for r in records])))).all()}
            existing = {r.child_id: r for r in (await s.execute(select(attendance).where(
                attendance.c.roll_call_id == rc.id))).all()}
            changed = 0
            for rec in records:
                name = names.get(rec.child_id, "Cet enfant")
                if rec.child_id in booked:
                    if rec.status is AttendanceStatus.PRESENT_UNBOOKED:
                        raise InvalidInput(f"{name} a une réservation ce jour : choisissez "
                                           "« présent ».")
                    family_id = booked[rec.child_id]["family_id"]
                else:
                    if rec.child_id not in registered:
                        raise InvalidInput(f"{name} n'a pas d'inscription validée sur la période "
                                           f"« {period.label} ».")
                    if rec.status is not AttendanceStatus.PRESENT_UNBOOKED and \
                            rec.child_id not in existing:
                        raise InvalidInput(f"{name} n'a pas de réservation ce jour dans ce "
                                           "groupe : choisissez « présent sans réservation ».")
                    family_id = registered[rec.child_id]
                reason = ((rec.reason or "").strip() or None) if rec.status in ABSENT else None
                before = existing.get(rec.child_id)
                if before is None:
                    row = (await s.execute(insert(attendance).values(
                        id=uuid.uuid4(), roll_call_id=rc.id, child_id=rec.child_id,
                        family_id=family_id, status=rec.status.value, reason=reason,
                        recorded_by=by, recorded_at=at, version=1)
                        .returning(*attendance.c))).one()
                elif before.status == rec.status.value and before.reason == reason:
                    continue
                else:
                    row = (await s.execute(update(attendance).where(
                        attendance.c.id == before.id, attendance.c.version == before.version)
                        .values(status=rec.status.value, reason=reason, recorded_by=by,
                                recorded_at=at, version=attendance.c.version + 1)
                        .returning(*attendance.c))).first()
                    if row is None:
                        raise Conflict("Le pointage a été modifié en même temps : rechargez-le.")
                uow.publish(AttendanceRecorded(
                    attendance_id=row.id, child_id=row.child_id, family_id=row.family_id,
                    period_id=period_id, group_id=group_id, day=day,
                    status=AttendanceStatus(row.status), reason=row.reason, recorded_by=by),
                    version=row.version)
                changed += 1
            await uow.commit()
            return changed

    changed = await retry_transaction(work)
    log.info("pointage %s/%s du %s : %d statut(s) enregistré(s) par %s", period_id, group_id,
             day, changed, staff.subject)


async def lock(uow: UnitOfWork, staff: Principal, period_id: uuid.UUID, group_id: uuid.UUID,
               day: date, at: datetime) -> None:
    by = actor_id(staff)

    async def work() -> None:
        async with uow:
            s = uow.session
            await _place(uow, period_id, group_id, day)
            if day > _today(at):
                raise InvalidInput("On ne verrouille pas le pointage d'un jour à venir.")
            await _ensure(uow, period_id, group_id, day)
            rc = (await s.execute(update(roll_call).where(
                *_key(period_id, group_id, day), roll_call.c.locked_at.is_(None))
                .values(locked_at=at, locked_by=by, version=roll_call.c.version + 1)
                .returning(roll_call.c.id, roll_call.c.version))).first()
            if rc is None:
                raise Conflict("Le pointage est déjà verrouillé.")
            statuses = {r.child_id: r.status for r in (await s.execute(
                select(attendance.c.child_id, attendance.c.status).where(
                    attendance.c.roll_call_id == rc.id))).all()}
            missing = [c for c in await _booked(uow, period_id, group_id, day)
                       if c not in statuses]
            if missing:
                raise Conflict(f"Pointage incomplet : {len(missing)} enfant"
                               f"{'s' if len(missing) > 1 else ''} sans statut. Pointez chaque "
                               "enfant avant de verrouiller.")
            present = sum(1 for v in statuses.values() if AttendanceStatus(v) in PRESENT)
            uow.publish(RollCallLocked(
                roll_call_id=rc.id, period_id=period_id, group_id=group_id, day=day,
                locked_by=by, locked_at=at, present=present, absent=len(statuses) - present),
                version=rc.version)
            await audit(uow, staff, "pointage.verrouille", f"pointage:{group_id}/{day}",
                        before={"locked": False},
                        after={"locked": True, "present": present,
                               "absent": len(statuses) - present})
            await uow.commit()

    await retry_transaction(work)
    log.info("pointage %s/%s du %s verrouillé par %s", period_id, group_id, day, staff.subject)


async def unlock(uow: UnitOfWork, staff: Principal, period_id: uuid.UUID, group_id: uuid.UUID,
                 day: date, reason: str, at: datetime) -> None:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Indiquez le motif du déverrouillage.")
    by = actor_id(staff)

    async def work() -> None:
        async with uow:
            s = uow.session
            await _place(uow, period_id, group_id, day)
            rc = (await s.execute(update(roll_call).where(
                *_key(period_id, group_id, day), roll_call.c.locked_at.is_not(None))
                .values(locked_at=None, locked_by=None, version=roll_call.c.version + 1)
                .returning(roll_call.c.id))).first()
            if rc is None:
                raise Conflict("Le pointage n'est pas verrouillé.")
            await s.execute(insert(roll_call_unlock).values(
                id=uuid.uuid4(), roll_call_id=rc.id, unlocked_by=by, unlocked_at=at,
                reason=reason))
            await audit(uow, staff, "pointage.deverrouille", f"pointage:{group_id}/{day}",
                        before={"locked": True}, after={"locked": False, "reason": reason})
            await uow.commit()

    await retry_transaction(work)
    log.warning("pointage %s/%s du %s déverrouillé par %s, motif : %s", period_id, group_id, day,
                staff.subject, reason)


async def roll_call_view(uow: UnitOfWork, period_id: uuid.UUID, group_id: uuid.UUID, day: date
                         ) -> dict[str, Any]:
    """The booked children (units booked), and those recorded without a booking, with their
    status; in a fixed number of queries."""
    async with uow:
        s = uow.session
        _, group_label = await _place(uow, period_id, group_id, day)
        order = {code: i for i, code in enumerate(await calendar_units(uow, period_id))}
        rc = (await s.execute(select(roll_call).where(*_key(period_id, group_id, day)))).first()
        booked = await _booked(uow, period_id, group_id, day)
        records = {} if rc is None else {r.child_id: r for r in (await s.execute(
            select(attendance).where(attendance.c.roll_call_id == rc.id))).all()}
        ids = set(booked) | set(records)
        children = {r.child_id: r for r in (await s.execute(select(child_copy).where(
            child_copy.c.child_id.in_(ids)))).all()} if ids else {}
        memos: dict[uuid.UUID, list[str]] = defaultdict(list)
        if ids:
            for r in (await s.execute(select(registration_copy.c.child_id, registration_copy.c.memo)
                                      .where(registration_copy.c.child_id.in_(ids),
                                             registration_copy.c.period_id == period_id,
                                             registration_copy.c.status == VALIDATED))).all():
                if r.memo:
                    memos[r.child_id].append(r.memo)
    lines = []
    for child_id in ids:
        c = children.get(child_id)
        rec = records.get(child_id)
        lines.append({
            "child_id": child_id, "first_name": c.first_name if c else "",
            "last_name": c.last_name if c else "",
            "booked_units": sorted(booked.get(child_id, {"units": []})["units"],
                                   key=lambda u: (order.get(u, len(order)), u)),
            "status": rec.status if rec else None, "reason": rec.reason if rec else None,
            "notes": "\n".join(memos.get(child_id, [])),
        })
    lines.sort(key=lambda line: (line["last_name"].casefold(), line["first_name"].casefold(),
                                 str(line["child_id"])))
    return {"period_id": period_id, "group_id": group_id, "group_label": group_label, "day": day,
            "locked": bool(rc and rc.locked_at), "locked_at": rc.locked_at if rc else None,
            "locked_by": rc.locked_by if rc else None, "lines": lines}
