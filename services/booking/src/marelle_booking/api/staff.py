"""Booking's HTTP endpoints (staff): calendars and their options, day waiting lists, promotions
and cancellations for the family. See API.md."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Response, status

from marelle_booking.api import schemas as s
from marelle_booking.api.deps import Now, Staff, UoW, UoWFactory
from marelle_contracts.http.queue import OpeningStatus
from marelle_booking.usecases import calendars, reservations, tickets

router = APIRouter(prefix="/staff", tags=["booking (staff)"])


@router.get("/calendars/{period_id}", response_model=s.CalendarSettings)
async def get_calendar(period_id: uuid.UUID, _: Staff, uow: UoW) -> dict[str, Any]:
    return await calendars.get_calendar(uow, period_id)


@router.put("/calendars/{period_id}", response_model=s.CalendarSettings)
async def put_calendar(period_id: uuid.UUID, body: s.CalendarSettingsIn, agent: Staff,
                       new: UoWFactory, now: Now) -> dict[str, Any]:
    return await calendars.put_calendar(new, period_id, body.model_dump(), agent.subject, now,
                                        actor=agent)


@router.get("/calendars/{period_id}/days/{day}/waiting-list", response_model=s.DayWaitingList)
async def day_waiting_list(period_id: uuid.UUID, day: date, _: Staff, uow: UoW) -> dict[str, Any]:
    return await reservations.day_waiting_list(uow, period_id, day)


@router.post("/reservations/{reservation_id}/promote", status_code=status.HTTP_204_NO_CONTENT)
async def promote(reservation_id: uuid.UUID, agent: Staff, new: UoWFactory, now: Now
                  ) -> Response:
    await reservations.staff_promote(new, reservation_id, now, actor=agent)
    return Response(status_code=204)


@router.post("/reservations/{reservation_id}/cancel", status_code=status.HTTP_204_NO_CONTENT)
async def cancel(reservation_id: uuid.UUID, agent: Staff, new: UoWFactory, now: Now
                 ) -> Response:
    await reservations.staff_cancel(new, reservation_id, now, actor=agent)
    return Response(status_code=204)


@router.get("/booking-openings/{period_id}", response_model=OpeningStatus)
async def booking_opening(period_id: uuid.UUID, _: Staff, uow: UoW) -> dict[str, Any]:
    """The opening of a period's bookings, live: tickets received and decided, places planned
    and left, requests waiting, per group."""
    return await tickets.opening_status(uow, period_id)
