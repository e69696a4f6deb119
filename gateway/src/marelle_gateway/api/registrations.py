"""The family's registrations for the mobile apps: the offer, requests, cancelling, attestations.

Thin proxies to enrolment: the family is always the bearer token's (`family_id` claim), never
one from the request; enrolment's statuses and problem+json pass through as they are; an
unreachable enrolment is a French 503 problem+json.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from marelle_chassis.errors import problem

from marelle_gateway.api.proxy import DROP_UNKNOWN, UNEXPECTED, api_parent, relay
from marelle_gateway.enrolment import PDF, EnrolmentClient
from marelle_gateway.enrolment_models import (
    Attestation,
    Attestations,
    Offer,
    Registration,
    RegistrationRequestIn,
    RegistrationResults,
    Registrations,
)
from marelle_gateway.session import Session
from marelle_gateway.upstream import family_path

router = APIRouter(tags=["inscriptions"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
    404: {"description": "Introuvable dans votre famille (problem+json)"},
    503: {"description": "Service des inscriptions indisponible (problem+json)"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Impossible dans l'état actuel (problem+json, `detail` en français)"}}


class RegistrationIn(RegistrationRequestIn):
    """One request for the child, then one for each brother or sister in `duplicate_for`
    (enrolment's body and limits, `marelle_contracts.http.enrolment`)."""

    model_config = DROP_UNKNOWN


def _enrolment(request: Request) -> EnrolmentClient:
    return request.app.state.upstreams.enrolment


async def _send(request: Request, session: Session, method: str, *parts: str,
                body: BaseModel | None = None, params: dict[str, str] | None = None
                ) -> Response:
    upstream = await _enrolment(request).send(
        method, family_path(session.family_id, *parts), token=session.access_token,
        json=body.model_dump(mode="json") if body else None, params=params)
    return relay(upstream, request, "enrolment")


@router.get("/enfants/{child_id}/offre", response_model=Offer,
            summary="Ce qu'un enfant peut demander maintenant : périodes ouvertes, groupes de "
                    "son âge (les groupes complets mènent à la liste d'attente)",
            responses=_ERRORS)
async def offer(child_id: uuid.UUID, request: Request,
                session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", "children", str(child_id), "offer")


@router.post("/inscriptions", status_code=201, response_model=RegistrationResults,
             summary="Demander une inscription (et la dupliquer sur des frères et sœurs) : "
                     "un résultat par enfant, avec une phrase pour la famille",
             responses={422: {"description": "Données invalides (problem+json)"}, **_ERRORS})
async def request_registration(body: RegistrationIn, request: Request,
                               session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", "registrations", body=body)


@router.get("/inscriptions", response_model=Registrations,
            summary="Mes inscriptions ; `state=attente` (en attente ou liste d'attente), "
                    "`state=cours` (validées, pas terminées)",
            responses=_ERRORS)
async def registrations(request: Request, child_id: uuid.UUID | None = None,
                        state: Literal["attente", "cours"] | None = Query(None),
                        session: Session = Depends(api_parent)) -> Response:
    params = {name: str(value) for name, value in (("child_id", child_id), ("state", state))
              if value}
    return await _send(request, session, "GET", "registrations", params=params or None)


@router.get("/inscriptions/{registration_id}", response_model=Registration,
            summary="Une inscription de ma famille", responses=_ERRORS)
async def registration(registration_id: uuid.UUID, request: Request,
                       session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", "registrations", str(registration_id))


@router.post("/inscriptions/{registration_id}/annulation", status_code=204,
             summary="Annuler une inscription (en attente, sur liste d'attente ou validée)",
             responses={**_CONFLICT, **_ERRORS})
async def cancel(registration_id: uuid.UUID, request: Request,
                 session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", "registrations", str(registration_id),
                       "cancel")


@router.post("/inscriptions/{registration_id}/attestations", status_code=201,
             response_model=Attestation,
             summary="Demander une attestation d'inscription (inscription validée)",
             responses={**_CONFLICT, **_ERRORS})
async def request_attestation(registration_id: uuid.UUID, request: Request,
                              session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", "registrations", str(registration_id),
                       "attestation-requests")


@router.get("/attestations", response_model=Attestations,
            summary="Mes demandes d'attestation d'inscription", responses=_ERRORS)
async def attestations(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", "attestations")


@router.get("/attestations/{attestation_id}/pdf",
            summary="Télécharger une attestation délivrée (PDF)",
            responses={200: {"content": {PDF: {}}, "description": "L'attestation"},
                       **_ERRORS})
async def attestation_pdf(attestation_id: uuid.UUID, request: Request,
                          session: Session = Depends(api_parent)) -> Response:
    upstream = await _enrolment(request).send(
        "GET", family_path(session.family_id, "attestations", str(attestation_id), "pdf"),
        token=session.access_token, stream=True)
    media_type = upstream.headers.get("content-type", "").split(";")[0].strip()
    if upstream.status_code == 200 and media_type == PDF:
        # Streamed: the document is never held whole by the gateway.
        return StreamingResponse(
            upstream.aiter_bytes(), media_type=PDF, background=BackgroundTask(upstream.aclose),
            headers={"content-disposition":
                     f'attachment; filename="attestation-{attestation_id}.pdf"',
                     "cache-control": "private, no-store"})
    await upstream.aread()
    await upstream.aclose()
    if upstream.status_code == 200:
        return problem(502, "Réponse inattendue", UNEXPECTED["enrolment"],
                       code="reponse-inattendue", instance=request.url.path)
    return relay(upstream, request, "enrolment")
