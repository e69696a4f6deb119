"""Staff login and logout (identity's `POST /auth/staff/token` and `/auth/logout`; no
refresh token for staff), the change of a one-time password before the first login
(identity's `POST /auth/staff/password`, no session needed), and the first TOTP enrolment of an
administrator when the city requires it (identity's `totp_a_configurer` and its
`jeton_configuration`, a token that opens only `/auth/staff/totp`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_chassis.errors import Unauthorized

from marelle_backoffice.clients import ServiceUnavailable, SessionRejected, UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.identity import Identity, staff_change_password, staff_token
from marelle_backoffice.pages.common import client_ip
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    SESSION_COOKIE,
    NotStaff,
    clear_session_cookie,
    forget_token,
    new_csrf_token,
    safe_next,
    session_from_token,
    set_session_cookie,
    store_csrf_cookie,
)

log = logging.getLogger(__name__)
router = APIRouter()

NOTICES = ("expiree", "invalide", "deconnexion", "mot_de_passe_change", "totp_active")
# Identity's `raison` when the right password is a one-time one that must be replaced first.
MUST_CHANGE = "mot_de_passe_a_changer"
# Identity's `raison` when the account has a TOTP second factor and the code is missing or wrong.
TOTP_NEEDED = "code_totp_requis"
PASSWORD_PAGE = "/connexion/nouveau-mot-de-passe"
# Identity's `raison` when an administrator must set a second factor up before any session.
TOTP_TO_SET_UP = "totp_a_configurer"
ENROL_PAGE = "/connexion/double-authentification"
# The enrolment token between the page showing the secret and the confirmation: an HttpOnly
# cookie of the login pages only (never in the page), as short-lived as the token (10 min).
ENROL_COOKIE = "marelle_staff_totp"
ENROL_COOKIE_SECONDS = 600
# Identity's 422/400 field names -> our input ids (password change form).
PASSWORD_FIELDS = {"email": "identifiant", "current_password": "mot-de-passe-actuel",
                   "new_password": "nouveau-mot-de-passe"}


def _login_page(request: Request, *, identifier: str = "", suite: str = "/",
                errors: FormErrors | None = None, status_code: int = 200,
                notice: str | None = None) -> HTMLResponse:
    return render(request, "login.html", page=None, status_code=status_code,
                  identifier=identifier, suite=safe_next(suite), errors=errors or FormErrors(),
                  notice=notice)


def _totp_page(request: Request, *, identifier: str, suite: str, errors: FormErrors,
               notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The login form with the « Code de vérification » field (identity asked for it)."""
    return render(request, "login_totp.html", page=None, status_code=status_code,
                  identifier=identifier, suite=safe_next(suite), errors=errors, notice=notice)


@router.get("/connexion")
async def login_form(request: Request, suite: str = "/", motif: str = "") -> HTMLResponse:
    return _login_page(request, suite=suite, notice=motif if motif in NOTICES else None)


@router.post("/connexion")
async def login(request: Request) -> Response:
    t = Translator()
    form = await request.form()
    identifier = text(form, "identifiant")
    password = form.get("mot_de_passe")
    password = password if isinstance(password, str) else ""
    suite = safe_next(text(form, "suite"))
    # Present only on the form shown once identity asked for the second factor.
    code = text(form, "code_totp") if "code_totp" in form else None
    errors = FormErrors()
    if not identifier:
        errors.add("identifiant", t("login.error.identifier"))
    if not password:
        errors.add("mot-de-passe", t("login.error.password"))
    if code == "":
        errors.add("code-totp", t("login.error.totp_code"))
    if errors:
        if code is not None:
            return _totp_page(request, identifier=identifier, suite=suite, errors=errors,
                              status_code=422)
        return _login_page(request, identifier=identifier, suite=suite, errors=errors,
                           status_code=422)
    try:
        tokens = await staff_token(request.app.state.services, identifier, password,
                                   client_ip(request), code or None)
        staff = await session_from_token(request, str(tokens["access_token"]))
    except UpstreamProblem as problem:
        if problem.status == 401 and problem.reason == TOTP_NEEDED:
            # The right password, and the account has a second factor: ask for the code (the
            # password is typed again: it is never kept in the page).
            if code is None:
                return _totp_page(request, identifier=identifier, suite=suite, errors=errors,
                                  notice=problem.detail)
            errors.add("code-totp", problem.detail or t("login.error.totp_code"))
            return _totp_page(request, identifier=identifier, suite=suite, errors=errors,
                              status_code=422)
        if problem.status == 403 and problem.reason == TOTP_TO_SET_UP:
            setup_token = problem.extra.get("jeton_configuration")
            if isinstance(setup_token, str) and setup_token:
                return await _start_enrolment(request, setup_token, notice=problem.detail)
        if problem.status == 403 and problem.reason == MUST_CHANGE:
            # The right one-time password: it opens no session, it must be replaced first.
            return _password_page(request, identifier=identifier, notice=problem.detail)
        # 401 wrong credentials, 403 disabled account, 429 throttled: identity's French
        # sentence is the message.
        errors.general.append(problem.detail or t("login.error.refused"))
        response = _login_page(request, identifier=identifier, suite=suite, errors=errors,
                               status_code=problem.status if problem.status in (403, 429)
                               else 422)
        if problem.retry_after:
            response.headers["retry-after"] = problem.retry_after
        return response
    except ServiceUnavailable:
        errors.general.append(t("login.error.unavailable"))
        return _login_page(request, identifier=identifier, suite=suite, errors=errors,
                           status_code=503)
    except (NotStaff, Unauthorized, KeyError):
        errors.general.append(t("login.error.not_staff"))
        return _login_page(request, identifier=identifier, suite=suite, errors=errors,
                           status_code=422)
    response = RedirectResponse(suite, status_code=303)
    set_session_cookie(request, response, staff.token)
    # A new CSRF token at login: one planted before the session cannot be used within it.
    new_csrf_token(request)
    store_csrf_cookie(request, response)
    return response


def _enrol_page(request: Request, *, setup: dict[str, Any] | None, notice: str | None = None,
                errors: FormErrors | None = None, status_code: int = 200) -> HTMLResponse:
    response = render(request, "login_totp_setup.html", page=None, status_code=status_code,
                      setup=setup, notice=notice, errors=errors or FormErrors())
    # The secret is on this page: never kept by a browser or a proxy cache.
    response.headers["cache-control"] = "no-store"
    return response


def _enrol_cookie(request: Request, response: Response, token: str | None) -> None:
    secure = request.app.state.settings.cookie_secure
    if token is None:
        response.delete_cookie(ENROL_COOKIE, httponly=True, samesite="strict", path=ENROL_PAGE,
                               secure=secure)
    else:
        response.set_cookie(ENROL_COOKIE, token, max_age=ENROL_COOKIE_SECONDS, httponly=True,
                            samesite="strict", path=ENROL_PAGE, secure=secure)


async def _start_enrolment(request: Request, setup_token: str, *,
                           notice: str | None) -> Response:
    """The right password of an administrator without the required second factor: a new secret
    (identity's `POST /auth/staff/totp/setup` with the enrolment token), shown with the form
    that confirms it. No session is opened."""
    t = Translator()
    client = Identity(request.app.state.services, setup_token, client_ip(request))
    try:
        setup = await client.totp_setup()
    except ServiceUnavailable:
        errors = FormErrors()
        errors.general.append(t("login.error.unavailable"))
        return _login_page(request, errors=errors, status_code=503)
    except (SessionRejected, UpstreamProblem):
        errors = FormErrors()
        errors.general.append(t("login_totp_setup.error.expired"))
        return _login_page(request, errors=errors, status_code=422)
    response = _enrol_page(request, setup=setup, notice=notice)
    _enrol_cookie(request, response, setup_token)
    return response


@router.post(ENROL_PAGE)
async def confirm_enrolment(request: Request) -> Response:
    """The first code of the new second factor (identity's `POST /auth/staff/totp/confirm`);
    then back to the login, where the password and a code open the session."""
    t = Translator()
    setup_token = request.cookies.get(ENROL_COOKIE)
    if not setup_token:
        return RedirectResponse("/connexion?motif=expiree", status_code=303)
    code = text(await request.form(), "code")
    errors = FormErrors()
    if not code:
        errors.add("code", t("totp.error.code"))
        return _enrol_page(request, setup=None, errors=errors, status_code=422)
    try:
        await Identity(request.app.state.services, setup_token,
                       client_ip(request)).totp_confirm(code)
    except SessionRejected:  # the 10 minutes are over: log in again for a new secret
        response = RedirectResponse("/connexion?motif=expiree", status_code=303)
        _enrol_cookie(request, response, None)
        return response
    except ServiceUnavailable:
        errors.general.append(t("login.error.unavailable"))
        return _enrol_page(request, setup=None, errors=errors, status_code=503)
    except UpstreamProblem as problem:
        # 422 wrong code, 409 nothing pending, 429 throttled: identity's French sentence.
        errors.add_problem(problem, {"code": "code"}, t("totp.error.refused"))
        response = _enrol_page(request, setup=None, errors=errors,
                               status_code=problem.status if problem.status in (409, 429)
                               else 422)
        if problem.retry_after:
            response.headers["retry-after"] = problem.retry_after
        return response
    response = RedirectResponse("/connexion?motif=totp_active", status_code=303)
    _enrol_cookie(request, response, None)
    return response


def _secret(form: Any, name: str) -> str:
    """A password field as typed (never stripped: spaces are part of a password)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _password_page(request: Request, *, identifier: str = "", notice: str | None = None,
                   errors: FormErrors | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "login_password.html", page=None, status_code=status_code,
                  identifier=identifier, notice=notice, errors=errors or FormErrors())


@router.get(PASSWORD_PAGE)
async def password_form(request: Request) -> HTMLResponse:
    return _password_page(request)


@router.post(PASSWORD_PAGE)
async def change_password(request: Request) -> Response:
    """Replace a one-time password: identity checks the current one (throttled like a login);
    then back to the login page, the new password opens the session."""
    t = Translator()
    form = await request.form()
    identifier = text(form, "identifiant")
    current, new, confirmation = (_secret(form, name) for name in
                                  ("mot_de_passe_actuel", "nouveau_mot_de_passe", "confirmation"))
    errors = FormErrors()
    if not identifier:
        errors.add("identifiant", t("login.error.identifier"))
    if not current:
        errors.add("mot-de-passe-actuel", t("password_change.error.current"))
    if not new:
        errors.add("nouveau-mot-de-passe", t("password_change.error.new"))
    elif new != confirmation:
        errors.add("confirmation", t("password_change.error.confirmation"))
    if errors:
        return _password_page(request, identifier=identifier, errors=errors, status_code=422)
    try:
        await staff_change_password(request.app.state.services, identifier, current, new,
                                    client_ip(request))
    except UpstreamProblem as problem:
        # 400 wrong current password, 422 weak or unchanged, 403 disabled, 429 throttled.
        errors.add_problem(problem, PASSWORD_FIELDS, t("password_change.error.refused"))
        response = _password_page(request, identifier=identifier, errors=errors,
                                  status_code=problem.status
                                  if problem.status in (400, 403, 429) else 422)
        if problem.retry_after:
            response.headers["retry-after"] = problem.retry_after
        return response
    except ServiceUnavailable:
        errors.general.append(t("login.error.unavailable"))
        return _password_page(request, identifier=identifier, errors=errors, status_code=503)
    return RedirectResponse("/connexion?motif=mot_de_passe_change", status_code=303)


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    # Refused here at once, whoever kept a copy of the cookie...
    forget_token(request, token)
    if token:
        # ...and everywhere once identity has published the end of the session.
        try:
            await request.app.state.services.call("identity", "POST", "/auth/logout",
                                                  token=token, client_ip=client_ip(request))
        except (ServiceUnavailable, UpstreamProblem, SessionRejected) as exc:
            log.warning("staff logout: identity did not end the session (%s)",
                        type(exc).__name__)
    response = RedirectResponse("/connexion?motif=deconnexion", status_code=303)
    clear_session_cookie(request, response)
    return response
