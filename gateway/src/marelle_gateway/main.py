"""Composition root of the gateway: settings, upstream client, routes, errors, static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from marelle_chassis.errors import DomainError, problem
from marelle_chassis.health import health_router, upstream_checks
from marelle_chassis.docs import offline_docs
from marelle_chassis.http import CorrelationIdMiddleware
from marelle_chassis.web import SecurityHeadersMiddleware, install_web_error_handlers, wants_json

from marelle_gateway import api, pages
from marelle_gateway.clients import Upstreams
from marelle_gateway.config import GatewaySettings
from marelle_gateway.rendering import STATIC_DIR, render
from marelle_gateway.session import CookieMiddleware, GatewayTokenVerifier, install_session_handlers

# Error pages with their own wording; any other status gets the generic one.
ERROR_PAGES = (400, 403, 404, 500, 503)


def create_app(settings: GatewaySettings | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the app; `transport` replaces the network to the upstream services (tests)."""
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(transport=transport,
                                     timeout=httpx.Timeout(settings.upstream_timeout)) as client:
            app.state.upstreams = Upstreams(client, settings.upstream_urls())
            app.state.token_verifier = GatewayTokenVerifier(client, settings.jwks_url)
            yield

    app = FastAPI(title="Marelle — API des familles", version="0.1.0", lifespan=lifespan,
                  description="API JSON du portail des familles (Marelle). Authentification : "
                              "`Authorization: Bearer <jeton d'accès>` obtenu par "
                              "`POST /api/v1/auth/token`.",
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
                  license_info={"name": "AGPL-3.0-or-later"})
    offline_docs(app, "/api/v1/docs")
    app.state.settings = settings
    app.add_middleware(CookieMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(CorrelationIdMiddleware)
    install_web_error_handlers(app, _error_page)
    app.add_exception_handler(DomainError, _domain_error)
    install_session_handlers(app, _csrf_page)

    app.include_router(health_router(settings.service_name, upstream_checks(
        list(settings.upstream_urls()), lambda name: app.state.upstreams.check_live(name))))
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _error_page(request: Request, status: int) -> Response:
    kind = str(status) if status in ERROR_PAGES else "other"
    return render(request, "error.html", page=None, status_code=status, status=status, kind=kind)


def _csrf_page(request: Request) -> Response:
    return render(request, "error.html", page=None, status_code=403, status=403, kind="csrf")


async def _domain_error(request: Request, exc: Exception) -> Response:
    """problem+json for the API (with the error's headers), a French page for people."""
    assert isinstance(exc, DomainError)
    headers = dict(getattr(exc, "headers", None) or {})
    if wants_json(request):
        response = problem(exc.status, exc.title, exc.detail, code=exc.code,
                           instance=request.url.path, **exc.extra)
        response.headers.update(headers)
        return response
    response = _error_page(request, exc.status)
    response.headers.update(headers)
    return response
