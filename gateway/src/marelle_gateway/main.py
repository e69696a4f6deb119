"""Composition root of the gateway: settings, upstream client, routes, errors, static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marelle_chassis.errors import install_problem_handlers
from marelle_chassis.health import health_router
from marelle_chassis.http import CorrelationIdMiddleware

from marelle_gateway import api, pages
from marelle_gateway.clients import Upstreams
from marelle_gateway.config import GatewaySettings
from marelle_gateway.rendering import STATIC_DIR, render

log = logging.getLogger(__name__)

# Paths answered in JSON (problem+json on error); every other path is a page for people.
JSON_PREFIXES = ("/api/", "/health/")


def create_app(settings: GatewaySettings | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the app; `transport` replaces the network to the upstream services (tests)."""
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=transport,
                                     timeout=httpx.Timeout(settings.upstream_timeout)) as client:
            app.state.upstreams = Upstreams(client, settings.upstream_urls())
            yield

    app = FastAPI(title="Marelle — API des familles", version="0.1.0", lifespan=lifespan,
                  description="API JSON du portail des familles (Marelle).",
                  openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
                  license_info={"name": "AGPL-3.0-or-later"})
    app.state.settings = settings
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(CorrelationIdMiddleware)
    _install_error_handlers(app)

    def live_check(service: str):
        async def check() -> None:
            await app.state.upstreams.check_live(service)
        return check

    app.include_router(health_router(settings.service_name,
                                     {name: live_check(name) for name in settings.upstream_urls()}))
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIXES)


def _install_error_handlers(app: FastAPI) -> None:
    """problem+json for the API (the chassis' handlers), French HTML pages for people."""
    install_problem_handlers(app)
    json_http = app.exception_handlers[StarletteHTTPException]
    json_validation = app.exception_handlers[RequestValidationError]
    json_unexpected = app.exception_handlers[Exception]

    async def http_error(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return await json_http(request, exc)
        assert isinstance(exc, StarletteHTTPException)
        return _error_page(request, exc.status_code, dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return await json_validation(request, exc)
        return _error_page(request, 400)

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return await json_unexpected(request, exc)
        log.exception("unhandled error on %s", request.url.path)
        return _error_page(request, 500)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)


def _error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    kind = str(status) if status in (400, 404, 500) else "other"
    try:
        response = render(request, "error.html", page=None, status_code=status, status=status,
                          kind=kind)
    except Exception:  # the error page itself failed: still no stack trace for people
        log.exception("error page failed on %s", request.url.path)
        response = PlainTextResponse("Une erreur inattendue est survenue. Réessayez plus tard.",
                                     status_code=500)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class SecurityHeadersMiddleware:
    """Conservative browser headers; the strict CSP is for portal pages (no script, no CDN)."""

    PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_page = not scope["path"].startswith(JSON_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if is_page:
                    headers.append((b"content-security-policy", self.PAGE_CSP.encode()))
            await send(message)

        await self.app(scope, receive, send_with_headers)
