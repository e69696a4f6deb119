"""The opening queue over HTTP (docs/opening-rush.md): submit, follow, and the staff's live view."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status

from marelle_chassis.fastlane import Lane, family_submission
from marelle_contracts.http.queue import IdempotencyKey
from marelle_enrolment.api import schemas as s
from marelle_enrolment.api.deps import OwnFamily, Staff, UoW
from marelle_enrolment.usecases import tickets

router = APIRouter(tags=["opening queue"])


@router.post("/families/{family_id}/tickets", status_code=status.HTTP_202_ACCEPTED,
             response_model=s.Ticket,
             responses={200: {"model": s.Ticket, "description": "The same key again: the "
                              "ticket already given. — La même clé : le ticket déjà remis."}})
async def submit(family_id: OwnFamily, body: s.RegistrationTicketIn, request: Request,
                 response: Response,
                 key: Annotated[IdempotencyKey, Header(alias="Idempotency-Key")]
                 ) -> dict[str, Any]:
    """Acknowledged at once with the ticket and its place in line; decided in arrival order."""
    ticket, created = await _submit(request.app, family_id, key, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ticket


async def _submit(app: Any, family_id: uuid.UUID, key: str, body: s.RegistrationTicketIn
                  ) -> tuple[dict[str, Any], bool]:
    decider = getattr(app.state, "decider", None)
    if decider is not None:
        await decider.admit()
    return await tickets.submit(
        app.state.runtime.uow, family_id, key, body, cache=app.state.catalogue_cache,
        refuse_unreviewed=app.state.settings.refuse_unreviewed_families,
        notify=decider.notify if decider else None,
        batches=getattr(app.state, "acknowledgements", None))


# The route above in the fast lane (chassis/fastlane.py): the same checks and use case.
lanes = [Lane("POST", "/families/{family_id}/tickets",
              family_submission(s.RegistrationTicketIn, s.Ticket, _submit))]


@router.get("/families/{family_id}/tickets", response_model=s.Tickets)
async def list_tickets(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return {"items": await tickets.family_tickets(uow, family_id)}


@router.get("/families/{family_id}/tickets/{ticket_id}", response_model=s.Ticket)
async def get_ticket(family_id: OwnFamily, ticket_id: uuid.UUID, uow: UoW) -> dict[str, Any]:
    return await tickets.get_ticket(uow, family_id, ticket_id)


@router.get("/staff/openings/{period_id}", response_model=s.OpeningStatus, tags=["staff"])
async def opening(period_id: uuid.UUID, _: Staff, uow: UoW) -> dict[str, Any]:
    """Received, decided, places left and waiting list per group, live."""
    return await tickets.opening_status(uow, period_id)


@router.get("/families/{family_id}/openings", response_model=s.Openings)
async def openings(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    """Periods open now or opening soon, with the groups the household's children fit: what a
    family prepares its request for before the opening."""
    return {"items": await tickets.family_openings(uow, family_id)}
