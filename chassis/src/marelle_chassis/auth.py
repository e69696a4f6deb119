"""Access tokens: identity signs them (RS256), every service verifies them itself via JWKS."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi import Depends, Request

from marelle_chassis import jws
from marelle_chassis.domain_errors import Forbidden, ServiceUnavailable, Unauthorized
from marelle_chassis.revocations import Revocations

ISSUER = "marelle-identity"
AUDIENCE = "marelle"
ALGORITHM = jws.ALGORITHM  # the only algorithm signed and accepted


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: str  # "parent" or "staff"
    family_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    email: str | None = None
    name: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    family = claims.get("family_id")
    return Principal(
        subject=str(claims["sub"]),
        kind=str(claims.get("kind", "")),
        family_id=uuid.UUID(family) if family else None,
        roles=frozenset(claims.get("roles", [])),
        email=claims.get("email"),
        name=claims.get("name"),
    )


class TokenVerifier:
    """Verifies RS256 tokens against identity's JWKS, fetched lazily and cached.

    An unknown `kid` triggers one refetch (key rotation), at most every `min_refresh` seconds.
    With `revocations`, a token whose session was ended (logout, password change…) is refused
    at once rather than when it expires.
    """

    def __init__(self, jwks_url: str | None = None, *, jwks: dict[str, Any] | None = None,
                 min_refresh: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 revocations: Revocations | None = None) -> None:
        self.jwks_url = jwks_url
        self.revocations = revocations
        self._transport = transport  # tests replace the network to identity
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._min_refresh = min_refresh
        self._lock = asyncio.Lock()
        # Tokens already verified (the exact string) → (kid, exp, claims): a family's app sends
        # the same token with every request for its 15 minutes; checking the RSA signature
        # again each time was most of the cost of authenticating (bench/rush.py).
        self._verified: dict[str, tuple[str, float, dict[str, Any]]] = {}
        if jwks:
            self._load(jwks)

    def _load(self, jwks: dict[str, Any]) -> None:
        self._keys = {k["kid"]: jwt.PyJWK.from_dict(k).key for k in jwks.get("keys", [])}

    async def _refresh(self) -> None:
        if not self.jwks_url:
            return
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._min_refresh and self._keys:
                return
            async with httpx.AsyncClient(timeout=5.0, transport=self._transport) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
                self._load(response.json())
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and known[0] in self._keys and time.time() < known[1]:
            claims = known[2]
        else:
            claims = await self._decode(token)
        if self.revocations is not None and self.revocations.is_revoked(
                str(claims["sub"]), claims.get("sid"), _issued_at(claims), token):
            raise Unauthorized("Cette session a été fermée ; reconnectez-vous.")
        return principal_from_claims(claims)

    async def _decode(self, token: str) -> dict[str, Any]:
        try:
            kid = jws.header_kid(token)
        except jws.Refused:
            raise Unauthorized("Jeton d'accès illisible.") from None
        if kid not in self._keys:
            try:
                await self._refresh()
            except (httpx.HTTPError, ValueError, KeyError):
                # Not the caller's fault: say so, rather than "bad token".
                raise ServiceUnavailable("Le service d'identité est injoignable : réessayez dans "
                                         "quelques instants.") from None
        if kid not in self._keys:
            raise Unauthorized("Jeton d'accès signé par une clé inconnue.")
        try:
            claims = jws.verify(token, self._keys, audience=AUDIENCE, issuer=ISSUER,
                                now=time.time())
        except jws.Expired:
            raise Unauthorized("Votre session a expiré ; reconnectez-vous.") from None
        except jws.Refused:
            raise Unauthorized("Jeton d'accès invalide.") from None
        if len(self._verified) >= 20_000:
            self._verified.clear()  # bounded; the next requests simply verify again
        self._verified[token] = (kid, float(claims["exp"]), claims)
        return claims


def _issued_at(claims: dict[str, Any]) -> float:
    try:
        return float(claims["iat"])
    except (TypeError, ValueError):
        # An unreadable `iat` cannot prove the token is newer than a revocation.
        return float("-inf")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authentification requise : jeton d'accès manquant.")
    return token.strip()


def principal_dependency(verifier_of: Callable[[Request], TokenVerifier]) -> Callable[..., Any]:
    async def current_principal(request: Request) -> Principal:
        return await verifier_of(request).verify(bearer_token(request))

    return current_principal


def require_staff(current: Callable[..., Any], roles: Iterable[str] = ()) -> Callable[..., Any]:
    wanted = frozenset(roles)

    async def staff(principal: Principal = Depends(current)) -> Principal:
        if not principal.is_staff:
            raise Forbidden("Cette action est réservée au personnel de la structure.")
        if wanted and not (principal.roles & wanted):
            raise Forbidden("Votre rôle ne permet pas cette action.")
        return principal

    return staff


def require_parent(current: Callable[..., Any]) -> Callable[..., Any]:
    async def parent(principal: Principal = Depends(current)) -> Principal:
        if principal.kind != "parent" or principal.family_id is None:
            raise Forbidden("Cette page est réservée aux familles.")
        return principal

    return parent


def verifier_from_app(request: Request) -> TokenVerifier:
    return request.app.state.token_verifier
