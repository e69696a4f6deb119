"""Back-office test helpers: the app over ASGI, the services replaced by a MockTransport.

Tokens are signed with a throwaway RSA key whose JWKS the fake identity serves, as identity does.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from marelle_chassis.auth import AUDIENCE, ISSUER

from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.main import create_app

# These tests replace the network by a MockTransport: no broker for the revocation feed, and
# plain-HTTP test URLs (the production defaults are tested explicitly).
os.environ.setdefault("BACKOFFICE_KAFKA_ENABLED", "false")
os.environ.setdefault("BACKOFFICE_COOKIE_SECURE", "false")

Handler = Callable[[httpx.Request], httpx.Response]

BASE_URL = "http://agents.test"
IDENTITY = "http://127.0.0.1:8101"
SERVICE_URLS = {"identity": IDENTITY, "enrolment": "http://127.0.0.1:8102",
                "booking": "http://127.0.0.1:8103", "billing": "http://127.0.0.1:8104"}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key"
JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": KID}]}


def make_token(*, kind: str = "staff", roles: tuple[str, ...] = ("manager",), ttl: int = 900,
               name: str = "Camille Agent", key: Any = KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now - 5, "exp": now + ttl, "sub": "staff-1",
            "kind": kind, "name": name, "email": "camille@ville.test", **claims}
    if kind == "staff":
        body["roles"] = list(roles)
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": KID})


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": "Erreur", "status": status,
                            "detail": detail}
    if errors is not None:
        body["erreurs"] = errors
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json",
                                                      **(headers or {})})


class FakeServices:
    """Answers by (method, service, path); records every request; serves identity's JWKS."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], Any] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, service: str, path: str, answer: Any) -> "FakeServices":
        """`answer`: an httpx.Response, a JSON body (200), or a function of the request."""
        self.routes[(method, service, path)] = answer
        return self

    def sent(self, method: str, service: str, path: str) -> list[httpx.Request]:
        base = SERVICE_URLS[service]
        return [r for r in self.requests
                if r.method == method and str(r.url).split("?")[0] == base + path]

    def domain_calls(self) -> list[httpx.Request]:
        """Requests other than the JWKS and the health probes."""
        return [r for r in self.requests
                if r.url.path not in ("/.well-known/jwks.json", "/health/live")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        service = next(name for name, url in SERVICE_URLS.items()
                       if request.url.port == httpx.URL(url).port)
        if service == "identity" and request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=JWKS)
        if request.url.path == "/health/live":
            return httpx.Response(200, json={"status": "ok"})
        answer = self.routes.get((request.method, service, request.url.path))
        if answer is None:
            return problem(404, "Introuvable.")
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)


def all_down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def fake() -> FakeServices:
    return FakeServices()


@pytest.fixture
def backoffice() -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    """`async with backoffice(handler) as client:` the back-office, lifespan included."""

    @asynccontextmanager
    async def open_backoffice(handler: Handler = all_down, *, raise_app_exceptions: bool = True,
                              **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(BackofficeSettings(**settings), transport=httpx.MockTransport(handler))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                client.app = app  # type: ignore[attr-defined]
                yield client

    return open_backoffice


def sign_in(client: httpx.AsyncClient, **token_claims: Any) -> None:
    """Put a staff token in the session cookie, as a successful login does."""
    client.cookies.set("marelle_staff", make_token(**token_claims), domain="agents.test")


async def csrf_of(client: httpx.AsyncClient, path: str = "/connexion") -> str:
    """The CSRF token of a page's forms (its cookie lands in the client's jar)."""
    html = (await client.get(path)).text
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def post_form(client: httpx.AsyncClient, path: str, data: dict[str, Any] | None = None,
                    ) -> httpx.Response:
    """POST `data` to `path` as its own page's form does: with that page's CSRF token."""
    csrf = await csrf_of(client, path)
    return await client.post(path, data={"csrf": csrf, **(data or {})})
