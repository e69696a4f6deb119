"""In production the gateway sends an opening's submissions on its aiohttp session directly
(`ServiceClient.direct`, not through httpx): over real HTTP to a stand-in enrolment, the body,
the family's token, the Idempotency-Key and the correlation id arrive; the answer and its
headers come back as the service gave them; a service that does not answer is a French 503."""

from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest
from aiohttp import web

from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import create_app

from gateway.tests.conftest import JWKS, FakeServices, parent_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def stand_in():
    """identity's JWKS and enrolment's ticket submission, on a real port."""
    received: list[tuple[dict[str, str], dict]] = []

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(JWKS)

    async def ticket(request: web.Request) -> web.Response:
        received.append((dict(request.headers), json.loads(await request.read())))
        return web.json_response({
            "id": str(uuid.UUID(int=7)), "kind": "inscription", "resource_label": "6-8 ans",
            "status": "en_file", "position": 42, "ahead": 41,
            "received_at": "2026-11-30T08:30:00.120000Z", "decided_at": None,
            "if_some_full": "prendre_le_reste", "outcomes": []},
            status=202, headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_post(f"/families/{FakeServices.FAMILY_ID}/tickets", ticket)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


async def test_a_submission_goes_over_the_direct_session_and_comes_back_whole(stand_in):
    url, received = stand_in
    settings = GatewaySettings(identity_url=url, enrolment_url=url, booking_url=url,
                               billing_url=url)
    app = create_app(settings)  # no test transport: the production path
    async with app.router.lifespan_context(app):
        assert app.state.upstreams.enrolment.direct is not None
        token = parent_token()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                     base_url="http://portail.test") as client:
            answer = await client.post(
                "/api/v1/tickets/inscriptions",
                json={"group_id": str(uuid.UUID(int=1)), "child_ids": [str(uuid.UUID(int=2))],
                      "family_id": "ignored"},
                headers={"authorization": f"Bearer {token}", "idempotency-key": "cle-http-0001",
                         "x-correlation-id": "rush-0001"})
    assert answer.status_code == 202
    assert answer.json()["position"] == 42 and answer.headers["retry-after"] == "1"
    [(headers, body)] = received
    assert body == {"group_id": str(uuid.UUID(int=1)), "child_ids": [str(uuid.UUID(int=2))],
                    "typical_week": [], "memo": "", "if_some_full": "prendre_le_reste"}
    assert headers["Authorization"] == f"Bearer {token}"
    assert headers["Idempotency-Key"] == "cle-http-0001"
    assert headers["X-Correlation-ID"] == "rush-0001"
    assert headers["Content-Type"] == "application/json"


async def test_a_service_that_does_not_answer_is_a_french_503(stand_in):
    url, _ = stand_in
    settings = GatewaySettings(identity_url=url, enrolment_url=f"http://127.0.0.1:{free_port()}",
                               booking_url=url, billing_url=url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                     base_url="http://portail.test") as client:
            answer = await client.post(
                "/api/v1/tickets/inscriptions",
                json={"group_id": str(uuid.UUID(int=1)), "child_ids": [str(uuid.UUID(int=2))]},
                headers={"authorization": f"Bearer {parent_token()}",
                         "idempotency-key": "cle-http-0002"})
        assert app.state.upstreams.enrolment.submissions.in_flight == 0
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "indisponible" in answer.json()["detail"]
