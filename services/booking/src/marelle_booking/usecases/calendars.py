"""Booking calendars (staff): opening days, units, capacities, deadlines, horizon, week-only,
memo. One calendar per period of the catalogue copy; each change bumps its version and is
logged with the agent. A capacity change reaches the day counters already created: lower than
what is booked, nobody is cancelled but no new booking gets a place; higher, the first waiting
requests of those days are promoted, in arrival order."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_booking.db import calendar, day_capacity, day_slot, reservation, unit_capacity
from marelle_booking.usecases.common import (
    calendar_from_row,
    groups_of,
    period_row,
)
from marelle_booking.usecases.slots import WAITING, Slot, fill_free_places, lock_slot

log = logging.getLogger(__name__)

NOT_CONFIGURED = "Le calendrier de cette période n'est pas encore configuré."


def _check(settings: dict[str, Any], period: Any) -> None:
    codes = [u["code"] for u in settings["units"]]
    if len(set(codes)) != len(codes):
        raise InvalidInput("Chaque créneau doit avoir un code différent.")
    for u in settings["units"]:
        for implied in u.get("implies") or []:
            if implied not in codes or implied == u["code"]:
                raise InvalidInput(f"Le créneau « {u['label']} » implique un créneau inconnu "
                                   f"(« {implied} »).")
    group_ids = {g["group_id"] for g in groups_of(period)}
    seen = set()
    for c in settings["capacities"]:
        if c["group_id"] not in group_ids:
            raise InvalidInput("Une capacité désigne un groupe qui n'appartient pas à cette "
                               "période.")
        if c["unit"] not in codes:
            raise InvalidInput(f"Une capacité désigne un créneau inconnu (« {c['unit']} »).")
        if c.get("day") is not None and not period.start_date <= c["day"] <= period.end_date:
            raise InvalidInput(f"La capacité du {c['day'].strftime('%d/%m/%Y')} est hors de la "
                               "période.")
        key = (c["group_id"], c["unit"], c.get("day"))
        if key in seen:
            raise InvalidInput("Une même capacité est donnée deux fois.")
        seen.add(key)
    if settings["skip_school_holidays"] and not settings["school_zone"]:
        raise InvalidInput("Indiquez la zone de vacances scolaires (A, B ou C).")


def _row_values(s: dict[str, Any], now: datetime) -> dict[str, Any]:
    b, c = s["booking_deadline"], s["cancellation_deadline"]
    return {
        "weekdays": json.dumps(sorted(set(s["weekdays"]))),
        "added_dates": json.dumps(sorted({d.isoformat() for d in s["added_dates"]})),
        "removed_dates": json.dumps(sorted({d.isoformat() for d in s["removed_dates"]})),
        "skip_public_holidays": s["skip_public_holidays"],
        "skip_school_holidays": s["skip_school_holidays"], "school_zone": s["school_zone"],
        "booking_deadline_days": b["days"], "booking_deadline_working": b["working_days"],
        "booking_cutoff": b["cutoff"], "cancellation_deadline_days": c["days"],
        "cancellation_deadline_working": c["working_days"], "cancellation_cutoff": c["cutoff"],
        "horizon_days": s["horizon_days"], "families_may_modify": s["families_may_modify"],
        "week_only": s["week_only"], "memo": s["memo"].strip(),
        "bookings_open_at": s.get("bookings_open_at"),
        "units": json.dumps([{"code": u["code"], "label": u["label"], "kind": u["kind"],
                              "implies": list(u.get("implies") or [])} for u in s["units"]]),
        "updated_at": now,
    }


async def _sync_slots(uow: UnitOfWork, period_id: uuid.UUID, now: datetime,
                      labels: dict[str, str]) -> None:
    """Existing counters take the capacity now in force (0 when none: no new booking); where
    places opened, the first waiting requests are promoted."""
    day_cap = select(day_capacity.c.capacity).where(
        day_capacity.c.period_id == day_slot.c.period_id,
        day_capacity.c.group_id == day_slot.c.group_id, day_capacity.c.unit == day_slot.c.unit,
        day_capacity.c.day == day_slot.c.day).scalar_subquery()
    unit_cap = select(unit_capacity.c.capacity).where(
        unit_capacity.c.period_id == day_slot.c.period_id,
        unit_capacity.c.group_id == day_slot.c.group_id,
        unit_capacity.c.unit == day_slot.c.unit).scalar_subquery()
    await uow.session.execute(update(day_slot).where(day_slot.c.period_id == period_id)
                              .values(capacity=func.coalesce(day_cap, unit_cap, 0)))
    waiting = select(reservation.c.id).where(
        reservation.c.period_id == day_slot.c.period_id,
        reservation.c.group_id == day_slot.c.group_id, reservation.c.unit == day_slot.c.unit,
        reservation.c.day == day_slot.c.day, reservation.c.status == WAITING).exists()
    open_slots = (await uow.session.execute(select(day_slot).where(
        day_slot.c.period_id == period_id, day_slot.c.booked < day_slot.c.capacity, waiting)
        .order_by(day_slot.c.day, day_slot.c.group_id, day_slot.c.unit))).all()
    for s in open_slots:
        slot = Slot(s.period_id, s.group_id, s.unit, s.day)
        await lock_slot(uow, slot)
        await fill_free_places(uow, slot, now, labels.get(s.unit, s.unit))


async def put_calendar(uow_factory: Any, period_id: uuid.UUID, settings: dict[str, Any],
                       agent: str, now: datetime, actor: Principal | None = None
                       ) -> dict[str, Any]:
    async def work() -> None:
        async with uow_factory() as uow:
            period = await period_row(uow, period_id)
            _check(settings, period)
            values = _row_values(settings, now)
            # Lock the calendar row first (a rival PUT waits here), then the counters.
            done = (await uow.session.execute(update(calendar).where(
                calendar.c.period_id == period_id).values(version=calendar.c.version + 1,
                                                           **values)
                .returning(calendar.c.version))).first()
            if done is None:
                await uow.session.execute(insert(calendar).values(period_id=period_id,
                                                                  version=1, **values))
                version = 1
            else:
                version = done.version
            await uow.session.execute(delete(unit_capacity).where(
                unit_capacity.c.period_id == period_id))
            await uow.session.execute(delete(day_capacity).where(
                day_capacity.c.period_id == period_id))
            uc = [c for c in settings["capacities"] if c.get("day") is None]
            dc = [c for c in settings["capacities"] if c.get("day") is not None]
            if uc:
                await uow.session.execute(insert(unit_capacity), [
                    {"period_id": period_id, "group_id": c["group_id"], "unit": c["unit"],
                     "capacity": c["capacity"]} for c in uc])
            if dc:
                await uow.session.execute(insert(day_capacity), [
                    {"period_id": period_id, "group_id": c["group_id"], "unit": c["unit"],
                     "day": c["day"], "capacity": c["capacity"]} for c in dc])
            labels = {u["code"]: u["label"] for u in settings["units"]}
            await _sync_slots(uow, period_id, now, labels)
            if actor:
                await audit(uow, actor, "calendrier.modifie", f"periode:{period_id}",
                            before={"version": version - 1 or None}, after=settings)
            await uow.commit()
            log.info("booking calendar changed", extra={
                "period_id": str(period_id), "version": version, "staff_subject": agent})

    try:
        await retry_transaction(work)
    except IntegrityError:
        raise Conflict("Le calendrier vient d'être modifié par ailleurs : réessayez.") from None
    return await get_calendar(uow_factory(), period_id)


async def get_calendar(uow: UnitOfWork, period_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        period = await period_row(uow, period_id)
        row = (await uow.session.execute(select(calendar).where(
            calendar.c.period_id == period_id))).first()
        if row is None:
            raise NotFound(NOT_CONFIGURED)
        caps = (await uow.session.execute(select(unit_capacity).where(
            unit_capacity.c.period_id == period_id).order_by(unit_capacity.c.group_id,
                                                             unit_capacity.c.unit))).all()
        days = (await uow.session.execute(select(day_capacity).where(
            day_capacity.c.period_id == period_id).order_by(day_capacity.c.day,
                                                            day_capacity.c.group_id,
                                                            day_capacity.c.unit))).all()
    cal = calendar_from_row(row, period.start_date, period.end_date)
    return settings_view(cal, period, [
        *({"group_id": c.group_id, "unit": c.unit, "capacity": c.capacity, "day": None}
          for c in caps),
        *({"group_id": c.group_id, "unit": c.unit, "capacity": c.capacity, "day": c.day}
          for c in days)])


def weeks_view(cal: Any) -> list[dict[str, Any]]:
    return [{"number": w.number, "label": w.label, "days": w.days} for w in cal.weeks]


def settings_view(cal: Any, period: Any, capacities: list[dict[str, Any]]) -> dict[str, Any]:
    r = cal.rules
    return {
        "period_id": period.period_id, "period_label": period.label,
        "start_date": period.start_date, "end_date": period.end_date,
        "weekdays": sorted(r.weekdays), "added_dates": sorted(r.added),
        "removed_dates": sorted(r.removed), "skip_public_holidays": r.skip_public_holidays,
        "skip_school_holidays": r.skip_school_holidays, "school_zone": r.school_zone,
        "booking_deadline": _deadline(cal.booking),
        "cancellation_deadline": _deadline(cal.cancellation),
        "horizon_days": cal.horizon_days, "families_may_modify": cal.families_may_modify,
        "week_only": cal.week_only, "memo": cal.memo, "units": cal.units,
        "bookings_open_at": cal.bookings_open_at,
        "capacities": capacities, "opening_days": cal.opening_days, "weeks": weeks_view(cal),
        "version": cal.version,
    }


def _deadline(d: Any) -> dict[str, Any]:
    return {"days": d.days, "working_days": d.working_days, "cutoff": d.cutoff}

