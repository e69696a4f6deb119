"""Staff login and logout (identity's `POST /auth/staff/token`; no refresh token for staff)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_chassis.errors import Unauthorized

from marelle_backoffice.clients import ServiceUnavailable, UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.identity import staff_token
from marelle_backoffice.pages.common import client_ip
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    NotStaff,
    clear_session_cookie,
    new_csrf_token,
    safe_next,
    session_from_token,
    set_session_cookie,
    store_csrf_cookie,
)

router = APIRouter()

NOTICES = ("expiree", "invalide", "deconnexion")


def _login_page(request: Request, *, identifier: str = "", suite: str = "/",
                errors: FormErrors | None = None, status_code: int = 200,
                notice: str | None = None) -> HTMLResponse:
    return render(request, "login.html", page=None, status_code=status_code,
                  identifier=identifier, suite=safe_next(suite), errors=errors or FormErrors(),
                  notice=notice)


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
    errors = FormErrors()
    if not identifier:
        errors.add("identifiant", t("login.error.identifier"))
    if not password:
        errors.add("mot-de-passe", t("login.error.password"))
    if errors:
        return _login_page(request, identifier=identifier, suite=suite, errors=errors,
                           status_code=422)
    try:
        tokens = await staff_token(request.app.state.services, identifier, password,
                                   client_ip(request))
        staff = await session_from_token(request, str(tokens["access_token"]))
    except UpstreamProblem as problem:
        # 401 wrong credentials, 429 throttled: identity's French sentence is the message.
        errors.general.append(problem.detail or t("login.error.refused"))
        response = _login_page(request, identifier=identifier, suite=suite, errors=errors,
                               status_code=429 if problem.status == 429 else 422)
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


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    # Staff tokens have no refresh token to revoke: forgetting the cookie ends the session.
    response = RedirectResponse("/connexion?motif=deconnexion", status_code=303)
    clear_session_cookie(request, response)
    return response
