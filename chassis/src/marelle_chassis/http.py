"""HTTP middleware shared by every FastAPI app: correlation id in, out and in the logs."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marelle_chassis import context

HEADER = "x-correlation-id"


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
            from urllib.parse import unquote_to_bytes

            raw = scope.get("raw_path") or scope.get("path", "").encode()
            query = scope.get("query_string") or b""
            if b"\x00" in unquote_to_bytes(raw) or b"\x00" in unquote_to_bytes(
                    query.replace(b"+", b" ")) or "\x00" in scope.get("path", ""):
                from marelle_chassis.errors import problem

                response = problem(400, "Requête invalide",
                                   "L'adresse contient un caractère nul, refusé.")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
