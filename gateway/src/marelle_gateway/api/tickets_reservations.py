"""The opening queue for bookings, for the mobile apps and the rush (docs/opening-rush.md):
submit days of a period and follow the ticket.

The family is the bearer token's, never one from the request; the body is booking's own
(`marelle_contracts.http.booking.BookingTicketRequest`), its limits checked here first (a French
422 without asking booking), an unknown top-level field dropped; the `Idempotency-Key` header
goes to booking as it is (the same key again: the same ticket, 200 instead of 202); booking's
statuses and problem+json pass through; an unreachable booking is a French 503 problem+json.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from marelle_contracts.http.booking import BookingTicketRequest
from marelle_contracts.http.queue import IdempotencyKey, Ticket
from marelle_chassis.fastlane import FastRequest, Lane
from marelle_gateway.api.proxy import DROP_UNKNOWN, api_parent, parent_submission, relay
from marelle_gateway.booking import BookingClient
from marelle_gateway.session import Session

router = APIRouter(tags=["file d'attente"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
    404: {"description": "Introuvable dans votre famille (problem+json)"},
    503: {"description": "Service des réservations indisponible ou surchargé (problem+json, "
                         "`Retry-After`)"}}


class ReservationTicketRequest(BookingTicketRequest):
    """Les jours × prestations d'une inscription validée, demandés à l'ouverture."""

    model_config = DROP_UNKNOWN


def _booking(request: Request) -> BookingClient:
    return request.app.state.upstreams.booking


@router.post("/tickets/reservations", status_code=202, response_model=Ticket,
             summary="Demander des jours à l'ouverture des réservations : un ticket et sa "
                     "place dans la file, tout de suite ; les décisions suivent, jour par jour",
             responses={200: {"model": Ticket, "description": "La même clé `Idempotency-Key` : "
                              "le ticket déjà remis, jamais une seconde place ni une seconde "
                              "réservation"},
                        409: {"description": "Inscription non validée, ou aucun des jours "
                                             "demandés n'est réservable (problem+json)"},
                        422: {"description": "Données invalides : prestation inconnue, jour "
                                             "hors période, doublon, clé absente "
                                             "(problem+json, `detail` en français)"},
                        **_ERRORS})
async def submit(body: ReservationTicketRequest, request: Request,
                 key: Annotated[IdempotencyKey, Header(alias="Idempotency-Key")],
                 session: Session = Depends(api_parent)) -> Response:
    upstream = await _booking(request).submit_ticket(session.family_id, session.access_token,
                                                     key, body)
    return relay(upstream, request, "booking")


async def submit_fast(fast: FastRequest) -> Response | None:
    """The route above in the fast lane (chassis/fastlane.py); anything not plain goes to it."""
    checked = await parent_submission(fast, ReservationTicketRequest)
    return await submit(*checked) if checked else None


lanes = [Lane("POST", "/api/v1/tickets/reservations", submit_fast)]


@router.get("/tickets/reservations/{ticket_id}", response_model=Ticket,
            summary="Un ticket de réservation : sa place dans la file, puis le résultat de "
                    "chaque jour demandé",
            responses=_ERRORS)
async def ticket(ticket_id: uuid.UUID, request: Request,
                 session: Session = Depends(api_parent)) -> Response:
    upstream = await _booking(request).ticket(session.family_id, str(ticket_id),
                                              session.access_token)
    return relay(upstream, request, "booking")
