"""Billing's copy of booking's facts (reservations, attendance, shuttles): the event handlers
and a staff read API. Each row keeps its aggregate's version; older events are ignored."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.copies import apply_if_newer, event_version
from marelle_chassis.messaging import PayloadHandler
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts import booking as events
from marelle_billing.db import attendance_copy, reservation_copy, shuttle_copy


def handlers() -> dict[str, PayloadHandler]:
    async def reservation(p: events.ReservationFacts, e: Envelope, uow: UnitOfWork) -> None:
        values: dict[str, Any] = {
            "registration_id": p.registration_id, "child_id": p.child_id,
            "family_id": p.family_id, "period_id": p.period_id, "group_id": p.group_id,
            "day": p.day, "unit": p.unit, "unit_label": p.unit_label, "status": p.status.value,
            "updated_at": datetime.now(UTC)}
        if isinstance(p, events.ReservationCancelled):
            values.update(cancelled_by=p.cancelled_by, cancelled_at=p.cancelled_at,
                          within_deadline=p.within_deadline)
        await apply_if_newer(uow.session, reservation_copy,
                             {"reservation_id": p.reservation_id}, event_version(e), values)

    async def attendance(p: events.AttendanceRecorded, e: Envelope, uow: UnitOfWork) -> None:
        await apply_if_newer(uow.session, attendance_copy, {"attendance_id": p.attendance_id},
                             event_version(e), {
            "child_id": p.child_id, "family_id": p.family_id, "period_id": p.period_id,
            "group_id": p.group_id, "day": p.day, "status": p.status.value, "reason": p.reason,
            "updated_at": datetime.now(UTC)})

    async def shuttle(p: events.ShuttleFacts, e: Envelope, uow: UnitOfWork) -> None:
        status = "annulee" if isinstance(p, events.ShuttleCancelled) else "reservee"
        await apply_if_newer(uow.session, shuttle_copy,
                             {"shuttle_booking_id": p.shuttle_booking_id}, event_version(e), {
            "child_id": p.child_id, "family_id": p.family_id, "line_name": p.line_name,
            "stop_name": p.stop_name, "direction": p.direction.value, "day": p.day,
            "status": status, "updated_at": datetime.now(UTC)})

    return {
        "booking.reservation_confirmed": reservation,
        "booking.reservation_waitlisted": reservation,
        "booking.reservation_promoted": reservation,
        "booking.reservation_cancelled": reservation,
        "booking.attendance_recorded": attendance,
        "booking.shuttle_booked": shuttle,
        "booking.shuttle_cancelled": shuttle,
    }


class ReservationCopy(BaseModel):
    reservation_id: uuid.UUID
    registration_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    day: date
    unit: str
    unit_label: str
    status: str
    cancelled_by: str | None
    within_deadline: bool | None
    version: int
    revision: int


class ShuttleCopy(BaseModel):
    shuttle_booking_id: uuid.UUID
    child_id: uuid.UUID
    line_name: str
    stop_name: str
    direction: str
    day: date
    status: str
    version: int


class BookingFacts(BaseModel):
    reservations: list[ReservationCopy]
    shuttles: list[ShuttleCopy]


def router(sessions: Any) -> APIRouter:
    """Staff read access to what billing holds of a child's bookings (tests, back-office)."""
    api = APIRouter(prefix="/staff/booking-facts", tags=["booking (copy)"])
    staff = require_staff(principal_dependency(verifier_from_app))

    @api.get("", response_model=BookingFacts)
    async def booking_facts(child_id: uuid.UUID, _: Principal = Depends(staff)) -> BookingFacts:
        async with sessions() as session:
            reservations = (await session.execute(
                select(reservation_copy).where(reservation_copy.c.child_id == child_id)
                .order_by(reservation_copy.c.day, reservation_copy.c.unit))).mappings().all()
            shuttles = (await session.execute(
                select(shuttle_copy).where(shuttle_copy.c.child_id == child_id)
                .order_by(shuttle_copy.c.day, shuttle_copy.c.direction))).mappings().all()
        return BookingFacts(reservations=[ReservationCopy.model_validate(dict(r)) for r in reservations],
                            shuttles=[ShuttleCopy.model_validate(dict(s)) for s in shuttles])

    return api
