"""The day counters and the reservation transitions that move them.

A slot is (period, group, unit, day). Taking a place is ONE conditional statement on its
counter: `UPDATE day_slot SET booked = booked + 1 WHERE … AND booked < capacity RETURNING booked`
(no row: full, the request goes on the day's waiting list). The slot row is the lock of its
day: every transition of a reservation locks its slot row first (the conditional UPDATE does, or
`SELECT … FOR UPDATE`), then reads the reservation again and changes it by compare-and-set on the
status it read. Arrival order on the waiting list is `seq` (max + 1 under the slot lock).
On SQLite every transaction is BEGIN IMMEDIATE (one writer at a time): the same code is serial.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from marelle_chassis.copies import insert_if_missing
from marelle_chassis.domain_errors import Conflict
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import booking as events
from marelle_booking.db import day_capacity, day_slot, reservation, shuttle_booking, unit_capacity
from marelle_booking.domain.rules import ALREADY_CHANGED

BOOKED, WAITING, CANCELLED = "reservee", "liste_attente", "annulee"


@dataclass(frozen=True, order=True)
class Slot:
    period_id: uuid.UUID
    group_id: uuid.UUID
    unit: str
    day: date

    def where(self, table: Any = day_slot) -> Any:
        return and_(table.c.period_id == self.period_id, table.c.group_id == self.group_id,
                    table.c.unit == self.unit, table.c.day == self.day)


def slot_of(row: Any) -> Slot:
    return Slot(row.period_id, row.group_id, row.unit, row.day)


async def capacity_in_force(uow: UnitOfWork, slot: Slot) -> int | None:
    """The day's capacity, else the unit's for every day, else None (no place opened)."""
    day_cap = select(day_capacity.c.capacity).where(slot.where(day_capacity)).scalar_subquery()
    unit_cap = select(unit_capacity.c.capacity).where(
        unit_capacity.c.period_id == slot.period_id, unit_capacity.c.group_id == slot.group_id,
        unit_capacity.c.unit == slot.unit).scalar_subquery()
    return await uow.session.scalar(select(func.coalesce(day_cap, unit_cap)))


async def ensure_slot(uow: UnitOfWork, slot: Slot) -> bool:
    """Create the day's counter with the capacity in force (INSERT … ON CONFLICT DO NOTHING);
    False when no place was ever opened for this group and unit."""
    exists = await uow.session.scalar(select(day_slot.c.capacity).where(slot.where()))
    if exists is not None:
        return True
    capacity = await capacity_in_force(uow, slot)
    if capacity is None:
        return False
    await insert_if_missing(uow.session, day_slot, {
        "period_id": slot.period_id, "group_id": slot.group_id, "unit": slot.unit,
        "day": slot.day, "capacity": capacity, "booked": 0})
    return True


async def take_place(uow: UnitOfWork, slot: Slot) -> bool:
    """THE booking statement: one conditional UPDATE of the counter."""
    row = (await uow.session.execute(
        update(day_slot).where(slot.where(), day_slot.c.booked < day_slot.c.capacity)
        .values(booked=day_slot.c.booked + 1).returning(day_slot.c.booked))).first()
    return row is not None


async def give_back(uow: UnitOfWork, slot: Slot) -> None:
    await uow.session.execute(update(day_slot).where(slot.where(), day_slot.c.booked > 0)
                              .values(booked=day_slot.c.booked - 1))


async def lock_slot(uow: UnitOfWork, slot: Slot) -> Any:
    """Lock the day's counter (PostgreSQL row lock; SQLite is serial already)."""
    return (await uow.session.execute(select(day_slot).where(slot.where())
                                      .with_for_update())).first()


async def next_seq(uow: UnitOfWork, slot: Slot) -> int:
    last = await uow.session.scalar(select(func.max(reservation.c.seq)).where(
        slot.where(reservation)))
    return int(last or 0) + 1


async def position_of(uow: UnitOfWork, slot: Slot, seq: int) -> int:
    return 1 + int(await uow.session.scalar(select(func.count()).where(
        slot.where(reservation), reservation.c.status == WAITING, reservation.c.seq < seq)) or 0)


def facts(row: Any, unit_label: str) -> dict[str, Any]:
    return {"reservation_id": row.id, "registration_id": row.registration_id,
            "child_id": row.child_id, "family_id": row.family_id, "period_id": row.period_id,
            "group_id": row.group_id, "day": row.day, "unit": row.unit,
            "unit_label": unit_label, "status": row.status}


async def insert_reservation(uow: UnitOfWork, reg: Any, slot: Slot, status: str,
                             now: datetime, unit_label: str) -> tuple[Any, int | None]:
    """The new reservation (version 1) and its event; the slot must be locked (it is, by the
    conditional UPDATE or by `lock_slot`)."""
    seq = await next_seq(uow, slot)
    row = (await uow.session.execute(insert(reservation).values(
        id=uuid.uuid4(), registration_id=reg.registration_id, child_id=reg.child_id,
        family_id=reg.family_id, period_id=slot.period_id, group_id=slot.group_id,
        unit=slot.unit, day=slot.day, status=status, requested_at=now, seq=seq, version=1)
        .returning(*reservation.c))).one()
    position = None
    if status == BOOKED:
        uow.publish(events.ReservationConfirmed(**facts(row, unit_label)), version=1)
    else:
        position = await position_of(uow, slot, seq)
        uow.publish(events.ReservationWaitlisted(**facts(row, unit_label), position=position),
                    version=1)
    return row, position


async def transition(uow: UnitOfWork, row: Any, expected: str, **values: Any) -> Any:
    """Compare-and-set on the status; the version grows by one (one event per transition)."""
    new = (await uow.session.execute(
        update(reservation).where(reservation.c.id == row.id, reservation.c.status == expected)
        .values(version=reservation.c.version + 1, **values)
        .returning(*reservation.c))).first()
    if new is None:
        raise Conflict(ALREADY_CHANGED)
    return new


async def reread(uow: UnitOfWork, reservation_id: uuid.UUID) -> Any:
    return (await uow.session.execute(select(reservation).where(
        reservation.c.id == reservation_id))).first()


async def promote_row(uow: UnitOfWork, row: Any, now: datetime, unit_label: str) -> Any:
    """A waiting request that already holds the place just taken: now booked (event promoted)."""
    new = await transition(uow, row, WAITING, status=BOOKED, promoted_at=now)
    uow.publish(events.ReservationPromoted(**facts(new, unit_label)), version=new.version)
    return new


async def fill_free_places(uow: UnitOfWork, slot: Slot, now: datetime, unit_label: str) -> int:
    """The first waiting requests, in arrival order, take the free places (several when the
    capacity grew). The slot must be locked. Returns how many were promoted."""
    promoted = 0
    while await take_place(uow, slot):
        first = (await uow.session.execute(select(reservation).where(
            slot.where(reservation), reservation.c.status == WAITING)
            .order_by(reservation.c.seq).limit(1))).first()
        if first is None:
            await give_back(uow, slot)
            break
        await promote_row(uow, first, now, unit_label)
        promoted += 1
    return promoted


async def cancel_row(uow: UnitOfWork, row: Any, *, by: str, within_deadline: bool,
                     now: datetime, unit_label: str) -> Any:
    """Cancel `row` (read after its slot was locked): CAS on its status; a booked one frees its
    place, which goes to the first waiting request of the day."""
    if row.status not in (BOOKED, WAITING):
        raise Conflict(ALREADY_CHANGED)
    new = await transition(uow, row, row.status, status=CANCELLED, cancelled_at=now,
                           cancelled_by=by, within_deadline=within_deadline)
    uow.publish(events.ReservationCancelled(**facts(new, unit_label), cancelled_by=by,
                                            cancelled_at=now, within_deadline=within_deadline),
                version=new.version)
    if row.status == BOOKED:
        slot = slot_of(row)
        await give_back(uow, slot)
        await fill_free_places(uow, slot, now, unit_label)
        await _release_shuttles_without_booking(uow, row, now)
    return new


async def _release_shuttles_without_booking(uow: UnitOfWork, row: Any, now: datetime) -> None:
    """A child with nothing booked left that day no longer takes the shuttle: free its seats."""
    from marelle_booking.usecases.shuttles import cancel_booking

    still = await uow.session.scalar(select(reservation.c.id).where(
        reservation.c.child_id == row.child_id, reservation.c.day == row.day,
        reservation.c.registration_id == row.registration_id,
        reservation.c.status == BOOKED).limit(1))
    if still is None:
        await cancel_booking(uow, [shuttle_booking.c.child_id == row.child_id,
                                   shuttle_booking.c.day == row.day,
                                   shuttle_booking.c.registration_id == row.registration_id],
                             now, "reservation")
