"""The parents' web session and the CSRF protection of the portal's forms, in one place.

- `marelle_session`: identity's access token (JWT, 15 min), verified here with identity's JWKS.
- `marelle_refresh`: identity's refresh token (single use); exchanged for new tokens when the
  access token is missing or expired, the new cookies riding on whatever response is sent.
- `marelle_csrf`: a random double-submit token, echoed by every form in the `csrf` field.

Cookies are queued on the request (`queue_cookie`) and written by `CookieMiddleware`, so a
page, a redirect or an error page all carry them without each handler thinking about it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import jwt
from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from marelle_chassis.auth import TokenVerifier
from marelle_chassis.errors import Unauthorized
from marelle_chassis.http import outgoing_headers
from marelle_chassis.revocations import Revocations

from marelle_gateway.identity import IDENTITY_DOWN, IdentityClient, UpstreamUnavailable

log = logging.getLogger(__name__)

SESSION_COOKIE = "marelle_session"
REFRESH_COOKIE = "marelle_refresh"
CSRF_COOKIE = "marelle_csrf"
CSRF_FIELD = "csrf"

_PENDING = "marelle_pending_cookies"
_CSRF_NEW = "marelle_csrf_new"


# --- Cookies written on the way out -------------------------------------------------------

def _state(request: Request) -> dict[str, Any]:
    return request.scope.setdefault("state", {})


def queue_cookie(request: Request, name: str, value: str, *, samesite: str) -> None:
    """Set a browser-session cookie (no Max-Age) on the response, HttpOnly, Path=/."""
    # Browser-session cookies on purpose: families often use shared computers; closing the
    # browser must end the session, whatever the refresh token's own 30-day life.
    secure = request.app.state.settings.cookie_secure
    header = Response()
    header.set_cookie(name, value, path="/", httponly=True, samesite=samesite, secure=secure)
    _queue(request, name, header)


def queue_deletion(request: Request, name: str, *, samesite: str) -> None:
    header = Response()
    header.delete_cookie(name, path="/", httponly=True, samesite=samesite,
                         secure=request.app.state.settings.cookie_secure)
    _queue(request, name, header)


def _queue(request: Request, name: str, header: Response) -> None:
    pending: dict[str, bytes] = _state(request).setdefault(_PENDING, {})
    # Keyed by name: the last decision about a cookie wins (e.g. refresh then logout).
    pending[name] = next(v for k, v in header.raw_headers if k == b"set-cookie")


class CookieMiddleware:
    """Adds the cookies queued during the request to the response, whatever produced it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The dict is shared by reference with every Request built on this scope.
        state = scope.setdefault("state", {})

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                for value in state.get(_PENDING, {}).values():
                    headers.append((b"set-cookie", value))
            await send(message)

        await self.app(scope, receive, send_with_cookies)


# --- CSRF -----------------------------------------------------------------------------------

class CsrfRejected(Exception):
    """A POST without the right token, or from another origin: refused with a French 403."""


def csrf_token(request: Request) -> str:
    """The token to put in a form: the browser's, or a new one sent with this response."""
    state = _state(request)
    if _CSRF_NEW in state:
        return state[_CSRF_NEW]
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) >= 32:
        return current
    return rotate_csrf(request)


def rotate_csrf(request: Request) -> str:
    token = secrets.token_urlsafe(32)
    _state(request)[_CSRF_NEW] = token
    queue_cookie(request, CSRF_COOKIE, token, samesite="strict")
    return token


def _expected_origin(request: Request) -> tuple[str, str] | None:
    public = request.app.state.settings.public_url
    if public:
        parts = urlsplit(public)
        return parts.scheme.lower(), parts.netloc.lower()
    return None


def _same_origin(origin: str, request: Request) -> bool:
    parts = urlsplit(origin)
    expected = _expected_origin(request)
    if expected:
        return (parts.scheme.lower(), parts.netloc.lower()) == expected
    # Without a configured public URL, compare hosts only: behind a TLS proxy the scheme the
    # gateway sees (http) differs from the browser's (https).
    return bool(parts.netloc) and parts.netloc.lower() == request.headers.get("host", "").lower()


async def csrf_guard(request: Request) -> None:
    """Router dependency: every POST of the portal must carry the double-submit token."""
    if request.method != "POST":
        return
    origin = request.headers.get("origin")
    if origin is not None and not _same_origin(origin, request):
        log.warning("POST %s refused: foreign origin %r", request.url.path, origin[:100])
        raise CsrfRejected
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not (isinstance(sent, str) and cookie
            and hmac.compare_digest(sent.encode(), cookie.encode())):
        log.warning("POST %s refused: missing or wrong CSRF token", request.url.path)
        raise CsrfRejected


# --- Tokens ---------------------------------------------------------------------------------

class GatewayTokenVerifier(TokenVerifier):
    """The chassis verifier, fetching the JWKS over the gateway's shared client.

    The shared client carries the test transport and the correlation id; and an unreachable
    identity is a 503 (`UpstreamUnavailable`), not a silent logout.
    """

    def __init__(self, client: httpx.AsyncClient, jwks_url: str,
                 revocations: Revocations | None = None) -> None:
        super().__init__(jwks_url, revocations=revocations)
        self._client = client

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._min_refresh and self._keys:
                return
            try:
                response = await self._client.get(str(self.jwks_url), headers=outgoing_headers())
                response.raise_for_status()
                self._load(response.json())
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                log.warning("JWKS unavailable: %s", type(exc).__name__)
                raise UpstreamUnavailable(IDENTITY_DOWN) from exc
            self._fetched_at = time.monotonic()


@dataclass(frozen=True)
class Session:
    """A verified parent: the family id always comes from here, never from the request."""

    access_token: str
    account_id: str
    family_id: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None

    @classmethod
    def from_body(cls, body: Any) -> Tokens:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ValueError("no access token in identity's answer")
        refresh = body.get("refresh_token")
        return cls(body["access_token"], refresh if isinstance(refresh, str) else None)


def identity_of(request: Request) -> IdentityClient:
    return request.app.state.upstreams.identity


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def session_from_token(request: Request, token: str) -> Session:
    """Verify an access token and keep only a parent's (`Unauthorized` otherwise)."""
    principal = await request.app.state.token_verifier.verify(token)
    if principal.kind != "parent" or principal.family_id is None:
        raise Unauthorized("Ce compte n'est pas un compte famille.")
    return Session(access_token=token, account_id=principal.subject,
                   family_id=str(principal.family_id),
                   name=getattr(principal, "name", None), email=getattr(principal, "email", None))


def start_session(request: Request, tokens: Tokens) -> None:
    queue_cookie(request, SESSION_COOKIE, tokens.access_token, samesite="lax")
    if tokens.refresh_token:
        queue_cookie(request, REFRESH_COOKIE, tokens.refresh_token, samesite="strict")
    # A new CSRF token per login: one planted before login is worth nothing after.
    rotate_csrf(request)


def forget_access_token(request: Request, token: str | None) -> None:
    """Logout: this process refuses the access token at once, whoever still holds a copy.

    Other processes and the services learn it from identity's `sessions_revoked` event (the
    refresh chain is revoked by identity's logout); this record covers the time the event takes,
    and an identity that is unreachable at logout."""
    if not token:
        return
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return
    revocations = getattr(request.app.state, "revocations", None)
    if revocations is not None and isinstance(exp, int | float):
        revocations.revoke_token(token, float(exp))


def end_session(request: Request) -> None:
    queue_deletion(request, SESSION_COOKIE, samesite="lax")
    queue_deletion(request, REFRESH_COOKIE, samesite="strict")
    _state(request)["session"] = None


async def _resolve(request: Request) -> Session | None:
    access = request.cookies.get(SESSION_COOKIE)
    if access:
        try:
            return await session_from_token(request, access)
        except Unauthorized:
            pass  # expired (most often): try the refresh token
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not refresh:
        if access:
            end_session(request)
        return None
    response = await identity_of(request).send("POST", "/auth/refresh",
                                               json={"refresh_token": refresh},
                                               client_ip=client_ip(request))
    if 400 <= response.status_code < 500:
        end_session(request)
        return None
    try:
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        tokens = Tokens.from_body(response.json())
    except ValueError as exc:
        log.warning("refresh failed: %s", exc)
        raise UpstreamUnavailable(IDENTITY_DOWN) from exc
    # Kept before anything else can fail: the old refresh token is spent already.
    queue_cookie(request, SESSION_COOKIE, tokens.access_token, samesite="lax")
    if tokens.refresh_token:
        queue_cookie(request, REFRESH_COOKIE, tokens.refresh_token, samesite="strict")
    try:
        return await session_from_token(request, tokens.access_token)
    except Unauthorized:
        end_session(request)
        return None


async def resolve_session(request: Request) -> Session | None:
    """The parent behind this request, once per request (a refresh token is single use)."""
    state = _state(request)
    if "session" not in state:
        state["session"] = await _resolve(request)
    return state["session"]


class LoginRequired(Exception):
    def __init__(self, request: Request) -> None:
        super().__init__()
        # After login, come back here; a POST comes back to its form (same path, GET).
        self.suite = request.url.path
        if request.method == "GET" and request.url.query:
            self.suite += "?" + request.url.query


async def parent_session(request: Request) -> Session:
    """Dependency of private pages: the session, or a 303 to the login page."""
    session = await resolve_session(request)
    if session is None:
        raise LoginRequired(request)
    return session


async def optional_session(request: Request) -> Session | None:
    """Dependency of public pages (the header shows the logout button when logged in)."""
    try:
        return await resolve_session(request)
    except UpstreamUnavailable:
        return None


def current_session(request: Request) -> Session | None:
    """What `resolve_session` found, if it ran (for the page header)."""
    return _state(request).get("session")


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path of this portal (no open redirect), else None."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_url(suite: str | None) -> str:
    suite = safe_next(suite)
    return "/?suite=" + quote(suite, safe="/") if suite and suite != "/" else "/"


def install_session_handlers(app: FastAPI, csrf_page: Any) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return RedirectResponse(login_url(exc.suite), status_code=303)

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        return csrf_page(request)

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfRejected, csrf_rejected)
