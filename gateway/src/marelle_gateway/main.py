"""Composition root of the gateway: settings, upstream client, routes, errors, static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from marelle_chassis.errors import DomainError, problem
from marelle_chassis.health import health_router, upstream_checks
from marelle_chassis.docs import offline_docs
from marelle_chassis.fastlane import FastLane
from marelle_chassis.http import (
    CorrelationIdMiddleware,
    NO_TELEMETRY,
    LoadSheddingMiddleware,
    NoStoreMiddleware,
    RefuseNulMiddleware,
)
from marelle_chassis.openapi import document_api
from marelle_chassis.revocations import RevocationFeed, Revocations
from marelle_chassis.runtime import freeze_startup_heap
from marelle_chassis.settings import announce_mode, refuse_unsafe_production
from marelle_chassis.web import (
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
    install_web_error_handlers,
    wants_json,
)

from marelle_gateway import api, pages
from marelle_gateway.api import privacy as privacy_api
from marelle_gateway.api import tickets, tickets_reservations
from marelle_gateway.pages import privacy as privacy_pages
from marelle_gateway.clients import Upstreams
from marelle_gateway.config import GatewaySettings
from marelle_gateway.rendering import STATIC_DIR, render
from marelle_gateway.session import CookieMiddleware, GatewayTokenVerifier, install_session_handlers

log = logging.getLogger(__name__)

# Error pages with their own wording; any other status gets the generic one.
ERROR_PAGES = (400, 403, 404, 500, 503)


def create_app(settings: GatewaySettings | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the app; `transport` replaces the network to the upstream services (tests)."""
    settings = settings or GatewaySettings()
    check_production(settings)
    revocations = Revocations(settings.revocation_memory_seconds)
    feed = (RevocationFeed(settings.kafka_bootstrap_servers, revocations,
                           client_id=settings.service_name)
            if settings.kafka_enabled else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        announce_mode(settings)
        if feed:
            feed.start()
        try:
            # As many connections as requests admitted (LoadSheddingMiddleware): a request
            # never queues minutes for a connection slot; when slots run out anyway (pages that
            # ask several services), a short pool timeout answers a French 503 at once.
            limits = httpx.Limits(max_connections=settings.max_in_flight,
                                  max_keepalive_connections=settings.max_in_flight)
            # aiohttp's pool under httpx's API: httpcore's pool scans every connection for
            # every request (most of the gateway's CPU in the rush benchmark, bench/rush.py).
            direct = None if transport else aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=settings.max_in_flight,
                                               keepalive_timeout=limits.keepalive_expiry))
            async with httpx.AsyncClient(transport=transport or AiohttpTransport(client=direct),
                                         limits=limits,
                                         timeout=httpx.Timeout(settings.upstream_timeout,
                                                               pool=1.0)
                                         ) as client:
                upstreams = Upstreams(client, settings.upstream_urls(), settings.proxy_secret,
                                      settings.queue_submissions_in_flight,
                                      wire=transport is None)
                app.state.upstreams = upstreams
                app.state.token_verifier = GatewayTokenVerifier(client, settings.jwks_url,
                                                                revocations)
                freeze_startup_heap()
                try:
                    yield
                finally:
                    upstreams.close()
        finally:
            if feed:
                await feed.stop()

    app = FastAPI(title="Marelle — API des familles", version="0.1.0", lifespan=lifespan,
                  telemetry=NO_TELEMETRY,
                  description="API JSON du portail des familles (Marelle). Authentification : "
                              "`Authorization: Bearer <jeton d'accès>` obtenu par "
                              "`POST /api/v1/auth/token`.",
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
                  license_info={"name": "AGPL-3.0-or-later"})
    offline_docs(app, "/api/v1/docs")
    app.state.settings = settings
    app.state.revocations = revocations
    # Innermost: the queue's submissions in the fast lane (chassis/fastlane.py), the other
    # middlewares applying to its answers too.
    app.add_middleware(FastLane, lanes=[*tickets.lanes, *tickets_reservations.lanes],
                       on_domain_error=_domain_error)
    app.add_middleware(CookieMiddleware)
    # Pages and API answers show a family's data: no browser or proxy keeps them.
    app.add_middleware(NoStoreMiddleware, exempt=("/static/",))
    app.add_middleware(SecurityHeadersMiddleware, hsts=not settings.is_development)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RefuseNulMiddleware)
    app.add_middleware(CorrelationIdMiddleware)
    # Outermost: beyond the bound, « réessayez » at once (503 + Retry-After), no work done.
    app.add_middleware(LoadSheddingMiddleware, max_in_flight=settings.max_in_flight)
    install_web_error_handlers(app, _error_page)
    app.add_exception_handler(DomainError, _domain_error)
    install_session_handlers(app, _csrf_page)

    checks = upstream_checks(list(settings.upstream_urls()),
                             lambda name: app.state.upstreams.check_live(name))
    if feed:
        async def revocations_read() -> None:
            feed.check()

        checks["revocations"] = revocations_read
    app.include_router(health_router(settings.service_name, checks))
    # The opening queue's routes before the others (matched in order; see api/__init__.py).
    app.include_router(tickets_reservations.router, prefix="/api/v1", tags=["parents"])  # #10
    app.include_router(api.router)
    app.include_router(privacy_api.router)  # GDPR (issue #11)
    document_api(app, relayed=True, prefix="/api/v1")
    app.include_router(pages.router)
    app.include_router(privacy_pages.router)  # GDPR (issue #11)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def check_production(settings: GatewaySettings) -> None:
    """A production start without a real proxy secret is refused (`UnsafeConfiguration`)."""
    refuse_unsafe_production(settings, {"MARELLE_PROXY_SECRET": settings.proxy_secret})
    if not settings.is_development and not settings.cookie_secure:
        log.warning("GATEWAY_COOKIE_SECURE=false in production: session cookies may travel "
                    "over plain HTTP")


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
