"""The opening queue for the mobile apps and the rush (docs/opening-rush.md): submit a request
for registration and follow its ticket.

The family is the bearer token's; the `Idempotency-Key` header is passed to enrolment as it is
(a repeat returns the same ticket: 200 instead of 202); enrolment's statuses and problem+json
pass through; an unreachable enrolment is a French 503 problem+json.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from marelle_contracts.http.enrolment import RegistrationTicketIn
from marelle_contracts.http.queue import IdempotencyKey, Ticket, Tickets
from marelle_chassis.fastlane import FastRequest, Lane
from marelle_gateway.api.proxy import DROP_UNKNOWN, api_parent, parent_submission, relay
from marelle_gateway.session import Session
from marelle_gateway.upstream import family_path

router = APIRouter(tags=["file d'attente"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
    404: {"description": "Introuvable dans votre famille (problem+json)"},
    503: {"description": "Service des inscriptions indisponible ou surchargé (problem+json, "
                         "`Retry-After`)"}}


class TicketIn(RegistrationTicketIn):
    """enrolment's body and limits (`marelle_contracts.http.enrolment.RegistrationTicketIn`)."""

    model_config = DROP_UNKNOWN


@router.post("/tickets/inscriptions", status_code=202, response_model=Ticket,
             summary="Demander une inscription dans la file d'attente de l'ouverture : "
                     "un ticket et sa place dans la file, tout de suite ; la décision suit",
             responses={200: {"model": Ticket, "description": "La même clé `Idempotency-Key` : "
                              "le ticket déjà remis, jamais une seconde place"},
                        409: {"description": "Impossible dans l'état actuel (problem+json)"},
                        422: {"description": "Données invalides ou demande impossible "
                                             "(problem+json, `detail` en français)"},
                        **_ERRORS})
async def submit(body: TicketIn, request: Request,
                 key: Annotated[IdempotencyKey, Header(alias="Idempotency-Key")],
                 session: Session = Depends(api_parent)) -> Response:
    upstream = await request.app.state.upstreams.enrolment.send(
        "POST", family_path(session.family_id, "tickets"), token=session.access_token,
        json=body.model_dump(mode="json"), headers={"Idempotency-Key": key}, submission=True)
    return relay(upstream, request, "enrolment")


async def submit_fast(fast: FastRequest) -> Response | None:
    """The route above in the fast lane (chassis/fastlane.py): what it checks and does, without
    FastAPI's machinery; anything not plain goes to the route (None)."""
    checked = await parent_submission(fast, TicketIn)
    return await submit(*checked) if checked else None


lanes = [Lane("POST", "/api/v1/tickets/inscriptions", submit_fast)]


@router.get("/tickets/inscriptions", response_model=Tickets,
            summary="Mes tickets de demande d'inscription, du plus récent au plus ancien",
            responses=_ERRORS)
async def tickets(request: Request, session: Session = Depends(api_parent)) -> Response:
    upstream = await request.app.state.upstreams.enrolment.send(
        "GET", family_path(session.family_id, "tickets"), token=session.access_token)
    return relay(upstream, request, "enrolment")


@router.get("/tickets/inscriptions/{ticket_id}", response_model=Ticket,
            summary="Un ticket : sa place dans la file, puis la décision pour chaque enfant",
            responses=_ERRORS)
async def ticket(ticket_id: uuid.UUID, request: Request,
                 session: Session = Depends(api_parent)) -> Response:
    upstream = await request.app.state.upstreams.enrolment.send(
        "GET", family_path(session.family_id, "tickets", str(ticket_id)),
        token=session.access_token)
    return relay(upstream, request, "enrolment")
