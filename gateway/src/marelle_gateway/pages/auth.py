"""Login, logout, forgotten password, reset and invitation links, first sign-up."""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_gateway.forms import (
    UPSTREAM_LANGUAGE,
    FormErrors,
    check_new_password,
    form_values,
    require,
)
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable, problem_of
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import (
    REFRESH_COOKIE,
    SESSION_COOKIE,
    Session,
    Tokens,
    client_ip,
    end_session,
    forget_access_token,
    identity_of,
    optional_session,
    rotate_csrf,
    safe_next,
    start_session,
)

log = logging.getLogger(__name__)
router = APIRouter()

AFTER_LOGIN = "/tableau-de-bord"
# `/?message=<name>`: the notices the home page may show after a redirect (allow-list).
HOME_NOTICES = {
    "deconnexion": "login.notice.logged_out",
    "mot-de-passe-modifie": "login.notice.password_reset",
    "compte-active": "login.notice.invitation_accepted",
    "inscription": "login.notice.signup_sent",
    "adresse-confirmee": "login.notice.address_confirmed",
}


def login_page(request: Request, *, identifier: str = "", suite: str | None = None,
               errors: FormErrors | None = None, notice_key: str | None = None,
               status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return render(request, "home.html", page="home", identifier=identifier,
                  suite=safe_next(suite) or "", errors=errors or FormErrors(),
                  notice_key=notice_key, status_code=status_code, headers=headers)


@router.get("/")
async def home(request: Request, suite: str | None = None, message: str | None = None,
               session: Session | None = Depends(optional_session)) -> Response:
    target = safe_next(suite)
    if session and target:
        return RedirectResponse(target, status_code=303)
    return login_page(request, suite=target, notice_key=HOME_NOTICES.get(message or ""))


@router.get("/connexion")
async def login_form() -> RedirectResponse:
    return RedirectResponse("/", status_code=303)


@router.post("/connexion")
async def login(request: Request) -> Response:
    t = translator(request)
    values = await form_values(request, "identifiant", "mot_de_passe", "suite",
                               raw=("mot_de_passe",))
    identifier, suite = values["identifiant"], values["suite"]
    errors = FormErrors()
    if not identifier:
        errors.add("identifiant", t("login.error.identifier"))
    if not values["mot_de_passe"]:
        errors.add("mot-de-passe", t("login.error.password"))
    if errors:
        return login_page(request, identifier=identifier, suite=suite, errors=errors,
                          status_code=422)
    try:
        response = await identity_of(request).send(
            "POST", "/auth/token", json={"email": identifier, "password": values["mot_de_passe"]},
            client_ip=client_ip(request))
        if response.status_code == 200:
            start_session(request, Tokens.from_body(response.json()))
            return RedirectResponse(safe_next(suite) or AFTER_LOGIN, status_code=303)
        if response.status_code >= 500:
            raise UpstreamUnavailable(f"HTTP {response.status_code}")
    except (UpstreamUnavailable, ValueError):
        errors.top(t("error.identity_down"))
        return login_page(request, identifier=identifier, suite=suite, errors=errors,
                          status_code=503)
    problem = problem_of(response)
    headers = None
    if problem.status == 429:
        errors.top(_throttled_message(problem, t), UPSTREAM_LANGUAGE if problem.detail else None)
        if problem.retry_after is not None:
            headers = {"Retry-After": str(problem.retry_after)}
    else:
        errors.top(problem.detail or t("login.error.credentials"),
                   UPSTREAM_LANGUAGE if problem.detail else None)
    # 400 rather than identity's 401: a page, not an HTTP authentication challenge.
    return login_page(request, identifier=identifier, suite=suite, errors=errors,
                      status_code=429 if problem.status == 429 else 400, headers=headers)


def _throttled_message(problem: UpstreamProblem, t) -> str:
    minutes = math.ceil(problem.retry_after / 60) if problem.retry_after else None
    if problem.detail:
        if minutes and not any(c.isdigit() for c in problem.detail):
            return f"{problem.detail} {t('login.error.wait', minutes=minutes)}"
        return problem.detail
    return t("login.error.wait", minutes=minutes or 1)


@router.get("/deconnexion")
async def logout_form() -> RedirectResponse:
    # Logging out changes state: only the POST (with its CSRF token) does it.
    return RedirectResponse("/", status_code=303)


@router.post("/deconnexion")
async def logout(request: Request) -> RedirectResponse:
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh:
        try:
            await identity_of(request).send("POST", "/auth/logout",
                                            json={"refresh_token": refresh})
        except UpstreamUnavailable:
            # The cookies go anyway; the refresh token dies on its own after 30 days.
            log.warning("logout: identity unreachable, refresh token not revoked")
    forget_access_token(request, request.cookies.get(SESSION_COOKIE))
    end_session(request)
    rotate_csrf(request)
    return RedirectResponse("/?message=deconnexion", status_code=303)


# --- Forgotten password -------------------------------------------------------------------

@router.get("/mot-de-passe-oublie", dependencies=[Depends(optional_session)])
async def forgotten_password_form(request: Request) -> HTMLResponse:
    return render(request, "forgotten_password.html", page=None, email="", errors=FormErrors(),
                  sent=False)


@router.post("/mot-de-passe-oublie")
async def forgotten_password(request: Request) -> HTMLResponse:
    t = translator(request)
    values = await form_values(request, "email")
    errors, status = FormErrors(), 422
    if not values["email"]:
        errors.add("email", t("forgotten.error.email"))
    else:
        try:
            response = await identity_of(request).send(
                "POST", "/auth/password-reset", json={"email": values["email"]},
                client_ip=client_ip(request))
        except UpstreamUnavailable:
            response = None
        if response is None or response.status_code >= 500:
            errors.top(t("error.identity_down"))
            status = 503
        elif response.status_code == 422:
            errors.add_problem(problem_of(response), {"email": "email"})
        elif response.status_code == 429:
            errors.top(problem_of(response).detail or t("error.too_many"), UPSTREAM_LANGUAGE)
            status = 429
    if errors:
        return render(request, "forgotten_password.html", page=None, email=values["email"],
                      errors=errors, sent=False, status_code=status)
    # The same sentence whether or not the address has an account.
    return render(request, "forgotten_password.html", page=None, email="", errors=errors,
                  sent=True)


# --- Links received by e-mail: new password, invitation ------------------------------------

LINKS = {
    # purpose -> (path, identity's endpoint, notice on the login page)
    "reset": ("/mot-de-passe/nouveau", "/auth/password-reset/confirm", "mot-de-passe-modifie"),
    "invitation": ("/invitation", "/auth/invitation/accept", "compte-active"),
}


def _link_page(request: Request, purpose: str, *, token: str, email: str = "",
               errors: FormErrors | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "set_password.html", page=None, purpose=purpose,
                  action=LINKS[purpose][0], token=token, email=email,
                  errors=errors or FormErrors(), status_code=status_code)


def _invalid_link(request: Request, purpose: str, detail: str = "") -> HTMLResponse:
    return render(request, "invalid_link.html", page=None, purpose=purpose,
                  detail=detail, status_code=400)


def _link_routes(purpose: str) -> None:
    path, endpoint, notice = LINKS[purpose]

    async def show(request: Request, jeton: str = "") -> HTMLResponse:
        if not jeton:
            return _invalid_link(request, purpose)
        try:
            body = await identity_of(request).fetch(
                "POST", "/auth/one-time-token", json={"token": jeton, "purpose": purpose},
                client_ip=client_ip(request))
        except UpstreamProblem as problem:
            return _invalid_link(request, purpose, problem.detail)
        email = body.get("email") if isinstance(body, dict) else None
        return _link_page(request, purpose, token=jeton,
                          email=email if isinstance(email, str) else "")

    async def submit(request: Request) -> Response:
        t = translator(request)
        values = await form_values(request, "jeton", "email", "password", "password_confirmation",
                                   raw=("password", "password_confirmation"))
        if not values["jeton"]:
            return _invalid_link(request, purpose)
        errors, status = FormErrors(), 422
        check_new_password(values, errors, t, "password", "password_confirmation")
        if not errors:
            try:
                await identity_of(request).fetch(
                    "POST", endpoint, ok=(200, 204),
                    json={"token": values["jeton"], "password": values["password"]},
                    client_ip=client_ip(request))
                return RedirectResponse(f"/?message={notice}", status_code=303)
            except UpstreamProblem as problem:
                if problem.status != 422:
                    return _invalid_link(request, purpose, problem.detail)
                errors.add_problem(problem, {"password": "password", "new_password": "password"})
            except UpstreamUnavailable:
                errors.top(t("error.identity_down"))
                status = 503
        return _link_page(request, purpose, token=values["jeton"], email=values["email"],
                          errors=errors, status_code=status)

    show.__name__, submit.__name__ = f"{purpose}_link", f"{purpose}_submit"
    router.add_api_route(path, show, methods=["GET"], dependencies=[Depends(optional_session)])
    router.add_api_route(path, submit, methods=["POST"])


for _purpose in LINKS:
    _link_routes(_purpose)


# --- First sign-up ------------------------------------------------------------------------

SIGNUP_FIELDS = ("family_name", "email", "first_name", "last_name", "password",
                 "password_confirmation")
# identity's field names -> this form's fields.
SIGNUP_ERRORS = {"family_name": "family_name", "email": "email", "password": "password",
                 "guardian.first_name": "first_name", "guardian.last_name": "last_name"}


def _signup_page(request: Request, values: dict[str, str], errors: FormErrors,
                 status_code: int = 200) -> HTMLResponse:
    return render(request, "signup.html", page=None, values=values, errors=errors,
                  status_code=status_code)


@router.get("/inscription", dependencies=[Depends(optional_session)])
async def signup_form(request: Request) -> HTMLResponse:
    return _signup_page(request, dict.fromkeys(SIGNUP_FIELDS, ""), FormErrors())


@router.post("/inscription")
async def signup(request: Request) -> Response:
    t = translator(request)
    values = await form_values(request, *SIGNUP_FIELDS, raw=("password", "password_confirmation"))
    errors, status = FormErrors(), 422
    require(values, errors, t, "family_name", "email", "first_name", "last_name")
    check_new_password(values, errors, t, "password", "password_confirmation")
    if not errors:
        try:
            # identity answers the same whether or not the address has an account (202).
            await identity_of(request).fetch(
                "POST", "/auth/signup", ok=(202,), client_ip=client_ip(request),
                json={"family_name": values["family_name"], "email": values["email"],
                      "password": values["password"],
                      "guardian": {"first_name": values["first_name"],
                                   "last_name": values["last_name"]}})
            return RedirectResponse("/?message=inscription", status_code=303)
        except UpstreamProblem as problem:
            if problem.status == 429:
                errors.top(_throttled_message(problem, t),
                           UPSTREAM_LANGUAGE if problem.detail else None)
            else:
                errors.add_problem(problem, SIGNUP_ERRORS)
            status = problem.status
        except UpstreamUnavailable:
            errors.top(t("error.identity_down"))
            status = 503
    # Passwords are never sent back to the browser.
    values.update(password="", password_confirmation="")
    return _signup_page(request, values, errors, status_code=status)


# The link of the confirmation email: a page with a button (GET changes nothing), whose POST
# activates the account.
@router.get("/inscription/confirmer", dependencies=[Depends(optional_session)])
async def signup_confirm_page(request: Request, jeton: str = "") -> HTMLResponse:
    if not jeton:
        return _invalid_link(request, "signup")
    return render(request, "signup_confirm.html", page=None, token=jeton, errors=FormErrors())


@router.post("/inscription/confirmer")
async def signup_confirm(request: Request) -> Response:
    t = translator(request)
    values = await form_values(request, "jeton")
    if not values["jeton"]:
        return _invalid_link(request, "signup")
    errors = FormErrors()
    try:
        await identity_of(request).fetch("POST", "/auth/signup/confirm", ok=(204,),
                                         json={"token": values["jeton"]},
                                         client_ip=client_ip(request))
        return RedirectResponse("/?message=adresse-confirmee", status_code=303)
    except UpstreamProblem as problem:
        if problem.status != 429:
            return _invalid_link(request, "signup", problem.detail)
        errors.top(_throttled_message(problem, t), UPSTREAM_LANGUAGE if problem.detail else None)
        status = 429
    except UpstreamUnavailable:
        errors.top(t("error.identity_down"))
        status = 503
    return render(request, "signup_confirm.html", page=None, token=values["jeton"],
                  errors=errors, status_code=status)
