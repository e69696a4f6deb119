"""HTTP middleware shared by every FastAPI app: correlation id in, out and in the logs."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marelle_chassis import context

HEADER = "x-correlation-id"

# FastAPI's native OpenTelemetry off: Marelle exports no traces, metrics or logs through it, and
# asking OpenTelemetry whether a provider is configured cost every request (about 2 % of a
# service's CPU in bench/rush.py's profiles).
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}


class CorrelationIdMiddleware:
    """Takes `X-Correlation-ID` (or `X-Request-ID`) from the request, or makes one, and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(HEADER.encode()) or headers.get(b"x-request-id")
        value = raw.decode("latin-1")[:100] if raw else str(uuid.uuid4())
        token = context.correlation_id.set(value)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((HEADER.encode(), value.encode("latin-1")))
            await send(message)

        try:
            await self.app(scope, receive, send_with_header)
        finally:
            context.correlation_id.reset(token)


def outgoing_headers() -> dict[str, str]:
    """Headers to pass the correlation id on to another service."""
    cid = context.correlation_id.get()
    return {HEADER: cid} if cid else {}


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer that does not say otherwise (`exempt` path
    prefixes, e.g. static files, keep their own caching): personal data must not stay in a
    browser's cache or a proxy's, e.g. on a shared computer after logout."""

    def __init__(self, app: ASGIApp, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and scope["path"].startswith(self.exempt)):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_no_store)


class RefuseNulMiddleware:
    """A NUL character in the path or the query is refused with a French 400 problem+json: no
    text we store may hold one (PostgreSQL refuses it, and would answer a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode()
            query = scope.get("query_string") or b""
            # A NUL reaches the application only as itself or percent-encoded as « %00 »
            # (searching the bytes costs nothing; decoding them on every request did).
            if (b"\x00" in raw or b"%00" in raw or b"\x00" in query or b"%00" in query
                    or "\x00" in scope.get("path", "")):
                from marelle_chassis.errors import problem

                response = problem(400, "Requête invalide",
                                   "L'adresse contient un caractère nul, refusé.")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


OVERLOADED = ("Le service est très sollicité en ce moment : votre demande n'a pas été prise en "
              "compte. Réessayez dans quelques secondes (aucune place n'est perdue en "
              "réessayant).")


class LoadSheddingMiddleware:
    """Beyond `max_in_flight` requests at once, the next is answered at once with a French 503
    problem+json and `Retry-After`, instead of queueing until it times out (a rush must get a
    polite « réessayez » rather than a spinner and a 500). Health probes are never shed."""

    def __init__(self, app: ASGIApp, max_in_flight: int = 512, retry_after: int = 2) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = retry_after
        self.in_flight = 0
        self.shed = 0  # answered 503 since start (logs, tests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/health"):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            from marelle_chassis.errors import problem

            self.shed += 1
            accept = dict(scope.get("headers") or []).get(b"accept", b"")
            if b"text/html" in accept and not scope.get("path", "").startswith("/api/"):
                from starlette.responses import HTMLResponse

                # A browser gets a page in French that reloads itself after the pause.
                response = HTMLResponse(
                    '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
                    f'<meta http-equiv="refresh" content="{self.retry_after + 3}">'
                    "<title>Service très sollicité</title></head><body><h1>Service très "
                    f"sollicité</h1><p>{OVERLOADED}</p><p>Cette page se recharge toute "
                    "seule dans quelques secondes.</p></body></html>", status_code=503)
            else:
                response = problem(503, "Service très sollicité", OVERLOADED, code="surcharge")
            response.headers["Retry-After"] = str(self.retry_after)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def listing_response(content: Any) -> Response:
    """A large listing's JSON, serialised by orjson without a second validation pass: the use
    case built it in the response model's shape already (the endpoint keeps `response_model`
    for its OpenAPI, which tests check against the real answers). On the staff waiting list of
    10,000 entries, pydantic's validate-then-dump was a third of the page's time."""
    import orjson

    # asyncpg's own UUID type is not the stdlib's: written as its text, like pydantic does.
    return Response(orjson.dumps(content, default=str,
                                 option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC),
                    media_type="application/json")
