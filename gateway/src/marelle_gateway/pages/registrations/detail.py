"""One registration's sub-menu: « Mes informations », « Liste d'attente », « Mes réservations »,
« Mes navettes », and cancelling it (confirmation page, then POST).

The registration is asked of enrolment with the token's family: another family's id is
enrolment's 404, shown as the French « Page introuvable ».
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_gateway.enrolment_models import Registration
from marelle_gateway.forms import UPSTREAM_LANGUAGE, FormErrors
from marelle_gateway.pages.registrations.common import (
    REGISTRATION_MENU,
    checked_id,
    enrolment_of,
    load_attestations,
    load_registration,
    page_errors,
)
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamProblem, UpstreamUnavailable

router = APIRouter()

BASE = "/mes-inscriptions/{registration_id}"
# `?confirmation=<name>` after an action (allow-list of notices).
NOTICES = {"annulation": "registration.notice.cancelled"}
# Sub-pages of booking, open once the registration is validated
# (`registration.<id>.after_validation`).
BOOKING_SECTIONS = ("reservations", "navettes")


def registration_page(request: Request, registration: Registration, section: str, *,
                      template: str = "registration.html", status_code: int = 200,
                      **context: Any) -> HTMLResponse:
    return render(request, template, page="registrations", registration=registration,
                  section=section, registration_menu=REGISTRATION_MENU,
                  status_code=status_code, **context)


@router.get(BASE)
async def information(request: Request, registration_id: str, confirmation: str | None = None,
                      session: Session = Depends(parent_session)) -> HTMLResponse:
    registration_id = checked_id(registration_id)
    registration, attestations = await asyncio.gather(
        load_registration(request, session, registration_id),
        load_attestations(request, session, registration_id))
    return registration_page(request, registration, "informations", attestations=attestations,
                             notice_key=NOTICES.get(confirmation or ""))


@router.get(BASE + "/liste-attente")
async def waiting_list(request: Request, registration_id: str,
                       session: Session = Depends(parent_session)) -> HTMLResponse:
    """The registration's own place on enrolment's waiting list, then (once validated) every
    day of the family waiting for a place, from booking."""
    registration = await load_registration(request, session, registration_id)
    waiting_days = None
    if registration.validated:
        with page_errors(request):
            waiting_days = await request.app.state.upstreams.booking.waiting_days(
                session.family_id, session.access_token)
        waiting_days.sort(key=lambda w: (w.day, w.child_first_name, w.unit_label))
    return registration_page(request, registration, "liste_attente", waiting_days=waiting_days)


# --- Cancelling ---------------------------------------------------------------------------

@router.get(BASE + "/annulation")
async def cancel_form(request: Request, registration_id: str,
                      session: Session = Depends(parent_session)) -> HTMLResponse:
    registration = await load_registration(request, session, registration_id)
    return registration_page(request, registration, "informations",
                             template="registration_cancel.html", errors=FormErrors())


@router.post(BASE + "/annulation")
async def cancel(request: Request, registration_id: str,
                 session: Session = Depends(parent_session)) -> Response:
    registration = await load_registration(request, session, registration_id)
    errors, status = FormErrors(), 409
    try:
        with page_errors(request, keep=(400, 409, 422)):
            await enrolment_of(request).cancel(session.family_id, registration.id,
                                               session.access_token)
        return RedirectResponse(f"/mes-inscriptions/{registration.id}?confirmation=annulation",
                                status_code=303)
    except UpstreamProblem as problem:
        # « Cette inscription est déjà annulée ou refusée. »
        status = problem.status
        errors.top(problem.detail or translator(request)("registration.cancel.error"),
                   UPSTREAM_LANGUAGE if problem.detail else None)
    except UpstreamUnavailable:
        errors.top(translator(request)("error.enrolment_down"))
        status = 503
    return registration_page(request, registration, "informations",
                             template="registration_cancel.html", errors=errors,
                             status_code=status)
