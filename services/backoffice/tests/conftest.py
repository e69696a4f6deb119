"""Back-office test helpers: the app over ASGI, the services replaced by a MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.main import create_app

Handler = Callable[[httpx.Request], httpx.Response]


def all_down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
def backoffice() -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    """`async with backoffice(handler) as client:` a client on the back-office, lifespan included."""

    @asynccontextmanager
    async def open_backoffice(handler: Handler = all_down, *,
                              raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(BackofficeSettings(), transport=httpx.MockTransport(handler))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app, raise_app_exceptions=raise_app_exceptions)
            async with httpx.AsyncClient(transport=transport, base_url="http://agents.test") as client:
                yield client

    return open_backoffice
