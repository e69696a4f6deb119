"""The gateway's JSON API (`/api/v1`), generated from its OpenAPI document: every operation but
the listed public ones refuses an anonymous call and every forged token (401, problem+json)
without forwarding anything to a service; a body over the limit is refused (413) before any
service is asked. The services behind are a MockTransport that serves identity's JWKS (the
gateway verifies tokens itself, as in production) and records what reaches them.

Cross-household access is decided by the services (the gateway forwards the parent's own token;
its paths carry no family id): the services' matrix covers it."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from jwt.algorithms import RSAAlgorithm

from marelle_chassis.openapi import document_api
from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import create_app
from tests.security.support import forged, is_problem, is_public, operations, url
from tests.support import tokens

pytestmark = pytest.mark.timeout(120)

JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(tokens._KEY.public_key())),
                  "kid": tokens._KID, "use": "sig", "alg": "RS256"}]}


class Upstreams:
    def __init__(self) -> None:
        self.forwarded: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=JWKS)
        self.forwarded.append(request)
        return httpx.Response(404, json={"type": "about:blank", "title": "Introuvable",
                                         "status": 404, "detail": "Ressource introuvable."},
                              headers={"content-type": "application/problem+json"})


@pytest.fixture
async def gateway():
    upstreams = Upstreams()
    app = create_app(GatewaySettings(), transport=httpx.MockTransport(upstreams))
    document_api(app, relayed=True, prefix="/api/v1")  # no-op once the gateway does it
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://portail.test") as c:
            yield app, c, upstreams


async def test_every_api_operation_refuses_forged_and_missing_tokens(gateway) -> None:
    app, client, upstreams = gateway
    ops = operations(app.openapi(), "/api/v1")
    assert len(ops) > 5
    family_id = uuid.uuid4()
    problems = []
    for op in ops:
        if is_public(op.method, op.path):
            continue
        if not op.protected:
            problems.append(f"{op.key} : ni protégée (schéma bearer) ni listée publique")
        path = url(op, {})
        for who, headers in forged(family_id).items():
            upstreams.forwarded.clear()
            r = await client.request(op.method.upper(), path, headers=headers,
                                     json={} if op.has_body else None)
            if r.status_code != 401 or not is_problem(r):
                problems.append(f"{op.key} ({who}) : {r.status_code} {r.text[:150]}")
            if upstreams.forwarded:
                problems.append(f"{op.key} ({who}) : transmis à "
                                f"{[str(q.url) for q in upstreams.forwarded]}")
    assert problems == [], "\n".join(problems)


async def test_a_body_over_the_limit_is_refused_before_any_service(gateway) -> None:
    app, client, upstreams = gateway
    token = tokens.parent(uuid.uuid4())
    posts = [op for op in operations(app.openapi(), "/api/v1") if op.has_body]
    assert posts
    for op in posts:
        upstreams.forwarded.clear()
        r = await client.request(op.method.upper(), url(op, {}), headers=token,
                                 content=b'{"x": "' + b"a" * (2 << 20) + b'"}')
        assert r.status_code == 413, (op.key, r.status_code)
        assert is_problem(r), op.key
        assert upstreams.forwarded == [], op.key
