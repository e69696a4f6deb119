"""The family's bookings for the mobile apps: the month grid, reservation changes, typical week,
group assignment, waiting days, shuttles, the calendar (ICS) and its private subscription URL.

Thin proxies to booking (`services/booking/API.md`): the family is always the bearer token's,
never one from the request; the bodies are booking's own (`marelle_contracts.http.booking`),
so its limits are checked here first (a French 422 without asking booking) and an unknown
top-level field (a `family_id`, say) is dropped; booking's statuses and problem+json pass
through as they are; an unreachable booking is a French 503 problem+json.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from marelle_chassis.errors import problem
from marelle_contracts.http.booking import (
    CalendarFeed,
    CalendarMonth,
    GroupAssignmentIn,
    ReservationChangesIn,
    ReservationResults,
    ShuttleBookingIn,
    ShuttleBookings,
    ShuttleLines,
    ShuttleResults,
    TypicalWeekIn,
    WaitingDays,
)

from marelle_gateway.api.proxy import DROP_UNKNOWN, UNEXPECTED, api_parent, relay
from marelle_gateway.booking import (
    ICS,
    BookingClient,
    child_ics_path,
    public_feed_url,
    registration_path,
)
from marelle_gateway.session import Session
from marelle_gateway.upstream import family_path

router = APIRouter(tags=["réservations"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
    404: {"description": "Introuvable dans votre famille (problem+json)"},
    503: {"description": "Service des réservations indisponible (problem+json)"}}
_CHANGES: dict[int | str, dict[str, Any]] = {
    409: {"description": "Inscription non validée, ou modification non autorisée par la "
                         "structure (problem+json, `detail` en français)"},
    422: {"description": "Données invalides (problem+json, `erreurs` par champ)"}}


# booking's bodies and limits; unknown top-level fields dropped (never forwarded).
class ReservationChangesRequest(ReservationChangesIn):
    """« Valider » : réserver ou annuler des jours × prestations ; un résultat par changement."""

    model_config = DROP_UNKNOWN


class TypicalWeekRequest(TypicalWeekIn):
    """« Réservation selon une semaine type » du `start` au `end`."""

    model_config = DROP_UNKNOWN


class GroupAssignmentRequest(GroupAssignmentIn):
    """« Affecter les Groupes » : ces jours réservés passent dans ce groupe."""

    model_config = DROP_UNKNOWN


class ShuttleBookingRequest(ShuttleBookingIn):
    """« Mes navettes » : un arrêt, matin (aller) et/ou soir (retour), des jours réservés."""

    model_config = DROP_UNKNOWN


def _booking(request: Request) -> BookingClient:
    return request.app.state.upstreams.booking


async def _send(request: Request, method: str, path: str, session: Session, *,
                body: BaseModel | None = None, params: dict[str, str] | None = None
                ) -> Response:
    upstream = await _booking(request).send(
        method, path, token=session.access_token, params=params,
        json=body.model_dump(mode="json") if body else None)
    return relay(upstream, request, "booking")


@router.get("/inscriptions/{registration_id}/calendrier", response_model=CalendarMonth,
            summary="« Mes réservations » : la grille d'un mois (une inscription validée) ; "
                    "par défaut le mois courant dans la période, sinon son premier mois",
            responses={409: _CHANGES[409], **_ERRORS})
async def calendar(registration_id: uuid.UUID, request: Request,
                   month: str | None = Query(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                             description="AAAA-MM"),
                   session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", registration_path(session.family_id,
                                                         str(registration_id), "calendar"),
                       session, params={"month": month} if month else None)


@router.post("/inscriptions/{registration_id}/reservations", response_model=ReservationResults,
             summary="Réserver ou annuler des jours : un résultat par changement (réservé, "
                     "liste d'attente avec la position, ou la règle qui refuse)",
             responses={**_CHANGES, **_ERRORS})
async def change(registration_id: uuid.UUID, body: ReservationChangesRequest, request: Request,
                 session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "POST", registration_path(session.family_id,
                                                          str(registration_id), "reservations"),
                       session, body=body)


@router.post("/inscriptions/{registration_id}/semaine-type", response_model=ReservationResults,
             summary="Réservation selon une semaine type sur une plage de dates",
             responses={**_CHANGES, **_ERRORS})
async def typical_week(registration_id: uuid.UUID, body: TypicalWeekRequest, request: Request,
                       session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "POST", registration_path(session.family_id,
                                                          str(registration_id), "typical-week"),
                       session, body=body)


@router.post("/inscriptions/{registration_id}/groupes", response_model=ReservationResults,
             summary="Affecter les Groupes : des jours réservés dans un autre groupe de la "
                     "période (places du groupe vérifiées)",
             responses={**_CHANGES, **_ERRORS})
async def assign_groups(registration_id: uuid.UUID, body: GroupAssignmentRequest,
                        request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "POST",
                       registration_path(session.family_id, str(registration_id),
                                         "group-assignments"), session, body=body)


@router.get("/liste-attente", response_model=WaitingDays,
            summary="Liste d'attente : chaque jour de la famille en attente, avec sa position",
            responses=_ERRORS)
async def waiting_days(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", family_path(session.family_id, "waiting-days"), session)


@router.get("/inscriptions/{registration_id}/navettes/lignes", response_model=ShuttleLines,
            summary="Les lignes de navette de la période et leurs arrêts", responses=_ERRORS)
async def shuttle_lines(registration_id: uuid.UUID, request: Request,
                        session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", registration_path(session.family_id,
                                                         str(registration_id), "shuttle-lines"),
                       session)


@router.get("/inscriptions/{registration_id}/navettes", response_model=ShuttleBookings,
            summary="Les navettes réservées de l'enfant", responses=_ERRORS)
async def shuttles(registration_id: uuid.UUID, request: Request,
                   session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "GET", registration_path(session.family_id,
                                                         str(registration_id), "shuttles"),
                       session)


@router.post("/inscriptions/{registration_id}/navettes", response_model=ShuttleResults,
             summary="Réserver (ou annuler) une navette les jours réservés : un résultat par "
                     "jour et trajet (places limitées)",
             responses={**_CHANGES, **_ERRORS})
async def book_shuttles(registration_id: uuid.UUID, body: ShuttleBookingRequest,
                        request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, "POST", registration_path(session.family_id,
                                                          str(registration_id), "shuttles"),
                       session, body=body)


@router.get("/enfants/{child_id}/reservations.ics",
            summary="Les jours réservés de l'enfant (iCalendar)",
            responses={200: {"content": {ICS: {}}, "description": "Le calendrier"}, **_ERRORS})
async def child_calendar(child_id: uuid.UUID, request: Request,
                         session: Session = Depends(api_parent)) -> Response:
    upstream = await _booking(request).send(
        "GET", child_ics_path(session.family_id, str(child_id)), token=session.access_token,
        stream=True)
    media_type = upstream.headers.get("content-type", "").split(";")[0].strip()
    if upstream.status_code == 200 and media_type == ICS:
        return StreamingResponse(
            upstream.aiter_bytes(), media_type=ICS, background=BackgroundTask(upstream.aclose),
            headers={"content-disposition": f'attachment; filename="reservations-{child_id}.ics"',
                     "cache-control": "private, no-store"})
    await upstream.aread()
    await upstream.aclose()
    if upstream.status_code == 200:
        return problem(502, "Réponse inattendue", UNEXPECTED["booking"],
                       code="reponse-inattendue", instance=request.url.path)
    return relay(upstream, request, "booking")


@router.post("/enfants/{child_id}/abonnement-calendrier", response_model=CalendarFeed,
             status_code=201,
             summary="Une nouvelle adresse privée d'abonnement au calendrier de l'enfant "
                     "(l'adresse précédente cesse de fonctionner) ; elle est servie par le "
                     "portail (`/calendrier/{jeton}.ics`, sans connexion)",
             responses=_ERRORS)
async def calendar_feed(child_id: uuid.UUID, request: Request,
                        session: Session = Depends(api_parent)) -> Response:
    upstream = await _booking(request).send(
        "POST", family_path(session.family_id, "children", str(child_id), "calendar-feed"),
        token=session.access_token)
    if upstream.status_code not in (200, 201):
        return relay(upstream, request, "booking")
    try:
        feed = CalendarFeed.model_validate(upstream.json())
    except ValueError:
        feed = None
    url = public_feed_url(request, feed.url) if feed else None
    if url is None:
        return problem(502, "Réponse inattendue", UNEXPECTED["booking"],
                       code="reponse-inattendue", instance=request.url.path)
    return JSONResponse(CalendarFeed(url=url).model_dump(mode="json"), status_code=201)

