"""`/api/v1/auth/*`: the mobile apps' login, refresh, logout, password reset and sign-up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from marelle_contracts.http import identity as contract

from marelle_gateway.api.proxy import DROP_UNKNOWN, relay
from marelle_gateway.session import client_ip, forget_access_token, identity_of

router = APIRouter(prefix="/auth", tags=["authentification"])

_UNAVAILABLE = {503: {"description": "Service des comptes indisponible (problem+json)"}}


# identity's bodies (`marelle_contracts.http.identity`), its limits checked here too; unknown
# top-level fields are dropped, never forwarded.
class Credentials(contract.LoginIn):
    model_config = DROP_UNKNOWN


class RefreshIn(contract.RefreshIn):
    model_config = DROP_UNKNOWN


class EmailIn(contract.EmailIn):
    model_config = DROP_UNKNOWN


class SignupIn(contract.SignupIn):
    model_config = DROP_UNKNOWN


Tokens = contract.TokensOut


async def _forward(request: Request, path: str, body: BaseModel) -> Response:
    upstream = await identity_of(request).send("POST", path, json=body.model_dump(mode="json", exclude_unset=True),
                                               client_ip=client_ip(request))
    return relay(upstream, request)


@router.post("/token", response_model=Tokens,
             summary="Se connecter (jetons d'accès et de rafraîchissement)",
             responses={401: {"description": "Identifiant ou mot de passe incorrect"},
                        429: {"description": "Trop de tentatives (en-tête Retry-After)"},
                        **_UNAVAILABLE})
async def token(body: Credentials, request: Request) -> Response:
    return await _forward(request, "/auth/token", body)


@router.post("/refresh", response_model=Tokens, summary="Renouveler les jetons (usage unique)",
             responses={401: {"description":
                              "Jeton de rafraîchissement inconnu, expiré ou révoqué"},
                        **_UNAVAILABLE})
async def refresh(body: RefreshIn, request: Request) -> Response:
    return await _forward(request, "/auth/refresh", body)


@router.post("/logout", status_code=204,
             summary="Se déconnecter (révoque le jeton de rafraîchissement)",
             responses=_UNAVAILABLE)
async def logout(body: RefreshIn, request: Request) -> Response:
    scheme, _, access = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        # The app's access token dies now here, not in 15 minutes.
        forget_access_token(request, access.strip())
    return await _forward(request, "/auth/logout", body)


@router.post("/password-reset", status_code=202,
             summary="Recevoir un lien de nouveau mot de passe "
                     "(réponse identique que le compte existe ou non)",
             responses=_UNAVAILABLE)
async def password_reset(body: EmailIn, request: Request) -> Response:
    return await _forward(request, "/auth/password-reset", body)


class SignupAccepted(BaseModel):
    """The same answer whether or not the address already has an account."""

    message: str


class SignupConfirmIn(BaseModel):
    model_config = DROP_UNKNOWN

    token: contract.Token


@router.post("/signup", status_code=202, response_model=SignupAccepted,
             summary="Première inscription : demander son espace famille (un lien de "
                     "confirmation est envoyé par e-mail ; réponse identique que l'adresse ait "
                     "déjà un compte ou non)",
             responses={422: {"description": "Données invalides (problem+json)"},
                        429: {"description": "Trop de tentatives (en-tête Retry-After)"},
                        **_UNAVAILABLE})
async def signup(body: SignupIn, request: Request) -> Response:
    return await _forward(request, "/auth/signup", body)


@router.post("/signup/confirm", status_code=204,
             summary="Confirmer l'adresse e-mail (jeton du lien reçu) : active le compte",
             responses={400: {"description": "Lien expiré, déjà utilisé ou inconnu"},
                        429: {"description": "Trop de tentatives (en-tête Retry-After)"},
                        **_UNAVAILABLE})
async def signup_confirm(body: SignupConfirmIn, request: Request) -> Response:
    return await _forward(request, "/auth/signup/confirm", body)
