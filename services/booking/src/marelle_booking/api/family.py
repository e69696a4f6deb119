"""Booking's HTTP endpoints (family): « Mes réservations », « Liste d'attente », the typical
week, « Affecter les Groupes », the dashboard. See API.md."""

from __future__ import annotations

import uuid
from typing import Any

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from marelle_chassis.fastlane import Lane, family_submission
from marelle_contracts.http.booking import BookingTicketRequest
from marelle_contracts.http.queue import IdempotencyKey, Ticket, Tickets

from marelle_booking.api import schemas as s
from marelle_booking.api.deps import Now, OwnFamily, UoW, UoWFactory
from marelle_booking.usecases import reservations, tickets

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


# --- the opening queue (docs/opening-rush.md) ----------------------------------------------------

_SAME_KEY = {"model": Ticket,
             "description": "The same key again: the same ticket. — Même clé : même ticket."}


@router.post("/tickets", response_model=Ticket, status_code=status.HTTP_202_ACCEPTED,
             responses={200: _SAME_KEY})
async def submit_ticket(family_id: OwnFamily, body: BookingTicketRequest,
                        idempotency_key: Annotated[IdempotencyKey,
                                                   Header(alias="Idempotency-Key")],
                        request: Request, response: Response, new: UoWFactory,
                        now: Now) -> dict[str, Any]:
    """Days of a period at the opening: acknowledged at once with a ticket and its place in
    line (202), decided in arrival order; the same key again answers the same ticket (200)."""
    ticket, created = await _submit(request.app, family_id, idempotency_key, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ticket


async def _submit(app: Any, family_id: uuid.UUID, key: str, body: BookingTicketRequest
                  ) -> tuple[dict[str, Any], bool]:
    decider = getattr(app.state, "decider", None)
    if decider is not None:
        await decider.admit()
    return await tickets.submit(app.state.runtime.uow, family_id, key, body.model_dump(),
                                app.state.clock(), on_commit=decider.notify if decider else None,
                                batches=getattr(app.state, "acknowledgements", None))


# The route above in the fast lane (chassis/fastlane.py): the same checks and use case.
lanes = [Lane("POST", "/families/{family_id}/tickets",
              family_submission(BookingTicketRequest, Ticket, _submit))]


@router.get("/tickets", response_model=Tickets)
async def list_tickets(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return {"items": await tickets.family_tickets(uow, family_id)}


@router.get("/tickets/{ticket_id}", response_model=Ticket)
async def get_ticket(family_id: OwnFamily, ticket_id: uuid.UUID, uow: UoW) -> dict[str, Any]:
    return await tickets.get_ticket(uow, family_id, ticket_id)
