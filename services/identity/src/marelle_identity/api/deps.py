"""What every endpoint needs: the runtime, the caller, and the caller's own family."""

from __future__ import annotations

import hmac
import ipaddress
import uuid
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from marelle_chassis.auth import (
    Principal,
    TokenVerifier,
    bearer_token,
    principal_from_claims,
    require_parent,
    require_staff,
    verifier_from_app,
)
from marelle_chassis.domain_errors import Unauthorized
from marelle_chassis.uow import UnitOfWork
from marelle_identity.usecases import sessions
from marelle_identity.usecases.common import family_not_found

SESSION_ENDED = "Cette session a été fermée ; reconnectez-vous."


class SessionCheckingVerifier(TokenVerifier):
    """Identity's verifier: its own keys, and its own sessions table, so that every route of
    identity (the chassis' too: parked outbox rows) refuses a token whose session ended
    (logout, new password, disabled account) at once, without waiting for it to expire."""

    def __init__(self, jwks: dict[str, Any], uow_factory: Any) -> None:
        super().__init__(jwks=jwks)
        self._uow_factory = uow_factory

    async def verify(self, token: str) -> Principal:
        principal = await super().verify(token)  # signature, issuer, audience, expiry
        claims = jwt.decode(token, options={"verify_signature": False})  # just verified
        if await sessions.is_revoked(self._uow_factory(), claims):
            raise Unauthorized(SESSION_ENDED)
        return principal


async def verified_claims(request: Request) -> dict[str, Any]:
    """A valid access token's claims, refused at once when its session has ended."""
    token = bearer_token(request)
    verifier = verifier_from_app(request)
    await verifier.verify(token)
    claims = jwt.decode(token, options={"verify_signature": False})  # just verified
    if not isinstance(verifier, SessionCheckingVerifier) and await sessions.is_revoked(
            request.app.state.uow_factory(), claims):
        raise Unauthorized(SESSION_ENDED)
    return claims


async def current_principal(claims: Annotated[dict[str, Any], Depends(verified_claims)]) -> Principal:
    return principal_from_claims(claims)

Staff = Annotated[Principal, Depends(require_staff(current_principal))]
Administrator = Annotated[Principal, Depends(require_staff(current_principal, ["administrator"]))]
Parent = Annotated[Principal, Depends(require_parent(current_principal))]
Caller = Annotated[Principal, Depends(current_principal)]


# Dependencies are `async def`: FastAPI runs a plain `def` dependency in a worker thread.
async def uow(request: Request) -> UnitOfWork:
    return request.app.state.uow_factory()


def uow_factory(request: Request) -> Any:
    return request.app.state.uow_factory


def client_address(request: Request) -> str:
    """The end user's address, for throttling: the one the gateway or the back-office saw
    (`X-Marelle-Client-Address`), only when they prove who they are with the shared
    `X-Marelle-Proxy-Secret`; otherwise the TCP peer's. Any caller can write a header:
    X-Forwarded-For and an unproven address are ignored."""
    secret = request.app.state.settings.proxy_secret
    sent = request.headers.get("x-marelle-proxy-secret", "")
    if secret and hmac.compare_digest(sent.encode(), secret.encode()):
        claimed = request.headers.get("x-marelle-client-address", "").strip()
        try:
            return str(ipaddress.ip_address(claimed))
        except ValueError:
            pass
    return request.client.host if request.client else "inconnue"


async def own_family(family_id: uuid.UUID, parent: Parent) -> uuid.UUID:
    """A parent only ever reaches their own household; another id is simply not found."""
    if parent.family_id != family_id:
        raise family_not_found()
    return family_id


OwnFamily = Annotated[uuid.UUID, Depends(own_family)]
UoW = Annotated[UnitOfWork, Depends(uow)]
