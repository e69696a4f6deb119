"""Gateway test helpers: the app over ASGI, the upstream services replaced by a MockTransport.

Tokens are signed with a throwaway RSA key whose JWKS the fake identity serves, so the
gateway verifies them exactly as in production (chassis `TokenVerifier`, over the network).
"""

from __future__ import annotations

import os

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from marelle_chassis.auth import AUDIENCE, ISSUER

from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import create_app

from gateway.tests.booking_fake import FakeBooking
from gateway.tests.enrolment_fake import NO_REQUESTS, FakeEnrolment

# These tests replace the network by a MockTransport: no broker for the revocation feed, and
# plain-HTTP test URLs (the production defaults are tested explicitly).
os.environ.setdefault("GATEWAY_KAFKA_ENABLED", "false")
os.environ.setdefault("GATEWAY_COOKIE_SECURE", "false")

Handler = Callable[[httpx.Request], httpx.Response]

PORTS = {8101: "identity", 8102: "enrolment", 8103: "booking", 8104: "billing"}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "cle-de-test"
JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": KID,
                  "use": "sig", "alg": "RS256"}]}
CSRF = "jeton-csrf-de-test-" + "x" * 32


def all_down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def service_of(request: httpx.Request) -> str:
    """Which upstream a request is for (the default settings' ports)."""
    return PORTS[request.url.port]


def sign(claims: dict[str, Any] | None = None, *, ttl: int = 900, key: Any = KEY,
         kid: str = KID) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now - 5, "exp": now + ttl,
            "jti": uuid.uuid4().hex, **(claims or {})}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


class FakeServices:
    """The four services behind one MockTransport.

    `fake.on("POST", "/auth/token", httpx.Response(...))` or a handler taking the request;
    identity's JWKS is always served; every request is recorded in `fake.requests`.
    """

    FAMILY_ID = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
    OTHER_FAMILY_ID = "5e0c3c1a-7d2b-4f4e-9a51-1c2d3e4f5a6b"
    ACCOUNT_ID = "7f1e2d3c-4b5a-4697-8887-766554433221"

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], httpx.Response | Handler] = {}
        # A whole service played by one handler (`None`: not found), after the exact routes.
        self.services: dict[str, Callable[[httpx.Request], httpx.Response | None]] = {}
        self.requests: list[httpx.Request] = []
        self.jwks_up = True

    def on(self, method: str, path: str, answer: httpx.Response | Handler, *,
           service: str = "identity") -> None:
        self.routes[(service, method, path)] = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        service = service_of(request)
        if service == "identity" and request.url.path == "/.well-known/jwks.json":
            if not self.jwks_up:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(200, json=JWKS)
        self.requests.append(request)
        answer = self.routes.get((service, request.method, request.url.path))
        if answer is None and service in self.services:
            answer = self.services[service](request)
        if answer is None:
            if request.url.path.endswith("/requests"):
                # Every service's dashboard answer (`marelle_contracts.dashboard`), empty.
                return httpx.Response(200, json=NO_REQUESTS)
            return httpx.Response(404, json={"title": "Introuvable", "status": 404,
                                             "detail": "Ressource introuvable."},
                                  headers={"content-type": "application/problem+json"})
        return answer(request) if callable(answer) else answer

    def serve(self, service: str, handler: Callable[[httpx.Request], httpx.Response | None]
              ) -> None:
        self.services[service] = handler

    def sent(self, method: str, path: str, service: str = "identity") -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path
                and service_of(r) == service]

    def body(self, method: str, path: str) -> Any:
        [request] = self.sent(method, path)
        return json.loads(request.content)

    def parent_token(self, *, ttl: int = 900, **claims: Any) -> str:
        return parent_token(self.FAMILY_ID, ttl=ttl, **claims)


def with_jwks(handler: Handler) -> Handler:
    """`handler` for the services, identity's JWKS answered first."""

    def serve(request: httpx.Request) -> Any:
        if service_of(request) == "identity" and request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=JWKS)
        return handler(request)

    return serve


def parent_token(family_id: str = FakeServices.FAMILY_ID, *, ttl: int = 900,
                 **claims: Any) -> str:
    return sign({"sub": FakeServices.ACCOUNT_ID, "kind": "parent", "family_id": family_id,
                 "name": "Claire Martin", "email": "claire.martin@example.fr", **claims}, ttl=ttl)


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    headers = {"content-type": "application/problem+json"}
    if "retry_after" in extra:
        headers["retry-after"] = str(extra.pop("retry_after"))
    return httpx.Response(status, json={"type": "about:blank", "title": "Erreur", "status": status,
                                        "detail": detail, **extra}, headers=headers)


@pytest.fixture
def fake() -> FakeServices:
    return FakeServices()


@pytest.fixture
def enrolment(fake: FakeServices) -> FakeEnrolment:
    """The fake enrolment service and identity's Martin family (Claire, Léa, Tom)."""
    return FakeEnrolment(fake)


@pytest.fixture
def booking(fake: FakeServices, enrolment: FakeEnrolment) -> FakeBooking:
    """The fake booking service (Léa's validated autumn registration), with enrolment."""
    return FakeBooking(fake)


@pytest.fixture
def portal() -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    """`async with portal(handler) as client:` a client on the gateway, lifespan included."""

    @asynccontextmanager
    async def open_portal(handler: Handler = all_down, *, raise_app_exceptions: bool = True,
                          settings: GatewaySettings | None = None
                          ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings or GatewaySettings(), transport=httpx.MockTransport(handler))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
            async with httpx.AsyncClient(transport=transport, base_url="http://portail.test") as client:
                yield client

    return open_portal


def signed_in(client: httpx.AsyncClient, access: str | None = None,
              refresh: str | None = None) -> None:
    """Put session cookies in the browser, as a login would have."""
    if access:
        client.cookies.set("marelle_session", access, domain="portail.test")
    if refresh:
        client.cookies.set("marelle_refresh", refresh, domain="portail.test")


def with_csrf(client: httpx.AsyncClient, data: dict[str, str] | None = None) -> dict[str, str]:
    """The browser's CSRF cookie, and the form data carrying the same token."""
    client.cookies.set("marelle_csrf", CSRF, domain="portail.test")
    return {**(data or {}), "csrf": CSRF}


@pytest.fixture
def gw() -> Any:
    """The helpers above, for the test modules (conftest modules are not importable)."""

    class Helpers:
        pass

    helpers = Helpers()
    for name, value in {"sign": sign, "problem": problem, "signed_in": signed_in,
                        "with_csrf": with_csrf, "service_of": service_of, "KEY": KEY,
                        "JWKS": JWKS, "CSRF": CSRF, "all_down": all_down,
                        "with_jwks": with_jwks, "parent_token": parent_token}.items():
        setattr(helpers, name, value)
    return helpers
