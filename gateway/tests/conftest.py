"""Gateway test helpers: the app over ASGI, the upstream services replaced by a MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import create_app

Handler = Callable[[httpx.Request], httpx.Response]

def all_down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def portal() -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    """`async with portal(handler) as client:` a client on the gateway, lifespan included."""

    @asynccontextmanager
    async def open_portal(handler: Handler = all_down, *,
                          raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(GatewaySettings(), transport=httpx.MockTransport(handler))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
            async with httpx.AsyncClient(transport=transport, base_url="http://portail.test") as client:
                yield client

    return open_portal
