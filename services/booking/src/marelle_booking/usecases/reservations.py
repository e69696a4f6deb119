"""« Mes réservations », « Liste d'attente », « Affecter les Groupes », « Réservation selon une
semaine type », the staff's day waiting lists, promotions and cancellations, and the family's
dashboard items.

Every change runs in its own transaction (`retry_transaction`) and ends in a reported outcome.
Lock order, everywhere: the registration copy row and the calendar row (shared, bookings
only; exclusive for the registration's handler and the calendar's PUT), then the day counters
(`day_slot`) in (day, group, unit) order, then the reservations, read again after the lock and
changed by compare-and-set (see `slots`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, DomainError, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_booking.db import (
    calendar,
    child_copy,
    day_capacity,
    day_slot,
    registration_copy,
    reservation,
    unit_capacity,
)
from marelle_booking.domain.calendar import closed_refusal, long_day, week_of, weekday_letter
from marelle_booking.domain.rules import (
    not_open_refusal,
    ALREADY_BOOKED,
    ALREADY_CHANGED,
    NO_PLACES,
    NOT_BOOKED,
    NOT_MODIFIABLE,
    Refused,
    horizon_refusal,
    implied_units,
    past_refusal,
    paris_today,
    within_horizon,
    week_only_refusal,
)
from marelle_booking.usecases.common import (
    Calendar,
    calendar_from_row,
    family_registration,
    first_name,
    groups_of,
    load_calendar,
    period_row,
)
from marelle_booking.usecases.slots import (
    BOOKED,
    CANCELLED,
    WAITING,
    Slot,
    cancel_row,
    ensure_slot,
    insert_reservation,
    lock_slot,
    promote_row,
    reread,
    slot_of,
    take_place,
)

log = logging.getLogger(__name__)

ACTIVE = (BOOKED, WAITING)
TECHNICAL = ("Ce changement n'a pas pu être enregistré à cause d'un incident technique : "
             "réessayez dans un instant.")
UNKNOWN_UNIT = "Ce créneau n'existe pas dans le calendrier de cette période."
UNKNOWN_GROUP = "Ce groupe n'appartient pas à cette période."
FULL = ("Ce jour est complet pour ce groupe et ce créneau : libérez ou ajoutez une place avant "
        "de promouvoir une demande.")
NOT_WAITING = "Cette demande n'est pas sur la liste d'attente."
RESERVATION_UNKNOWN = "Cette réservation est introuvable."


@dataclass
class Context:
    reg: Any
    period: Any
    cal: Calendar
    groups: dict[uuid.UUID, str]


async def _context(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID) -> Context:
    reg = await family_registration(uow, family_id, registration_id)
    period = await period_row(uow, reg.period_id)
    cal = await load_calendar(uow, reg.period_id, reg.start_date, reg.end_date)
    return Context(reg, period, cal, {g["group_id"]: g["label"] for g in groups_of(period)})


async def context(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID) -> Context:
    async with uow:
        return await _context(uow, family_id, registration_id)


# --- the rules a change must pass before it touches the database ------------------------------

def booking_refusal(cal: Calendar, day: date, now: datetime, *, family: bool = True) -> str | None:
    if (reason := cal.rules.closed_reason(day)) is not None:
        return closed_refusal(reason)
    if day < paris_today(now):
        return past_refusal()
    if family and not cal.families_may_modify:
        return NOT_MODIFIABLE
    if family and cal.bookings_open_at is not None and now < cal.bookings_open_at:
        return not_open_refusal(cal.bookings_open_at)
    if family and not cal.booking.allows(day, now):
        return cal.booking.booking_refusal()
    if family and not within_horizon(day, now, cal.horizon_days):
        return horizon_refusal(cal.horizon_days or 0)
    return None


def cancellation_refusal(cal: Calendar, day: date, now: datetime) -> str | None:
    if day < paris_today(now):
        return past_refusal()
    if not cal.families_may_modify:
        return NOT_MODIFIABLE
    if not cal.cancellation.allows(day, now):
        return cal.cancellation.cancellation_refusal()
    return None


def _result(change: dict[str, Any], ok: bool, detail: str, status: str | None = None,
            position: int | None = None) -> dict[str, Any]:
    return {"day": change["day"], "unit": change["unit"], "action": change["action"], "ok": ok,
            "status": status, "position": position, "detail": detail}


async def _active_of_child(uow: UnitOfWork, child_id: uuid.UUID, days: set[date]) -> list[Any]:
    if not days:
        return []
    return list((await uow.session.execute(select(reservation).where(
        reservation.c.child_id == child_id, reservation.c.day.in_(sorted(days)),
        reservation.c.status.in_(ACTIVE)))).all())


# --- one booking, one cancellation (each inside the caller's transaction) ----------------------

async def _lock_registration(uow: UnitOfWork, registration_id: uuid.UUID,
                             period_id: uuid.UUID) -> None:
    """Shared locks on the registration copy and on the period's calendar: a cancellation of
    the registration (its handler updates that row) or a change of the calendar's capacities
    (PUT updates that row first) waits for the bookings in flight, or they see it done."""
    status = await uow.session.scalar(select(registration_copy.c.status).where(
        registration_copy.c.registration_id == registration_id).with_for_update(read=True))
    if status != "validee":
        raise Refused("Cette inscription n'est plus validée : réservation impossible.")
    await uow.session.execute(select(calendar.c.version).where(
        calendar.c.period_id == period_id).with_for_update(read=True))


async def _book(uow: UnitOfWork, ctx: Context, unit: str, day: date, group_id: uuid.UUID,
                now: datetime) -> tuple[str, int | None]:
    """Book `unit` and the units it implies (all or nothing). The unit decides: a place, or the
    day's waiting list (the implied units are then not booked)."""
    cal = ctx.cal
    await _lock_registration(uow, ctx.reg.registration_id, cal.period_id)
    units = implied_units(cal.implies, unit)
    existing = {r.unit for r in await _active_of_child(uow, ctx.reg.child_id, {day})}
    if unit in existing:
        raise Refused(ALREADY_BOOKED)
    units = [unit] + [u for u in units[1:] if u not in existing]
    for u in units:
        if not await ensure_slot(uow, Slot(cal.period_id, group_id, u, day)):
            raise Refused(NO_PLACES if u == unit else
                          f"Aucune place n'est ouverte pour « {cal.label(u)} », compris dans "
                          f"« {cal.label(unit)} ».")
    main = Slot(cal.period_id, group_id, unit, day)
    # The waiting list's order is decided under the slot lock; a place freed between the full
    # counter and the lock (and found no one waiting) is taken now.
    if not await take_place(uow, main) and (await lock_slot(uow, main) is None
                                            or not await take_place(uow, main)):
        _, position = await insert_reservation(uow, ctx.reg, main, WAITING, now, cal.label(unit))
        return WAITING, position
    for u in units[1:]:
        slot = Slot(cal.period_id, group_id, u, day)
        if not await take_place(uow, slot):
            raise Refused(f"Plus de place pour « {cal.label(u)} » ce jour-là : « "
                          f"{cal.label(unit)} » ne peut pas être réservé.")
        await insert_reservation(uow, ctx.reg, slot, BOOKED, now, cal.label(u))
    await insert_reservation(uow, ctx.reg, main, BOOKED, now, cal.label(unit))
    return BOOKED, None


async def _cancel_child_unit(uow: UnitOfWork, ctx: Context, unit: str, day: date, by: str,
                             within_deadline: bool, now: datetime) -> None:
    """Cancel the child's reservation of `unit` that day, and of the units it implies."""
    cal = ctx.cal
    units = implied_units(cal.implies, unit)
    rows = {r.unit: r for r in await _active_of_child(uow, ctx.reg.child_id, {day})
            if r.registration_id == ctx.reg.registration_id}
    if unit not in rows:
        raise Refused(NOT_BOOKED)
    targets = sorted((rows[u] for u in units if u in rows), key=lambda r: (r.group_id, r.unit))
    for row in targets:
        await lock_slot(uow, slot_of(row))
        current = await reread(uow, row.id)
        if current.status not in ACTIVE:
            if row.unit == unit:
                raise Conflict(ALREADY_CHANGED)
            continue
        await cancel_row(uow, current, by=by, within_deadline=within_deadline, now=now,
                         unit_label=cal.label(row.unit))


# --- batches of changes ------------------------------------------------------------------------

Work = Callable[[UnitOfWork], Awaitable[dict[str, Any]]]


async def _run(uow_factory: Any, change: dict[str, Any], work: Work) -> dict[str, Any]:
    async def once() -> dict[str, Any]:
        async with uow_factory() as uow:
            out = await work(uow)
            await uow.commit()
            return out

    try:
        return await retry_transaction(once)
    except IntegrityError:
        return _result(change, False, ALREADY_BOOKED)
    except DomainError as exc:
        return _result(change, False, exc.detail)
    except SQLAlchemyError:
        log.exception("reservation change failed")
        return _result(change, False, TECHNICAL)


def _booked_detail(ctx: Context, unit: str, day: date, status: str, position: int | None) -> str:
    what = f"{ctx.cal.label(unit).lower()} du {long_day(day)}"
    if status == BOOKED:
        return f"Réservé : {what}."
    return f"Complet : {what} sur liste d'attente, position {position}."


async def _week_only(uow_factory: Any, ctx: Context, changes: list[dict[str, Any]],
                     refused: dict[int, str]) -> None:
    """Week-only rule: the changes of one unit and one action must cover every opening day of
    the booking week, counting the days already in the wanted state."""
    if not ctx.cal.week_only:
        return
    weeks = {w.number: w for w in ctx.cal.weeks}
    wanted: dict[tuple[str, str, int], set[date]] = defaultdict(set)
    for change in changes:
        week = week_of(ctx.cal.weeks, change["day"])
        if week is not None:
            wanted[(change["action"], change["unit"], week.number)].add(change["day"])
    days = {d for w in {k[2] for k in wanted} for d in weeks[w].days}
    async with uow_factory() as uow:
        active = {(r.unit, r.day) for r in await _active_of_child(uow, ctx.reg.child_id, days)}
    for i, change in enumerate(changes):
        week = week_of(ctx.cal.weeks, change["day"])
        if week is None or i in refused:
            continue
        covered = set(wanted[(change["action"], change["unit"], week.number)])
        for d in week.days:
            done = (change["unit"], d) in active
            if (change["action"] == "reserver") == done:
                covered.add(d)
        if not set(week.days) <= covered:
            refused[i] = week_only_refusal(week)


async def apply_changes(uow_factory: Any, family_id: uuid.UUID, registration_id: uuid.UUID,
                        changes: list[dict[str, Any]], now: datetime, *,
                        ctx: Context | None = None,
                        already_ok: bool = False) -> list[dict[str, Any]]:
    """« Valider »: each change in its own transaction, one result per change."""
    ctx = ctx or await context(uow_factory(), family_id, registration_id)
    cal = ctx.cal
    refused: dict[int, str] = {}
    for i, change in enumerate(changes):
        if change["unit"] not in cal.unit_codes:
            refused[i] = UNKNOWN_UNIT
        elif change.get("group_id") and change["group_id"] not in ctx.groups:
            refused[i] = UNKNOWN_GROUP
        elif change["action"] == "reserver":
            if (reason := booking_refusal(cal, change["day"], now)) is not None:
                refused[i] = reason
        elif (reason := cancellation_refusal(cal, change["day"], now)) is not None:
            refused[i] = reason
    await _week_only(uow_factory, ctx, changes, refused)
    results = []
    for i, change in enumerate(changes):
        if i in refused:
            results.append(_result(change, False, refused[i]))
            continue
        if change["action"] == "reserver":
            group_id = change.get("group_id") or ctx.reg.group_id

            async def book(uow: UnitOfWork, change: dict[str, Any] = change,
                           group_id: uuid.UUID = group_id) -> dict[str, Any]:
                status, position = await _book(uow, ctx, change["unit"], change["day"],
                                               group_id, now)
                return _result(change, True, _booked_detail(ctx, change["unit"], change["day"],
                                                            status, position), status, position)

            result = await _run(uow_factory, change, book)
            if already_ok and not result["ok"] and result["detail"] == ALREADY_BOOKED:
                result = {**result, "ok": True, "detail": "Déjà réservé."}
            results.append(result)
        else:
            async def cancel(uow: UnitOfWork, change: dict[str, Any] = change) -> dict[str, Any]:
                await _cancel_child_unit(uow, ctx, change["unit"], change["day"], "famille",
                                         True, now)
                return _result(change, True, f"Réservation annulée : "
                               f"{cal.label(change['unit']).lower()} du {long_day(change['day'])}.",
                               CANCELLED)

            results.append(await _run(uow_factory, change, cancel))
    return results


async def apply_typical_week(uow_factory: Any, family_id: uuid.UUID, registration_id: uuid.UUID,
                             start: date, end: date, pattern: dict[int, list[str]],
                             group_id: uuid.UUID | None, now: datetime) -> list[dict[str, Any]]:
    """« Réservation selon une semaine type »: the opening days of the range within the period;
    days already booked are reported as such, not as errors."""
    if end < start:
        raise InvalidInput("La date de fin précède la date de début.")
    ctx = await context(uow_factory(), family_id, registration_id)
    first, last = max(start, ctx.reg.start_date), min(end, ctx.reg.end_date)
    if (last - first).days > 366:
        raise InvalidInput("Appliquez la semaine type sur un an au plus.")
    changes = [{"day": d, "unit": u, "action": "reserver", "group_id": group_id}
               for d in ctx.cal.opening_days if first <= d <= last
               for u in pattern.get(d.isoweekday(), [])]
    if not changes:
        return []
    return await apply_changes(uow_factory, family_id, registration_id, changes, now, ctx=ctx,
                               already_ok=True)


async def assign_group(uow_factory: Any, family_id: uuid.UUID, registration_id: uuid.UUID,
                       group_id: uuid.UUID, days: list[date], now: datetime) -> list[dict[str, Any]]:
    """« Affecter les Groupes »: the booked units of these days move to `group_id`, one
    transaction per day; a day the new group cannot take keeps its old booking."""
    ctx = await context(uow_factory(), family_id, registration_id)
    if group_id not in ctx.groups:
        raise InvalidInput(UNKNOWN_GROUP)
    cal = ctx.cal
    results = []
    async with uow_factory() as uow:
        rows = await _active_of_child(uow, ctx.reg.child_id, set(days))
    by_day: dict[date, list[Any]] = defaultdict(list)
    for r in rows:
        if r.registration_id == registration_id and r.status == BOOKED and r.group_id != group_id:
            by_day[r.day].append(r)
    for day in sorted(set(days)):
        moving = sorted(by_day.get(day, []), key=lambda r: r.unit)
        if not moving:
            results.append(_result({"day": day, "unit": "", "action": "affecter"}, False,
                                   "Aucune réservation à déplacer ce jour-là."))
            continue
        change = {"day": day, "unit": ",".join(r.unit for r in moving), "action": "affecter"}
        reason = booking_refusal(cal, day, now) or cancellation_refusal(cal, day, now)
        if reason:
            results.append(_result(change, False, reason))
            continue

        async def move(uow: UnitOfWork, day: date = day, moving: list[Any] = moving,
                       change: dict[str, Any] = change) -> dict[str, Any]:
            await _lock_registration(uow, registration_id, cal.period_id)
            for old in moving:
                new_slot = Slot(cal.period_id, group_id, old.unit, day)
                if not await ensure_slot(uow, new_slot):
                    raise Refused(f"Aucune place n'est ouverte pour « {cal.label(old.unit)} » "
                                  f"dans le groupe « {ctx.groups[group_id]} ».")
                if not await take_place(uow, new_slot):
                    raise Refused(f"Le groupe « {ctx.groups[group_id]} » est complet le "
                                  f"{long_day(day)} pour « {cal.label(old.unit)} » : la "
                                  "réservation reste dans son groupe.")
                await lock_slot(uow, slot_of(old))
                current = await reread(uow, old.id)
                if current.status != BOOKED:
                    raise Conflict(ALREADY_CHANGED)
                await cancel_row(uow, current, by="famille", within_deadline=True, now=now,
                                 unit_label=cal.label(old.unit))
                await insert_reservation(uow, ctx.reg, new_slot, BOOKED, now, cal.label(old.unit))
            return _result(change, True, f"Le {long_day(day)} passe dans le groupe "
                           f"« {ctx.groups[group_id]} ».", BOOKED)

        results.append(await _run(uow_factory, change, move))
    return results


# --- the month grid ---------------------------------------------------------------------------

def _month_bounds(month: str) -> tuple[date, date]:
    try:
        year, m = (int(x) for x in month.split("-"))
        first = date(year, m, 1)
    except ValueError:
        raise InvalidInput("Mois invalide (AAAA-MM).") from None
    nxt = date(year + (m == 12), m % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _shift(month_first: date, delta: int) -> str:
    m = month_first.month - 1 + delta
    return f"{month_first.year + m // 12:04d}-{m % 12 + 1:02d}"


async def _positions(uow: UnitOfWork, where: Any) -> dict[uuid.UUID, int]:
    """Waiting-list positions of every waiting request of the slots selected by `where`
    (a condition on reservation), in ONE query (window function)."""
    position = func.row_number().over(
        partition_by=(reservation.c.period_id, reservation.c.group_id, reservation.c.unit,
                      reservation.c.day), order_by=reservation.c.seq)
    rows = (await uow.session.execute(select(reservation.c.id, position).where(
        reservation.c.status == WAITING, where))).all()
    return {r[0]: int(r[1]) for r in rows}


async def month_grid(uow: UnitOfWork, family_id: uuid.UUID, registration_id: uuid.UUID,
                     month: str | None, now: datetime) -> dict[str, Any]:
    """The guide's grid for one month, in a fixed number of queries whatever the month."""
    today = paris_today(now)
    async with uow:
        ctx = await _context(uow, family_id, registration_id)
        reg, cal = ctx.reg, ctx.cal
        if month is None:
            current = max(reg.start_date, min(today, reg.end_date))
            month = f"{current.year:04d}-{current.month:02d}"
        first, last = _month_bounds(month)
        rows = (await uow.session.execute(select(reservation).where(
            reservation.c.child_id == reg.child_id, reservation.c.day.between(first, last),
            reservation.c.status.in_(ACTIVE)))).all()
        waiting_slots = {(r.period_id, r.group_id, r.unit, r.day) for r in rows
                         if r.status == WAITING}
        positions = await _positions(uow, tuple_(
            reservation.c.period_id, reservation.c.group_id, reservation.c.unit,
            reservation.c.day).in_(sorted(waiting_slots))) if waiting_slots else {}
        slots = {(s.unit, s.day): s for s in (await uow.session.execute(select(day_slot).where(
            day_slot.c.period_id == reg.period_id, day_slot.c.group_id == reg.group_id,
            day_slot.c.day.between(first, last)))).all()}
        unit_caps = {c.unit: c.capacity for c in (await uow.session.execute(
            select(unit_capacity).where(unit_capacity.c.period_id == reg.period_id,
                                        unit_capacity.c.group_id == reg.group_id))).all()}
        day_caps = {(c.unit, c.day): c.capacity for c in (await uow.session.execute(
            select(day_capacity).where(day_capacity.c.period_id == reg.period_id,
                                       day_capacity.c.group_id == reg.group_id,
                                       day_capacity.c.day.between(first, last)))).all()}
    mine = {(r.unit, r.day): r for r in rows if r.registration_id == registration_id}
    opens_at = cal.bookings_open_at
    before_opening = opens_at is not None and now < opens_at
    days = []
    day = first
    while day <= last:
        closed = cal.rules.closed_reason(day)
        cells = []
        for unit in cal.unit_codes:
            if closed is not None:
                cells.append({"unit": unit, "state": "ferme", "reason": closed})
                continue
            r = mine.get((unit, day))
            if r is not None:
                refusal = cancellation_refusal(cal, day, now)
                cells.append({"unit": unit, "state": r.status, "group_id": r.group_id,
                              "position": positions.get(r.id), "cancellable": refusal is None,
                              "reason": refusal})
                continue
            slot = slots.get((unit, day))
            capacity = slot.capacity if slot else day_caps.get((unit, day), unit_caps.get(unit))
            refusal = booking_refusal(cal, day, now)
            if capacity is None:
                cells.append({"unit": unit, "state": "ferme", "reason": refusal or NO_PLACES})
                continue
            full = (slot.booked if slot else 0) >= capacity
            cells.append({"unit": unit, "state": "complet" if full else "libre",
                          "bookable": refusal is None, "reason": refusal or (
                              "Complet : la demande ira sur la liste d'attente." if full else None),
                          # Before the opening every day is refused; the portal lets families
                          # prepare what the opening's queue will accept.
                          "bookable_at_opening": opens_at is not None and before_opening
                          and booking_refusal(cal, day, opens_at) is None})
        days.append({"day": day, "weekday_letter": weekday_letter(day), "open": closed is None,
                     "closed_reason": closed, "past": day < today, "cells": cells})
        day += timedelta(days=1)
    return {
        "registration_id": reg.registration_id, "child_id": reg.child_id,
        "child_first_name": first_name(reg), "facility_name": reg.facility_name,
        "activity_name": reg.activity_name, "period_id": reg.period_id,
        "period_label": reg.period_label, "start_date": reg.start_date, "end_date": reg.end_date,
        "group_id": reg.group_id, "group_label": reg.group_label,
        "groups": [{"group_id": g, "label": label} for g, label in ctx.groups.items()],
        "month": month,
        "previous_month": _shift(first, -1) if first > reg.start_date else None,
        "next_month": _shift(first, 1) if last < reg.end_date else None,
        "memo": cal.memo, "week_only": cal.week_only,
        "families_may_modify": cal.families_may_modify,
        "weeks": [{"number": w.number, "label": w.label, "days": w.days} for w in cal.weeks],
        "units": cal.units, "days": days,
        "typical_week": json.loads(reg.typical_week or "[]"),
        "bookings_open_at": cal.bookings_open_at,
    }


# --- waiting lists ----------------------------------------------------------------------------

async def _unit_labels(uow: UnitOfWork, period_ids: set[uuid.UUID]) -> dict[tuple[Any, str], str]:
    if not period_ids:
        return {}
    rows = (await uow.session.execute(select(calendar.c.period_id, calendar.c.units).where(
        calendar.c.period_id.in_(sorted(period_ids))))).all()
    return {(r.period_id, u["code"]): u["label"] for r in rows for u in json.loads(r.units)}


async def waiting_days(uow: UnitOfWork, family_id: uuid.UUID, now: datetime) -> list[dict[str, Any]]:
    """« Liste d'attente »: every waiting day of the family with its position (three queries)."""
    mine = select(reservation.c.period_id, reservation.c.day).where(
        reservation.c.family_id == family_id, reservation.c.status == WAITING)
    async with uow:
        positions = await _positions(uow, tuple_(reservation.c.period_id,
                                                 reservation.c.day).in_(mine))
        rows = (await uow.session.execute(
            select(reservation, registration_copy.c.period_label,
                   registration_copy.c.group_label.label("registration_group_label"),
                   registration_copy.c.group_id.label("registration_group_id"),
                   child_copy.c.first_name)
            .join(registration_copy,
                  registration_copy.c.registration_id == reservation.c.registration_id)
            .outerjoin(child_copy, child_copy.c.child_id == reservation.c.child_id)
            .where(reservation.c.family_id == family_id, reservation.c.status == WAITING,
                   reservation.c.day >= paris_today(now))
            .order_by(reservation.c.day, child_copy.c.first_name, reservation.c.unit))).all()
        labels = await _unit_labels(uow, {r.period_id for r in rows})
    return [{
        "reservation_id": r.id, "registration_id": r.registration_id, "child_id": r.child_id,
        "child_first_name": r.first_name or "", "period_label": r.period_label,
        "group_label": r.registration_group_label, "day": r.day, "unit": r.unit,
        "unit_label": labels.get((r.period_id, r.unit), r.unit), "position": positions[r.id],
    } for r in rows]


async def day_waiting_list(uow: UnitOfWork, period_id: uuid.UUID, day: date) -> dict[str, Any]:
    async with uow:
        period = await period_row(uow, period_id)
        groups = {g["group_id"]: g["label"] for g in groups_of(period)}
        where = and_(reservation.c.period_id == period_id, reservation.c.day == day)
        positions = await _positions(uow, where)
        rows = (await uow.session.execute(
            select(reservation, child_copy.c.first_name, child_copy.c.last_name)
            .outerjoin(child_copy, child_copy.c.child_id == reservation.c.child_id)
            .where(where, reservation.c.status == WAITING)
            .order_by(reservation.c.group_id, reservation.c.unit, reservation.c.seq))).all()
    return {"period_id": period_id, "day": day, "items": [{
        "reservation_id": r.id, "child_id": r.child_id, "child_first_name": r.first_name or "",
        "child_last_name": r.last_name or "", "group_id": r.group_id,
        "group_label": groups.get(r.group_id, ""), "unit": r.unit, "position": positions[r.id],
        "requested_at": r.requested_at} for r in rows]}


# --- staff -------------------------------------------------------------------------------------

async def _staff_transition(uow_factory: Any, reservation_id: uuid.UUID,
                            act: Callable[[UnitOfWork, Any, Calendar], Awaitable[None]]) -> None:
    async def work() -> None:
        async with uow_factory() as uow:
            row = await reread(uow, reservation_id)
            if row is None:
                raise NotFound(RESERVATION_UNKNOWN)
            cal = await load_calendar(uow, row.period_id)
            await lock_slot(uow, slot_of(row))
            current = await reread(uow, reservation_id)
            await act(uow, current, cal)
            await uow.commit()

    await retry_transaction(work)


async def staff_promote(uow_factory: Any, reservation_id: uuid.UUID, now: datetime,
                        actor: Principal | None = None) -> None:
    """Take a waiting request onto its day: it needs a free place (the counter says so)."""
    async def act(uow: UnitOfWork, row: Any, cal: Calendar) -> None:
        if row.status != WAITING:
            raise Conflict(NOT_WAITING)
        if not await take_place(uow, slot_of(row)):
            raise Conflict(FULL)
        await promote_row(uow, row, now, cal.label(row.unit))
        if actor:
            await audit(uow, actor, "reservation.promue", f"reservation:{reservation_id}",
                        before={"status": row.status, "day": row.day, "unit": row.unit},
                        after={"status": BOOKED})

    await _staff_transition(uow_factory, reservation_id, act)


async def staff_cancel(uow_factory: Any, reservation_id: uuid.UUID, now: datetime,
                       actor: Principal | None = None) -> None:
    """Cancel for the family, even past the deadline (the event says whether it was within)."""
    async def act(uow: UnitOfWork, row: Any, cal: Calendar) -> None:
        if row.status not in ACTIVE:
            raise Conflict(ALREADY_CHANGED)
        await cancel_row(uow, row, by="structure",
                         within_deadline=cal.cancellation.allows(row.day, now), now=now,
                         unit_label=cal.label(row.unit))
        if actor:
            await audit(uow, actor, "reservation.annulee", f"reservation:{reservation_id}",
                        before={"status": row.status, "day": row.day, "unit": row.unit},
                        after={"status": CANCELLED, "by": "structure"})

    await _staff_transition(uow_factory, reservation_id, act)


# --- the registration cancelled or refused ------------------------------------------------------

async def cancel_for_registration(uow: UnitOfWork, registration_id: uuid.UUID,
                                  at: datetime) -> int:
    """Inside the event handler's transaction: the registration's reservations from the event's
    day on are cancelled (« inscription »), their places go to the waiting lists."""
    rows = (await uow.session.execute(select(reservation).where(
        reservation.c.registration_id == registration_id, reservation.c.status.in_(ACTIVE),
        reservation.c.day >= paris_today(at))
        .order_by(reservation.c.day, reservation.c.group_id, reservation.c.unit))).all()
    if not rows:
        return 0
    row0 = (await uow.session.execute(select(calendar).where(
        calendar.c.period_id == rows[0].period_id))).first()
    cal = calendar_from_row(row0, rows[0].day, rows[0].day) if row0 else None
    done = 0
    for row in rows:
        await lock_slot(uow, slot_of(row))
        current = await reread(uow, row.id)
        if current.status not in ACTIVE:
            continue
        within = cal.cancellation.allows(row.day, at) if cal else True
        await cancel_row(uow, current, by="inscription", within_deadline=within, now=at,
                         unit_label=cal.label(row.unit) if cal else row.unit)
        done += 1
    return done


# --- « Mon tableau de bord » --------------------------------------------------------------------

DASHBOARD_LIMIT = 200


async def dashboard_items(uow: UnitOfWork, family_id: uuid.UUID, now: datetime
                          ) -> list[dict[str, Any]]:
    """The family's reservations and waiting requests from a month ago on (bounded: two
    queries, at most DASHBOARD_LIMIT items)."""
    async with uow:
        rows = (await uow.session.execute(
            select(reservation, child_copy.c.first_name)
            .outerjoin(child_copy, child_copy.c.child_id == reservation.c.child_id)
            .where(reservation.c.family_id == family_id, reservation.c.status.in_(ACTIVE),
                   reservation.c.day >= paris_today(now) - timedelta(days=31))
            .order_by(reservation.c.day.desc(), reservation.c.unit).limit(DASHBOARD_LIMIT))).all()
        labels = await _unit_labels(uow, {r.period_id for r in rows})
    items = []
    for r in rows:
        what = labels.get((r.period_id, r.unit), r.unit).lower()
        waiting = r.status == WAITING
        items.append({
            "kind": "reservation",
            "label": (f"Réservation de {r.first_name or 'l’enfant'} : {what} du {long_day(r.day)}"
                      + (" — liste d'attente" if waiting else "")),
            "status": "en_attente" if waiting else "acceptee",
            "created_at": r.requested_at,
            "decided_at": None if waiting else (r.promoted_at or r.requested_at),
        })
    return items
