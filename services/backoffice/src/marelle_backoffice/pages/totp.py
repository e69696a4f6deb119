"""« Double authentification »: a staff member's own TOTP second factor (identity's
/auth/staff/totp): enrol (the secret and its otpauth URI shown as text, to type or paste into an
authenticator application), confirm with a first code, remove with a code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import flash
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, identity, require_session

router = APIRouter()

PAGE = "/double-authentification"
MESSAGES = ("active", "retiree")
CODE_FIELDS = {"code": "code"}


async def _page(request: Request, staff: StaffSession, *, setup: dict[str, Any] | None = None,
                errors: FormErrors | None = None, status_code: int = 200) -> HTMLResponse:
    status = await identity(request, staff).totp_status()
    response = render(request, "totp.html", page="totp", status=status, setup=setup,
                      errors=errors or FormErrors(), message=flash(request, MESSAGES),
                      status_code=status_code)
    # The secret is on this page: never kept by a browser or a proxy cache.
    response.headers["cache-control"] = "no-store"
    return response


@router.get(PAGE)
async def totp_page(request: Request,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _page(request, staff)


@router.post(PAGE + "/configurer")
async def totp_setup(request: Request,
                     staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    try:
        setup = await identity(request, staff).totp_setup()
    except UpstreamProblem as problem:  # 409: already enabled
        errors = FormErrors()
        errors.general.append(problem.detail or t("totp.error.refused"))
        return await _page(request, staff, errors=errors, status_code=problem.status)
    return await _page(request, staff, setup=setup)


async def _with_code(request: Request, staff: StaffSession, action: str) -> Response:
    t = Translator()
    code = text(await request.form(), "code")
    errors = FormErrors()
    if not code:
        errors.add("code", t("totp.error.code"))
        return await _page(request, staff, errors=errors, status_code=422)
    client = identity(request, staff)
    try:
        if action == "confirm":
            await client.totp_confirm(code)
        else:
            await client.totp_remove(code)
    except UpstreamProblem as problem:
        # 422 wrong code, 409 nothing pending / already enabled / required, 429 throttled.
        errors.add_problem(problem, CODE_FIELDS, t("totp.error.refused"))
        response = await _page(request, staff, errors=errors,
                               status_code=problem.status if problem.status in (409, 429)
                               else 422)
        if problem.retry_after:
            response.headers["retry-after"] = problem.retry_after
        return response
    done = "active" if action == "confirm" else "retiree"
    return RedirectResponse(f"{PAGE}?message={done}", status_code=303)


@router.post(PAGE + "/confirmer")
async def totp_confirm(request: Request,
                       staff: StaffSession = Depends(require_session)) -> Response:
    return await _with_code(request, staff, "confirm")


@router.post(PAGE + "/retirer")
async def totp_remove(request: Request,
                      staff: StaffSession = Depends(require_session)) -> Response:
    return await _with_code(request, staff, "remove")
