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
