"""Attestations of registration asked by families: issue them (the family downloads the PDF)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import checked_id, flash
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, enrolment, require_session

router = APIRouter()

STATUSES = ("demandee", "delivree")


@router.get("/attestations")
async def attestations(request: Request, status: str = "demandee",
                       staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    status = status if status in STATUSES else "demandee"
    items = await enrolment(request, staff).attestation_requests(status)
    return render(request, "attestations.html", page="registrations", section="attestations",
                  status=status, items=items, message=flash(request, ("delivree",)), error=None)


@router.post("/attestations/{attestation_id}/delivrer")
async def issue(request: Request, attestation_id: str,
                staff: StaffSession = Depends(require_session)) -> Response:
    api = enrolment(request, staff)
    try:
        await api.issue_attestation(checked_id(attestation_id))
    except UpstreamProblem as problem:
        # 409: already issued (by a colleague a moment ago); shown above the list as it is now.
        if problem.status not in (409, 422):
            raise
        return render(request, "attestations.html", page="registrations",
                      section="attestations", status="demandee",
                      items=await api.attestation_requests("demandee"), message=None,
                      error=problem.detail or Translator()("attestations.error.refused"),
                      status_code=problem.status)
    return RedirectResponse("/attestations?message=delivree", status_code=303)
