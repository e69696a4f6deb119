"""Booking's HTTP endpoints (family): « Mes réservations », « Liste d'attente », the typical
week, « Affecter les Groupes », the dashboard. See API.md."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from marelle_booking.api import schemas as s
from marelle_booking.api.deps import Now, OwnFamily, UoW, UoWFactory
from marelle_booking.usecases import reservations

router = APIRouter(prefix="/families/{family_id}", tags=["reservations (families)"])


@router.get("/registrations/{registration_id}/calendar", response_model=s.CalendarMonth)
async def calendar_month(family_id: OwnFamily, registration_id: uuid.UUID, uow: UoW, now: Now,
                         month: str | None = None) -> dict[str, Any]:
    return await reservations.month_grid(uow, family_id, registration_id, month, now)


@router.post("/registrations/{registration_id}/reservations",
             response_model=s.ReservationResults)
async def change_reservations(family_id: OwnFamily, registration_id: uuid.UUID,
                              body: s.ReservationChangesIn, new: UoWFactory,
                              now: Now) -> dict[str, Any]:
    changes = [c.model_dump() for c in body.changes]
    return {"results": await reservations.apply_changes(new, family_id, registration_id,
                                                        changes, now)}


@router.post("/registrations/{registration_id}/typical-week",
             response_model=s.ReservationResults)
async def typical_week(family_id: OwnFamily, registration_id: uuid.UUID, body: s.TypicalWeekIn,
                       new: UoWFactory, now: Now) -> dict[str, Any]:
    pattern = {d.weekday: list(dict.fromkeys(d.units)) for d in body.days}
    return {"results": await reservations.apply_typical_week(
        new, family_id, registration_id, body.start, body.end, pattern, body.group_id, now)}


@router.post("/registrations/{registration_id}/group-assignments",
             response_model=s.ReservationResults)
async def group_assignments(family_id: OwnFamily, registration_id: uuid.UUID,
                            body: s.GroupAssignmentIn, new: UoWFactory,
                            now: Now) -> dict[str, Any]:
    return {"results": await reservations.assign_group(new, family_id, registration_id,
                                                       body.group_id, body.days, now)}


@router.get("/waiting-days", response_model=s.WaitingDays)
async def waiting_days(family_id: OwnFamily, uow: UoW, now: Now) -> dict[str, Any]:
    return {"items": await reservations.waiting_days(uow, family_id, now)}


@router.get("/requests", response_model=s.RequestItems)
async def dashboard(family_id: OwnFamily, uow: UoW, now: Now) -> dict[str, Any]:
    return {"items": await reservations.dashboard_items(uow, family_id, now)}
