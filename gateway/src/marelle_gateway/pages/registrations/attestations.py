"""« Faire une demande d'attestation d'inscription », and the issued PDF streamed from
enrolment."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from marelle_gateway.enrolment import PDF
from marelle_gateway.forms import UPSTREAM_LANGUAGE, FormErrors
from marelle_gateway.pages.registrations.common import (
    checked_id,
    enrolment_of,
    load_attestations,
    load_registration,
    page_errors,
)
from marelle_gateway.pages.registrations.detail import BASE, registration_page
from marelle_gateway.rendering import translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamProblem, UpstreamUnavailable

router = APIRouter()

PATH = BASE + "/attestation"


async def _page(request: Request, session: Session, registration_id: str, *,
                errors: FormErrors | None = None, sent: bool = False,
                status_code: int = 200) -> HTMLResponse:
    registration_id = checked_id(registration_id)
    registration, mine = await asyncio.gather(
        load_registration(request, session, registration_id),
        load_attestations(request, session, registration_id))
    return registration_page(request, registration, "attestation", attestations=mine,
                             pending=any(not a.issued for a in mine), sent=sent,
                             errors=errors or FormErrors(), status_code=status_code)


@router.get(PATH)
async def attestation_page(request: Request, registration_id: str,
                           confirmation: str | None = None,
                           session: Session = Depends(parent_session)) -> HTMLResponse:
    return await _page(request, session, registration_id, sent=confirmation == "demande")


@router.post(PATH)
async def request_attestation(request: Request, registration_id: str,
                              session: Session = Depends(parent_session)) -> Response:
    registration_id = checked_id(registration_id)
    errors, status = FormErrors(), 409
    try:
        with page_errors(request, keep=(400, 409, 422)):
            await enrolment_of(request).request_attestation(
                session.family_id, registration_id, session.access_token)
        return RedirectResponse(f"/mes-inscriptions/{registration_id}/attestation"
                                "?confirmation=demande", status_code=303)
    except UpstreamProblem as problem:
        # Not validated yet, or a request already waiting: enrolment's sentence.
        status = problem.status
        errors.top(problem.detail or translator(request)("registration.attestation.error"),
                   UPSTREAM_LANGUAGE if problem.detail else None)
    except UpstreamUnavailable:
        errors.top(translator(request)("error.enrolment_down"))
        status = 503
    return await _page(request, session, registration_id, errors=errors, status_code=status)


@router.get("/mes-inscriptions/attestations/{attestation_id}.pdf")
async def attestation_pdf(request: Request, attestation_id: str,
                          session: Session = Depends(parent_session)) -> Response:
    """enrolment's PDF, streamed (never held whole here); the family is the token's."""
    attestation_id = checked_id(attestation_id)
    with page_errors(request):
        upstream = await enrolment_of(request).open_pdf(session.family_id, attestation_id,
                                                        session.access_token)
    return StreamingResponse(
        upstream.aiter_bytes(), media_type=PDF, background=BackgroundTask(upstream.aclose),
        headers={"content-disposition": f'attachment; filename="attestation-{attestation_id}.pdf"',
                 # A family's document: never kept by a shared cache or computer.
                 "cache-control": "private, no-store"})
