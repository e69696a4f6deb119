"""Shared pieces of the two web apps (parent portal, back-office): HTML error pages for people,
problem+json for API paths, and conservative browser security headers."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marelle_chassis.errors import install_problem_handlers

log = logging.getLogger(__name__)

# Paths answered in JSON (problem+json on error); every other path is a page for people.
JSON_PREFIXES = ("/api/", "/health/")

ErrorPage = Callable[[Request, int], Response]


def wants_json(request: Request, prefixes: tuple[str, ...] = JSON_PREFIXES) -> bool:
    return request.url.path.startswith(prefixes)


def install_web_error_handlers(app: FastAPI, error_page: ErrorPage,
                               prefixes: tuple[str, ...] = JSON_PREFIXES) -> None:
    """problem+json (the chassis' handlers) under `prefixes`, French HTML pages elsewhere."""
    install_problem_handlers(app)
    json_http = app.exception_handlers[StarletteHTTPException]
    json_validation = app.exception_handlers[RequestValidationError]
    json_unexpected = app.exception_handlers[Exception]

    def page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
        try:
            response = error_page(request, status)
        except Exception:  # the error page itself failed: still no stack trace for people
            log.exception("error page failed on %s", request.url.path)
            response = PlainTextResponse(
                "Une erreur inattendue est survenue. Réessayez plus tard.", status_code=500)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        if wants_json(request, prefixes):
            return await json_http(request, exc)
        assert isinstance(exc, StarletteHTTPException)
        return page(request, exc.status_code, dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        if wants_json(request, prefixes):
            return await json_validation(request, exc)
        return page(request, 400)

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        if wants_json(request, prefixes):
            return await json_unexpected(request, exc)
        log.exception("unhandled error on %s", request.url.path)
        return page(request, 500)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)


class SecurityHeadersMiddleware:
    """nosniff and a same-origin referrer everywhere; a strict CSP (no script, no CDN) on pages."""

    PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

    # Two years, subdomains included: once a browser has seen the portal over HTTPS it never
    # talks to it over plain HTTP again (no cookie or form sent in clear on a café's Wi-Fi).
    HSTS = b"max-age=63072000; includeSubDomains"

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = JSON_PREFIXES,
                 hsts: bool = False) -> None:
        self.app = app
        self.prefixes = prefixes
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_page = not scope["path"].startswith(self.prefixes)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                if is_page:
                    headers.append((b"content-security-policy", self.PAGE_CSP.encode()))
                if self.hsts:
                    headers.append((b"strict-transport-security", self.HSTS))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with a French 413 (problem+json), by the declared
    Content-Length or, when it is absent or lies, as the body streams in. `exempt` path prefixes
    (documented uploads) have no limit here."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and scope["path"].startswith(self.exempt)):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTP error, so the app's handlers answer it (problem+json or a page).
                    raise _TooLarge(413, self._detail())
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from marelle_chassis.errors import problem

        response = problem(413, "Requête trop volumineuse", self._detail(),
                           code="requete-trop-volumineuse", instance=scope["path"])
        await response(scope, receive, send)

    def _detail(self) -> str:
        limit = (f"{self.max_bytes // 1024} Kio" if self.max_bytes < 1 << 20
                 else f"{self.max_bytes / (1 << 20):g} Mio")
        return f"Le contenu envoyé dépasse la taille permise ({limit})."


class _TooLarge(StarletteHTTPException):
    pass
