"""The family's own data for the mobile apps: household, contact details, dashboard, password.

The family is always the bearer token's (`family_id` claim); identity checks it again.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from marelle_gateway.api.proxy import api_parent, relay
from marelle_gateway.clients import UpstreamRequest
from marelle_gateway.identity import family_path
from marelle_gateway.session import Session, identity_of

router = APIRouter(tags=["famille"])

_ERRORS = {401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
           422: {"description": "Données invalides (problem+json, `erreurs` par champ)"},
           503: {"description": "Service des comptes indisponible (problem+json)"}}


class _In(BaseModel):
    # Unknown fields (a `family_id`, say) are dropped, never forwarded.
    model_config = ConfigDict(extra="ignore")


class ChildIn(_In):
    first_name: str
    last_name: str
    birth_date: date
    sex: Literal["F", "M"] | None = None


class GuardianIn(_In):
    first_name: str
    last_name: str
    birth_date: date | None = None
    sex: Literal["F", "M"] | None = None


class GuardianPhones(_In):
    person_id: uuid.UUID
    mobile_phone: str | None = None
    work_phone: str | None = None


class ContactChangeIn(_In):
    """Only the fields present are changed; "" clears a field."""

    home_phone: str | None = None
    guardian_phones: list[GuardianPhones] | None = None
    beneficiary_name: str | None = None
    beneficiary_scheme: Literal["CAF", "MSA", "AUTRE", ""] | None = None
    beneficiary_number: str | None = None


class PasswordChange(_In):
    current_password: str
    new_password: str


class Dashboard(BaseModel):
    items: list[UpstreamRequest]
    # Services whose history could not be fetched (the list is then incomplete).
    indisponibles: list[str]


async def _send(request: Request, session: Session, method: str, path: str,
                body: BaseModel | None = None) -> Response:
    # exclude_unset: "absent" and "empty" mean different things to identity.
    payload: Any = body.model_dump(mode="json", exclude_unset=True) if body else None
    upstream = await identity_of(request).send(method, path, json=payload,
                                               token=session.access_token)
    return relay(upstream, request)


@router.get("/famille", summary="Ma famille : le foyer et ses personnes", responses=_ERRORS)
async def family(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", family_path(session.family_id))


@router.post("/famille/enfants", status_code=201, summary="Ajouter un enfant", responses=_ERRORS)
async def add_child(body: ChildIn, request: Request,
                    session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", family_path(session.family_id, "children"), body)


@router.put("/famille/enfants/{person_id}", summary="Modifier les informations d'un enfant",
            responses={404: {"description": "Pas un enfant de votre famille"}, **_ERRORS})
async def update_child(person_id: uuid.UUID, body: ChildIn, request: Request,
                       session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "PUT",
                       family_path(session.family_id, "children", str(person_id)), body)


@router.post("/famille/responsables", status_code=201,
             summary="Ajouter un second responsable légal",
             responses={409: {"description": "Déjà deux responsables légaux"}, **_ERRORS})
async def add_guardian(body: GuardianIn, request: Request,
                       session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", family_path(session.family_id, "guardians"), body)


@router.get("/coordonnees", summary="Mes coordonnées (et la demande de modification en attente)",
            responses=_ERRORS)
async def contact(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", family_path(session.family_id, "contact"))


@router.post("/coordonnees/demandes", status_code=201,
             summary="Demander une modification de coordonnées (validée par la structure)",
             responses={409: {"description": "Une demande est déjà en attente"}, **_ERRORS})
async def contact_change(body: ContactChangeIn, request: Request,
                         session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST",
                       family_path(session.family_id, "contact-change-requests"), body)


@router.get("/tableau-de-bord", response_model=Dashboard,
            summary="Mon tableau de bord : les demandes de la famille, "
                    "de la plus récente à la plus ancienne",
            responses={401: _ERRORS[401]})
async def dashboard(request: Request, session: Session = Depends(api_parent)) -> Dashboard:
    history = await request.app.state.upstreams.family_requests(session.family_id,
                                                                session.access_token)
    return Dashboard(items=history.items, indisponibles=history.unavailable)


@router.post("/compte/mot-de-passe", status_code=204, summary="Changer mon mot de passe",
             responses={400: {"description": "Mot de passe actuel incorrect"}, **_ERRORS})
async def change_password(body: PasswordChange, request: Request,
                          session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", "/me/password", body)
