"""A booking ticket's page (« Ma demande de réservations dans la file »): the grid's « réserver »
choices sent at a booking opening (docs/opening-rush.md) are one ticket of booking's queue.

Without JavaScript: the page reloads itself (`<meta http-equiv="refresh">`) while the ticket is
queued, showing its place in line, then each day's outcome (réservé, liste d'attente, refusé with
booking's reason) and the way back to the grid. booking overloaded or unreachable: the same page
says so in French and reloads itself; the place is kept by booking meanwhile.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from marelle_contracts.http.queue import Ticket
from marelle_gateway.booking import BookingClient
from marelle_gateway.pages.registrations.common import checked_id, page_errors
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamUnavailable, problem_of

router = APIRouter()

TICKETS = "/mes-inscriptions/tickets-reservations"
REFRESH_SECONDS = 2  # while queued: decisions follow within seconds
DOWN_REFRESH_SECONDS = 10  # booking overloaded: no hurry, the place is kept
MAX_RETRY_SECONDS = 60


def retry_seconds(value: str | int | None, default: int = DOWN_REFRESH_SECONDS) -> int:
    """booking's `Retry-After` (seconds), kept between 2 s and a minute."""
    seconds = int(value) if isinstance(value, int) or (isinstance(value, str)
                                                       and value.strip().isdigit()) else default
    return max(REFRESH_SECONDS, min(seconds, MAX_RETRY_SECONDS))


def ticket_url(ticket_id: uuid.UUID | str, registration_id: uuid.UUID | str, month: str | None,
               cancelled: int = 0, not_cancelled: int = 0) -> str:
    """The ticket's page; the registration and month only make the link back to the grid (the
    ticket itself does not name the registration), the counts say what the same form
    cancelled directly."""
    url = f"{TICKETS}/{ticket_id}?inscription={registration_id}"
    if month:
        url += f"&mois={month}"
    if cancelled:
        url += f"&annulees={cancelled}"
    if not_cancelled:
        url += f"&non_annulees={not_cancelled}"
    return url


def _count(value: str | None) -> int:
    return min(int(value), 400) if value and value.isdigit() else 0


def _back(registration: str | None, month: str | None) -> str | None:
    try:
        registration_id = uuid.UUID(registration or "")
    except ValueError:
        return None
    url = f"/mes-inscriptions/{registration_id}/reservations"
    if month and len(month) == 7 and month[:4].isdigit() and month[4] == "-" \
            and month[5:].isdigit():
        url += f"?mois={month}"
    return url


@router.get(TICKETS + "/{ticket_id}")
async def booking_ticket_page(ticket_id: str, request: Request, inscription: str | None = None,
                              mois: str | None = None, annulees: str | None = None,
                              non_annulees: str | None = None,
                              session: Session = Depends(parent_session)) -> HTMLResponse:
    ticket_id = checked_id(ticket_id)
    t = translator(request)
    client: BookingClient = request.app.state.upstreams.booking
    context: dict[str, Any] = {"back": _back(inscription, mois), "cancelled": _count(annulees),
                               "not_cancelled": _count(non_annulees), "ticket": None,
                               "down": None}
    response = None
    try:
        response = await client.ticket(session.family_id, ticket_id, session.access_token)
        if 400 <= response.status_code < 500 and response.status_code != 429:
            with page_errors(request):  # 401: log in again; another family's: 404
                raise problem_of(response)
        if response.status_code != 200:
            raise UpstreamUnavailable(client.down)
        ticket = Ticket.model_validate(response.json())
    except (UpstreamUnavailable, ValidationError, ValueError):
        # Overloaded or unreachable: say so and try again shortly; the ticket is safe.
        retry = retry_seconds(response.headers.get("retry-after") if response is not None
                              else None)
        context["down"] = t("bookingqueue.ticket.down", seconds=retry)
        return render(request, "booking_ticket.html", page="registrations", refresh=retry,
                      status_code=503, **context)
    if ticket.kind != "reservation":
        raise HTTPException(404)  # an enrolment ticket has its own page
    waiting = ticket.status == "en_file"
    return render(request, "booking_ticket.html", page="registrations", ticket=ticket,
                  refresh=REFRESH_SECONDS if waiting else None,
                  **{k: v for k, v in context.items() if k != "ticket"})
