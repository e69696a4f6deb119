"""« Ouvertures des inscriptions »: prepare a request before the opening, send it at the opening,
follow its ticket (docs/opening-rush.md).

Without JavaScript: the countdown is computed by the server; a request sent too early comes back
with the family's choices kept and the time left; the ticket's page reloads itself
(`<meta http-equiv="refresh">`) until the decision, then shows each child's outcome. The form
carries its own idempotency key: a refresh, a double click or a resubmission gives back the same
ticket, never a second place.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from marelle_contracts.http.queue import IF_SOME_FULL, Opening
from marelle_gateway.models import Family
from marelle_gateway.pages.common import load_family
from marelle_gateway.pages.registrations.common import (
    ANY_PROBLEM,
    checked_id,
    enrolment_of,
    page_errors,
)
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamProblem, UpstreamUnavailable

router = APIRouter()

PATH = "/mes-inscriptions/ouvertures"
TICKET = "/mes-inscriptions/tickets"
REFRESH_SECONDS = 2


def countdown(t: Any, opens_at: datetime, now: datetime) -> str:
    """« dans 2 h 05 min », « dans 45 s »: how long until the opening, for people."""
    left = int((opens_at - now).total_seconds())
    if left <= 0:
        return ""
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return t("openings.countdown.days", days=days, hours=hours)
    if hours:
        return t("openings.countdown.hours", hours=hours, minutes=f"{minutes:02d}")
    if minutes:
        return t("openings.countdown.minutes", minutes=minutes, seconds=f"{seconds:02d}")
    return t("openings.countdown.seconds", seconds=seconds)


def _opens(o: Opening) -> datetime:
    # The household's own district opening is in the earliest windows (issue #10).
    return min(x for x in (o.opens_at, o.priority_opens_at, o.residents_open_at,
                           o.district_opens_at) if x is not None)


async def _page(request: Request, session: Session, family: Family, *,
                values: dict[str, Any] | None = None, errors: list[str] | None = None,
                notice: str = "", status_code: int = 200) -> HTMLResponse:
    t = translator(request)
    client = enrolment_of(request)
    with page_errors(request):
        openings = await client.openings(session.family_id, session.access_token)
        tickets = await client.tickets(session.family_id, session.access_token)
    now = datetime.now(UTC)
    names = {str(c.id): c.full_name for c in family.children}
    cards = [{"opening": o, "opens": _opens(o), "countdown": countdown(t, _opens(o), now),
              # Before the opening to all, the earlier windows are said (residents first…).
              "before_all": now < o.opens_at,
              "groups": [{"group": g, "children": [(str(c), names.get(str(c), "")) for c in
                                                   g.child_ids]} for g in o.groups]}
             for o in openings]
    return render(request, "registration_openings.html", page="registrations", cards=cards,
                  tickets=tickets, values=values or {}, errors=errors or [], notice=notice,
                  key=uuid.uuid4().hex, choices=IF_SOME_FULL, status_code=status_code)


@router.get(PATH)
async def openings(request: Request, session: Session = Depends(parent_session)) -> HTMLResponse:
    family = await load_family(request, session)
    return await _page(request, session, family)


@router.post(PATH)
async def send(request: Request, session: Session = Depends(parent_session)) -> Any:
    t = translator(request)
    form = await request.form()
    family = await load_family(request, session)
    own = {str(c.id) for c in family.children}
    values = {
        "groupe": str(form.get("groupe") or ""),
        "enfants": [c for c in form.getlist("enfants") if isinstance(c, str) and c in own],
        "si_complet": str(form.get("si_complet") or IF_SOME_FULL[0]),
        "cle": str(form.get("cle") or ""),
    }
    errors = []
    try:
        group_id = str(uuid.UUID(values["groupe"]))
    except ValueError:
        group_id = ""
        errors.append(t("openings.error.group"))
    if not values["enfants"]:
        errors.append(t("openings.error.children"))
    if values["si_complet"] not in IF_SOME_FULL:
        values["si_complet"] = IF_SOME_FULL[0]
    key = values["cle"] if 8 <= len(values["cle"]) <= 64 and values["cle"].isalnum() \
        else uuid.uuid4().hex
    if errors:
        return await _page(request, session, family, values=values, errors=errors,
                           status_code=422)
    try:
        with page_errors(request, keep=ANY_PROBLEM):
            ticket = await enrolment_of(request).submit_ticket(
                session.family_id, session.access_token, key,
                {"group_id": group_id, "child_ids": values["enfants"],
                 "if_some_full": values["si_complet"]})
    except UpstreamProblem as problem:
        # Too early, the wrong age, already registered…: enrolment's sentence, choices kept.
        return await _page(request, session, family, values=values,
                           errors=[problem.detail or t("registration.new.error.refused")],
                           status_code=problem.status)
    except UpstreamUnavailable as down:
        # Overloaded or unreachable: nothing was taken; the same key keeps the place later.
        return await _page(request, session, family, values=values,
                           errors=[getattr(down, "detail", "") or t("error.enrolment_down")], status_code=503)
    return RedirectResponse(f"{TICKET}/{ticket.id}", status_code=303)


@router.get(TICKET + "/{ticket_id}")
async def ticket_page(ticket_id: str, request: Request,
                      session: Session = Depends(parent_session)) -> HTMLResponse:
    ticket_id = checked_id(ticket_id)
    with page_errors(request):
        ticket = await enrolment_of(request).ticket(session.family_id, ticket_id,
                                                    session.access_token)
    waiting = ticket.status == "en_file"
    return render(request, "registration_ticket.html", page="registrations", ticket=ticket,
                  refresh=REFRESH_SECONDS if waiting else None)
