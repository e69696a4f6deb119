"""Staff session (identity's access token in a cookie) and CSRF protection of every form.

The session is the 15-minute staff access token itself, in an HttpOnly cookie: the back-office
keeps no server-side state. CSRF is a double submit (random cookie == hidden `csrf` field),
plus an `Origin` check; both cookies are SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from fastapi import Depends, Request
from starlette.responses import Response

from marelle_chassis.auth import Principal, TokenVerifier
from marelle_chassis.errors import Unauthorized
from marelle_chassis.revocations import Revocations

from marelle_backoffice.booking import Booking
from marelle_backoffice.clients import ServiceUnavailable, Services
from marelle_backoffice.enrolment import Enrolment
from marelle_backoffice.identity import Identity

SESSION_COOKIE = "marelle_staff"
CSRF_COOKIE = "marelle_staff_csrf"
CSRF_FIELD = "csrf"
ADMINISTRATOR = "administrator"
MANAGER = "manager"


class LoginRequired(Exception):
    """No usable session: redirect to the login page, then back to `suite`."""

    def __init__(self, suite: str, reason: str | None = None) -> None:
        super().__init__(reason)
        self.suite = suite
        self.reason = reason  # "expiree" or "invalide": shown as a notice on the login page


class NotStaff(Exception):
    """A valid token that is not a staff token (e.g. a parent's)."""


class AdministratorsOnly(Exception):
    """The staff member lacks the `administrator` role."""


class CsrfRejected(Exception):
    """A POST without the right CSRF token, or from another origin."""


@dataclass(frozen=True)
class StaffSession:
    token: str
    subject: str
    name: str
    email: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMINISTRATOR in self.roles


class StaffTokens:
    """Verifies staff tokens with identity's JWKS, fetched through the shared client.

    The chassis verifier fetches the JWKS with its own HTTP client; going through ours keeps the
    correlation id, the timeout and the tests' MockTransport. Refetched on an unknown `kid`
    (key rotation), at most every `min_refresh` seconds.
    """

    def __init__(self, services: Services, jwks_path: str = "/.well-known/jwks.json",
                 min_refresh: float = 30.0, revocations: Revocations | None = None) -> None:
        self.services = services
        self.jwks_path = jwks_path
        self.min_refresh = min_refresh
        # Ended sessions (logout here, account disabled, password changed): refused at once.
        self.revocations = revocations if revocations is not None else Revocations()
        self._verifier = TokenVerifier(jwks={"keys": []}, revocations=self.revocations)
        self._kids: set[str] = set()
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.min_refresh:
                return
            jwks = (await self.services.call("identity", "GET", self.jwks_path)).json()
            self._verifier = TokenVerifier(jwks=jwks, revocations=self.revocations)
            self._kids = {str(k.get("kid")) for k in jwks.get("keys", [])}
            self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        """Raises `Unauthorized` (bad or expired token), `ServiceUnavailable` (no JWKS)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise Unauthorized("Jeton d'accès illisible.") from None
        if kid not in self._kids:
            await self._refresh()
        return await self._verifier.verify(token)


def _claims(token: str) -> dict[str, Any]:
    """The payload without checking the signature: only after `verify`, or for the expiry notice."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}


def _expired(token: str) -> bool:
    exp = _claims(token).get("exp")
    return isinstance(exp, int | float) and exp <= time.time()


async def session_from_token(request: Request, token: str) -> StaffSession:
    """Verify a token for the back-office; raises `Unauthorized` or `NotStaff`."""
    principal = await request.app.state.staff_tokens.verify(token)
    if principal.kind != "staff":
        raise NotStaff()
    claims = _claims(token)
    return StaffSession(token=token, subject=principal.subject, name=str(claims.get("name") or ""),
                        email=str(claims.get("email") or ""), roles=principal.roles)


def safe_next(path: str | None) -> str:
    """A local path to go back to after login; anything else (other site, odd scheme) is `/`."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    if any(ord(c) < 0x20 for c in path) or urlsplit(path).netloc:
        return "/"
    return path


def here(request: Request) -> str:
    """Where to come back after login: this page, or for a POST the page the form was on."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}" == allowed_origin(request):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def login_url(suite: str, reason: str | None = None) -> str:
    params = {"suite": safe_next(suite)}
    if reason:
        params["motif"] = reason
    return "/connexion?" + urlencode(params)


async def optional_session(request: Request) -> StaffSession | None:
    """The staff session if the cookie holds a valid staff token, else None (public pages)."""
    if getattr(request.state, "session_checked", False):
        return request.state.staff
    staff = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            staff = await session_from_token(request, token)
        except (Unauthorized, NotStaff, ServiceUnavailable):
            staff = None
    request.state.staff = staff
    request.state.session_checked = True
    return staff


async def require_session(request: Request) -> StaffSession:
    """Dependency of every private page: the staff session, or a redirect to the login page."""
    if getattr(request.state, "staff", None):
        return request.state.staff
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired(here(request))
    try:
        staff = await session_from_token(request, token)
    except Unauthorized:
        raise LoginRequired(here(request), "expiree" if _expired(token) else "invalide") from None
    request.state.staff = staff
    return staff


async def require_administrator(staff: StaffSession = Depends(require_session)) -> StaffSession:
    if not staff.is_admin:
        raise AdministratorsOnly()
    return staff


def identity(request: Request, staff: StaffSession) -> Identity:
    client_ip = request.client.host if request.client else None
    return Identity(request.app.state.services, staff.token, client_ip)


def enrolment(request: Request, staff: StaffSession) -> Enrolment:
    client_ip = request.client.host if request.client else None
    return Enrolment(request.app.state.services, staff.token, client_ip)


def booking(request: Request, staff: StaffSession) -> Booking:
    client_ip = request.client.host if request.client else None
    return Booking(request.app.state.services, staff.token, client_ip)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    # No Max-Age: the cookie outlives the 15-minute token so that we can tell "expired" apart
    # from "never logged in"; the token's own `exp` is what ends the session.
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.app.state.settings.cookie_secure)


def forget_token(request: Request, token: str | None) -> None:
    """Logout: this process refuses the token from now on, whoever holds a copy of it."""
    exp = _claims(token).get("exp") if token else None
    if token and isinstance(exp, int | float):
        request.app.state.staff_tokens.revocations.revoke_token(token, float(exp))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", path="/",
                           secure=request.app.state.settings.cookie_secure)


# --- CSRF -------------------------------------------------------------------------------------

def _well_formed(value: str | None) -> bool:
    return (bool(value) and 32 <= len(value) <= 128
            and value.replace("-", "").replace("_", "").isalnum())


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms; a new one (cookie set by `render`) if none yet."""
    token = getattr(request.state, "csrf_token", None)
    if token:
        return token
    token = request.cookies.get(CSRF_COOKIE)
    if not _well_formed(token):
        token = new_csrf_token(request)
    request.state.csrf_token = token
    return token


def new_csrf_token(request: Request) -> str:
    """Draw a fresh token (first visit, or after login so a planted one cannot survive it)."""
    token = secrets.token_urlsafe(32)
    request.state.csrf_token = token
    request.state.csrf_new = True
    return token


def store_csrf_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "csrf_new", False):
        response.set_cookie(CSRF_COOKIE, request.state.csrf_token, httponly=True,
                            samesite="strict", path="/",
                            secure=request.app.state.settings.cookie_secure)


def allowed_origin(request: Request) -> str:
    configured = request.app.state.settings.public_origin.rstrip("/")
    if configured:
        return configured
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


async def check_csrf(request: Request) -> None:
    """Dependency of every page router: on POST, same origin and matching double-submit token."""
    if request.method != "POST":
        return
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != allowed_origin(request):
        raise CsrfRejected()
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = (await request.form()).get(CSRF_FIELD)
    if not (_well_formed(cookie) and isinstance(sent, str)
            and secrets.compare_digest(cookie.encode(), sent.encode())):
        raise CsrfRejected()
