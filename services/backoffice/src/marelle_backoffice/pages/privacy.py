"""GDPR (issue #11): the families' deletion requests, decided by administrators (accepting
anonymises the household in every service), and « Consultations du dossier »: who read a
household's file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_contracts.http import identity as contract

from marelle_backoffice.clients import UpstreamProblem, checked_answer
from marelle_backoffice.forms import FormErrors
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import checked_id, flash
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    StaffSession,
    check_csrf,
    identity,
    require_administrator,
    require_session,
)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   dependencies=[Depends(check_csrf), Depends(require_session)])
PATH = "/suppressions"
FLASHES = ("acceptee", "refusee")
REASON_MAX = 1000


async def _identity(request: Request, staff: StaffSession, method: str, path: str,
                    answer: type[Any] | None = None, **kwargs: Any) -> Any:
    response = await request.app.state.services.call(
        "identity", method, path, token=staff.token,
        client_ip=request.client.host if request.client else None, **kwargs)
    body = response.json() if response.content else None
    return checked_answer("identity", answer, body) if answer else body


async def _list_page(request: Request, staff: StaffSession, *, errors: FormErrors | None = None,
                     reasons: dict[str, str] | None = None, status_code: int = 200
                     ) -> HTMLResponse:
    items = (await _identity(request, staff, "GET", "/staff/deletion-requests",
                             contract.PendingDeletionRequests,
                             params={"status": "en_attente"}))["items"]
    return render(request, "privacy.html", page="privacy", items=items,
                  errors=errors or FormErrors(), reasons=reasons or {},
                  done=flash(request, FLASHES), status_code=status_code)


@router.get(PATH)
async def deletion_requests(request: Request,
                            staff: StaffSession = Depends(require_administrator)) -> HTMLResponse:
    return await _list_page(request, staff)


@router.post(PATH + "/{request_id}")
async def decide(request: Request, request_id: str,
                 staff: StaffSession = Depends(require_administrator)) -> Response:
    request_id = checked_id(request_id)
    t = Translator()
    form = await request.form()
    decision = str(form.get("decision") or "")
    reason = str(form.get("motif") or "").strip()
    field = f"motif-{request_id}"
    errors = FormErrors()
    if decision not in ("accept", "refuse"):
        errors.general.append(t("privacy.error.decision"))
    elif decision == "refuse" and not reason:
        errors.add(field, t("privacy.error.reason_needed"))
    elif len(reason) > REASON_MAX:
        errors.add(field, t("privacy.error.reason_long"))
    if not errors:
        try:
            await _identity(request, staff, "POST",
                            f"/staff/deletion-requests/{request_id}/decision",
                            contract.DeletionRequest,
                            json={"decision": decision, "reason": reason or None})
            done = "acceptee" if decision == "accept" else "refusee"
            return RedirectResponse(f"{PATH}?message={done}", status_code=303)
        except UpstreamProblem as problem:
            if problem.status not in (409, 422):
                raise
            if problem.status == 422:
                errors.add(field, problem.detail or t("privacy.error.reason_needed"))
            else:
                errors.general.append(problem.detail or t("privacy.error.decided"))
    return await _list_page(request, staff, errors=errors, reasons={request_id: reason},
                            status_code=409 if errors.general else 422)


@router.get("/familles/{family_id}/consultations")
async def household_reads(request: Request, family_id: str,
                          staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    """Who read the household's file, newest first: one call to identity (reading this list is
    not itself logged as a read of the file)."""
    family_id = checked_id(family_id)
    reads = (await _identity(request, staff, "GET", f"/staff/families/{family_id}/reads",
                             contract.HouseholdReads, params={"limit": "200"}))["items"]
    return render(request, "privacy_reads.html", page="families", family_id=family_id,
                  reads=reads)
