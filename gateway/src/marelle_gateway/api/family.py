"""The family's own data for the mobile apps: household, contact details, dashboard, password.

The family is always the bearer token's (`family_id` claim); identity checks it again.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from marelle_contracts.http import identity as contract

from marelle_gateway.api.proxy import DROP_UNKNOWN, api_parent, relay
from marelle_gateway.clients import UpstreamRequest
from marelle_gateway.identity import family_path
from marelle_gateway.session import Session, client_ip, identity_of

router = APIRouter(tags=["famille"])

_ERRORS = {401: {"description": "Jeton d'accès absent, invalide ou expiré (problem+json)"},
           422: {"description": "Données invalides (problem+json, `erreurs` par champ)"},
           503: {"description": "Service des comptes indisponible (problem+json)"}}


# identity's bodies (`marelle_contracts.http.identity`), its limits checked here too.
class ChildIn(contract.ChildIn):
    model_config = DROP_UNKNOWN


class GuardianIn(contract.GuardianIn):
    model_config = DROP_UNKNOWN


class ContactChangeIn(contract.ContactChangeIn):
    """Only the fields present are changed; "" clears a field."""

    model_config = DROP_UNKNOWN


class PasswordChange(contract.ChangePasswordIn):
    model_config = DROP_UNKNOWN


class Dashboard(BaseModel):
    items: list[UpstreamRequest]
    # Services whose history could not be fetched (the list is then incomplete).
    indisponibles: list[str]


async def _send(request: Request, session: Session, method: str, path: str,
                body: BaseModel | None = None) -> Response:
    # exclude_unset: "absent" and "empty" mean different things to identity.
    payload: Any = body.model_dump(mode="json", exclude_unset=True) if body else None
    upstream = await identity_of(request).send(method, path, json=payload,
                                               token=session.access_token,
                                               client_ip=client_ip(request))
    return relay(upstream, request)


@router.get("/famille", response_model=contract.Family, summary="Ma famille : le foyer et ses personnes", responses=_ERRORS)
async def family(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", family_path(session.family_id))


@router.post("/famille/enfants", status_code=201, response_model=contract.Person,
             summary="Ajouter un enfant", responses=_ERRORS)
async def add_child(body: ChildIn, request: Request,
                    session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", family_path(session.family_id, "children"), body)


@router.put("/famille/enfants/{person_id}", response_model=contract.Person, summary="Modifier les informations d'un enfant",
            responses={404: {"description": "Pas un enfant de votre famille"}, **_ERRORS})
async def update_child(person_id: uuid.UUID, body: ChildIn, request: Request,
                       session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "PUT",
                       family_path(session.family_id, "children", str(person_id)), body)


@router.post("/famille/responsables", status_code=201, response_model=contract.Person,
             summary="Ajouter un second responsable légal",
             responses={409: {"description": "Déjà deux responsables légaux"}, **_ERRORS})
async def add_guardian(body: GuardianIn, request: Request,
                       session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "POST", family_path(session.family_id, "guardians"), body)


@router.get("/coordonnees", response_model=contract.Contact, summary="Mes coordonnées (et la demande de modification en attente)",
            responses=_ERRORS)
async def contact(request: Request, session: Session = Depends(api_parent)) -> Response:
    return await _send(request, session, "GET", family_path(session.family_id, "contact"))


@router.post("/coordonnees/demandes", status_code=201,
             response_model=contract.ContactChangeRequest,
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
