"""In production the gateway sends an opening's submissions on connections of its own
(`ServiceClient.wire`, wire.py, not through httpx nor aiohttp): over real HTTP to a stand-in
enrolment, the body, the family's token, the Idempotency-Key and the correlation id arrive; the
answer and its headers come back as the service gave them; connections are kept alive and one
the service closed meanwhile is replaced; a service that does not answer is a French 503."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid

import httpx
import pytest
from aiohttp import web

from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import create_app
from marelle_gateway.wire import WireError, WirePool

from gateway.tests.conftest import JWKS, FakeServices, parent_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def stand_in():
    """identity's JWKS and enrolment's ticket submission, on a real port."""
    received: list[tuple[dict[str, str], dict]] = []
    peers: list[object] = []

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(JWKS)

    async def ticket(request: web.Request) -> web.Response:
        received.append((dict(request.headers), json.loads(await request.read())))
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({
            "id": str(uuid.UUID(int=7)), "kind": "inscription", "resource_label": "6-8 ans",
            "status": "en_file", "position": 42, "ahead": 41,
            "received_at": "2026-11-30T08:30:00.120000Z", "decided_at": None,
            "if_some_full": "prendre_le_reste", "outcomes": []},
            status=202, headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", jwks)
    app.router.add_post(f"/families/{FakeServices.FAMILY_ID}/tickets", ticket)
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def large(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000, content_type="application/json")

    async def closing(request: web.Request) -> web.Response:
        return web.json_response({"ok": True}, headers={"Connection": "close"})

    app.router.add_post("/slow", slow)
    app.router.add_post("/large", large)
    app.router.add_post("/closing", closing)
    # Idle connections closed by the service after 0.3 s (uvicorn's default is 5 s).
    runner = web.AppRunner(app, keepalive_timeout=0.3)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", received, peers
    finally:
        await runner.cleanup()


async def test_a_submission_goes_over_the_gateways_own_connections_and_comes_back_whole(
        stand_in):
    url, received, _ = stand_in
    settings = GatewaySettings(identity_url=url, enrolment_url=url, booking_url=url,
                               billing_url=url)
    app = create_app(settings)  # no test transport: the production path
    async with app.router.lifespan_context(app):
        assert app.state.upstreams.enrolment.wire is not None
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
    url, _, _ = stand_in
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


async def test_connections_are_kept_alive_and_one_closed_by_the_service_is_replaced(stand_in):
    """Three submissions in a row on one connection; after the service closed it (idle past
    its keep-alive), the next one goes on a new connection, received once."""
    url, received, peers = stand_in
    pool = WirePool(url)
    path = f"/families/{FakeServices.FAMILY_ID}/tickets"
    try:
        for n in range(3):
            answer = await pool.request("POST", path, {"idempotency-key": f"k{n}"}, b"{}",
                                        connect_timeout=2, read_timeout=2)
            assert answer.status == 202 and json.loads(answer.body)["position"] == 42
        assert len(set(peers)) == 1, "one connection, kept alive"
        await asyncio.sleep(0.6)  # the service closes it meanwhile
        pool.idle_seconds = 60  # so that the pool takes it back as if it were still open
        answer = await pool.request("POST", path, {"idempotency-key": "k3"}, b"{}",
                                    connect_timeout=2, read_timeout=2)
        assert answer.status == 202
        assert len(received) == 4 and len(set(peers)) == 2
    finally:
        pool.close()


async def test_a_request_on_a_connection_the_service_drops_is_sent_once_more_on_a_new_one():
    """A service that closes a kept-alive connection as the next request arrives (unanswered):
    the request goes again, once, on a new connection (submissions carry their
    Idempotency-Key: a repeat is answered with the same ticket)."""
    seen: list[bytes] = []
    answer_bytes = (b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\n"
                    b"content-length: 2\r\n\r\n{}")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            seen.append(body)
            if answered:  # the second request of a connection: dropped unanswered
                writer.close()
                return
            writer.write(answer_bytes)
            answered += 1

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = WirePool(f"http://127.0.0.1:{port}")
    try:
        for n in range(2):
            answer = await pool.request("POST", "/t", {}, f'"{n}"'.encode(), connect_timeout=2,
                                        read_timeout=2)
            assert answer.status == 202
        assert seen == [b'"0"', b'"1"', b'"1"']
    finally:
        pool.close()
        server.close()


async def test_an_answer_too_slow_too_large_or_closing_is_handled(stand_in):
    url, _, _ = stand_in
    pool = WirePool(url, max_body=1000)
    try:
        with pytest.raises(TimeoutError):
            await pool.request("POST", "/slow", {}, b"{}", connect_timeout=2, read_timeout=0.2)
        with pytest.raises(WireError):
            await pool.request("POST", "/large", {}, b"{}", connect_timeout=2, read_timeout=2)
        answer = await pool.request("POST", "/closing", {}, b"{}", connect_timeout=2,
                                    read_timeout=2)
        assert answer.status == 200 and json.loads(answer.body) == {"ok": True}
        assert pool._idle == [], "a connection the service closes is not kept"
    finally:
        pool.close()


def test_a_header_or_path_with_a_line_break_is_never_sent():
    pool = WirePool("http://127.0.0.1:1")
    for path, headers in (("/a\r\nX-Injected: 1", {}), ("/a", {"x-correlation-id": "a\nb"})):
        with pytest.raises(ValueError):
            pool._head("POST", path, headers, 2)
