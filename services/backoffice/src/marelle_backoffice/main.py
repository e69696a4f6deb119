"""Composition root of the back-office: settings, service client, routes, errors, static files."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from marelle_chassis.health import health_router, upstream_checks
from marelle_chassis.http import NO_TELEMETRY, CorrelationIdMiddleware, NoStoreMiddleware
from marelle_chassis.revocations import RevocationFeed, Revocations
from marelle_chassis.settings import announce_mode, refuse_unsafe_production
from marelle_chassis.web import SecurityHeadersMiddleware, install_web_error_handlers

from marelle_backoffice import api, pages
from marelle_backoffice.pages import privacy as privacy_pages
from marelle_backoffice.clients import (
    ServiceUnavailable,
    Services,
    SessionRejected,
    UpstreamProblem,
)
from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.rendering import STATIC_DIR, render
from marelle_backoffice.session import (
    AdministratorsOnly,
    CsrfRejected,
    LoginRequired,
    NotStaff,
    StaffTokens,
    clear_session_cookie,
    here,
    login_url,
)

log = logging.getLogger(__name__)


def create_app(settings: BackofficeSettings | None = None,
               transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build the app; `transport` replaces the network to the services (tests)."""
    settings = settings or BackofficeSettings()
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
            async with httpx.AsyncClient(transport=transport,
                                         timeout=httpx.Timeout(settings.upstream_timeout)
                                         ) as client:
                app.state.services = Services(client, settings.upstream_urls(),
                                              settings.proxy_secret)
                app.state.staff_tokens = StaffTokens(app.state.services,
                                                     revocations=revocations)
                yield
        finally:
            if feed:
                await feed.stop()

    app = FastAPI(title="Marelle — API des agents", version="0.1.0", lifespan=lifespan,
                  telemetry=NO_TELEMETRY,
                  description="API JSON du back-office (Marelle).",
                  openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs", redoc_url=None,
                  license_info={"name": "AGPL-3.0-or-later"})
    app.state.settings = settings
    # Staff pages show families' data: no browser or proxy keeps them (static files excepted).
    app.add_middleware(NoStoreMiddleware, exempt=("/static/",))
    app.add_middleware(SecurityHeadersMiddleware, hsts=not settings.is_development)
    app.add_middleware(CorrelationIdMiddleware)
    install_web_error_handlers(app, _error_page)
    _install_session_handlers(app)

    checks = upstream_checks(list(settings.upstream_urls()),
                             lambda name: app.state.services.check_live(name))
    if feed:
        async def revocations_read() -> None:
            feed.check()

        checks["revocations"] = revocations_read
    app.include_router(health_router(settings.service_name, checks))
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(privacy_pages.router)  # GDPR (issue #11)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def check_production(settings: BackofficeSettings) -> None:
    """A production start without a real proxy secret is refused (`UnsafeConfiguration`)."""
    refuse_unsafe_production(settings, {"MARELLE_PROXY_SECRET": settings.proxy_secret})
    if not settings.is_development and not settings.cookie_secure:
        log.warning("BACKOFFICE_COOKIE_SECURE=false in production: session cookies may travel "
                    "over plain HTTP")


def _error_page(request: Request, status: int, kind: str | None = None,
                detail: str | None = None) -> Response:
    kind = kind or (str(status) if status in (400, 403, 404, 500, 503) else "other")
    return render(request, "error.html", page=None, status_code=status, status=status, kind=kind,
                  detail=detail)


def _install_session_handlers(app: FastAPI) -> None:
    """What the session, CSRF and upstream failures look like to a staff member."""

    def to_login(request: Request, suite: str, reason: str | None) -> Response:
        response = RedirectResponse(login_url(suite, reason), status_code=303)
        clear_session_cookie(request, response)
        return response

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return to_login(request, exc.suite, exc.reason)

    @app.exception_handler(SessionRejected)
    async def session_rejected(request: Request, exc: SessionRejected) -> Response:
        # The token passed our check but not the service's: it expired in between.
        return to_login(request, here(request), "expiree")

    @app.exception_handler(NotStaff)
    async def not_staff(request: Request, exc: NotStaff) -> Response:
        response = _error_page(request, 403, "not_staff")
        clear_session_cookie(request, response)
        return response

    @app.exception_handler(AdministratorsOnly)
    async def administrators_only(request: Request, exc: AdministratorsOnly) -> Response:
        return _error_page(request, 403, "admin_only")

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> Response:
        return _error_page(request, 403, "csrf")

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        return _error_page(request, 503, "unavailable")

    @app.exception_handler(UpstreamProblem)
    async def upstream_problem(request: Request, exc: UpstreamProblem) -> Response:
        # 404 and 403 mean the same here as there; anything else is a call we should not make.
        if exc.status in (403, 404):
            return _error_page(request, exc.status, detail=exc.detail)
        return _error_page(request, 502, "other", detail=exc.detail)
