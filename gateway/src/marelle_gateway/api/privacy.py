"""« Mes données personnelles » (GDPR) for the apps: the family's data as one JSON document,
and its deletion request. The page (`pages/privacy.py`) uses the same assembly.

The family is always the bearer token's; every service checks it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from marelle_contracts.http import identity as contract
from marelle_chassis.errors import problem
from marelle_gateway.api.proxy import DROP_UNKNOWN, api_parent, relay
from marelle_gateway.clients import Upstreams
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable, family_path
from marelle_gateway.session import Session, client_ip, identity_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["famille"])
FORMAT = "marelle-mes-donnees/1"

_ERRORS = {401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
           503: {"description": "Service des comptes indisponible (problem+json)"}}

# What the family can already read from each service, by section of the document:
# (section, service, path under /families/{id}).
SECTIONS = (
    ("inscriptions", "enrolment", "registrations"),
    ("attestations_inscription", "enrolment", "attestations"),
    ("demandes_inscription", "enrolment", "requests"),
    ("demandes_reservation", "booking", "requests"),
    ("jours_en_attente", "booking", "waiting-days"),
    ("factures", "billing", "invoices"),
    ("paiements", "billing", "payments"),
    ("attestations_fiscales", "billing", "fiscal-attestations"),
)


class DeletionRequestIn(contract.DeletionRequestIn):
    model_config = DROP_UNKNOWN


class MyData(BaseModel):
    """The document: `identite` is identity's export; each other section is the service's own
    answer; `indisponibles` names the sections a service could not give (try again later)."""

    format: str
    exported_at: datetime
    identite: contract.FamilyExport
    indisponibles: list[str]
    model_config = {"extra": "allow"}


async def _section(upstreams: Upstreams, service: str, family_id: str, path: str,
                   token: str) -> Any:
    client = getattr(upstreams, service)
    return await client.fetch("GET", family_path(family_id, path), token=token)


async def assemble(upstreams: Upstreams, family_id: str, token: str,
                   address: str | None) -> dict[str, Any]:
    """identity's export (required: `UpstreamProblem`/`UpstreamUnavailable` otherwise) and every
    service's sections, fetched concurrently; a missing section is listed, not fatal."""
    identity = await upstreams.identity.fetch("GET", family_path(family_id, "export"),
                                              token=token, client_ip=address)
    results = await asyncio.gather(
        *(_section(upstreams, service, family_id, path, token) for _, service, path in SECTIONS),
        return_exceptions=True)
    document: dict[str, Any] = {"format": FORMAT, "exported_at": datetime.now(UTC).isoformat(),
                                "identite": identity}
    missing = []
    for (section, service, _), result in zip(SECTIONS, results, strict=True):
        if isinstance(result, UpstreamProblem) and result.status == 404:
            document[section] = None  # the service does not know the family (nothing held)
        elif isinstance(result, (UpstreamProblem, UpstreamUnavailable)):
            log.warning("export section %s unavailable from %s", section, service)
            missing.append(section)
        elif isinstance(result, BaseException):
            raise result
        else:
            document[section] = result
    document["indisponibles"] = missing
    return document


def file_name(today: date | None = None) -> str:
    return f"marelle-mes-donnees-{(today or date.today()).isoformat()}.json"


def attachment(document: dict[str, Any]) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode()
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{file_name()}"'})


@router.get("/compte/mes-donnees", response_model=MyData,
            summary="Télécharger mes données personnelles (JSON, en pièce jointe)",
            responses={403: {"description": "Export refusé (problem+json)"},
                       404: {"description": "Foyer introuvable (problem+json)"},
                       502: {"description": "Réponse inattendue du service des comptes"},
                       **_ERRORS})
async def my_data(request: Request, session: Session = Depends(api_parent)) -> Response:
    try:
        document = await assemble(request.app.state.upstreams, session.family_id,
                                  session.access_token, client_ip(request))
    except UpstreamProblem as refused:
        # identity refused the export (session ended, unknown household): its answer, relayed.
        status = refused.status if refused.status in (401, 403, 404) else 502
        answer = problem(status, "Export impossible", refused.detail or
                         "Vos données ne peuvent pas être exportées pour le moment.",
                         instance=request.url.path)
        if status == 401:
            answer.headers["WWW-Authenticate"] = "Bearer"
        return answer
    return attachment(document)


@router.post("/compte/mes-donnees/suppression", status_code=201,
             response_model=contract.DeletionRequest,
             summary="Demander la suppression de mes données (traitée par la structure)",
             responses={409: {"description": "Une demande est déjà en attente"},
                        422: {"description": "Données invalides (problem+json)"}, **_ERRORS})
async def request_deletion(body: DeletionRequestIn, request: Request,
                           session: Session = Depends(api_parent)) -> Response:
    upstream = await identity_of(request).send(
        "POST", family_path(session.family_id, "deletion-requests"),
        json=body.model_dump(mode="json", exclude_unset=True), token=session.access_token,
        client_ip=client_ip(request))
    return relay(upstream, request)


@router.get("/compte/mes-donnees/suppression", response_model=contract.DeletionRequests,
            summary="Mes demandes de suppression de données", responses=_ERRORS)
async def deletion_requests(request: Request, session: Session = Depends(api_parent)) -> Response:
    upstream = await identity_of(request).send(
        "GET", family_path(session.family_id, "deletion-requests"), token=session.access_token,
        client_ip=client_ip(request))
    return relay(upstream, request)
