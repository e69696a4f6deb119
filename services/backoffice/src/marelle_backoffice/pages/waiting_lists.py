"""A group's waiting list: reorder it, promote a request, remove one from the list."""

from __future__ import annotations

import asyncio
import re
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.enrolment import Enrolment
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import checked_id, flash
from marelle_backoffice.pages.tree import CatalogueIndex
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, enrolment, require_session

router = APIRouter()

PATH = "/groupes/{group_id}/liste-attente"
ACTIONS = ("monter", "descendre", "promouvoir", "retirer")
WAITING_FLASHES = ("ordre", "promue", "retiree")
_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


async def _page(request: Request, api: Enrolment, group_id: str, *,
                errors: FormErrors | None = None, reasons: dict[str, str] | None = None,
                status_code: int = 200) -> HTMLResponse:
    data, facilities = await asyncio.gather(api.waiting_list(group_id), api.catalogue())
    place = CatalogueIndex(facilities).group.get(group_id)
    items = [{**i, "id": str(i["id"])} for i in data.get("items") or []]
    errors = errors or FormErrors()
    present = {i["id"] for i in items}
    for field_id in list(errors.fields):
        # A row that left the list meanwhile: its message moves to the top.
        if field_id.partition("-")[2] not in present:
            errors.general.append(errors.summary(field_id))
            del errors.fields[field_id]
    capacity, taken = data.get("capacity") or 0, data.get("places_taken") or 0
    return render(request, "waiting_list.html", page="registrations", section="catalogue",
                  group_id=group_id, data=data, place=place, items=items,
                  places_left=max(0, capacity - taken), errors=errors,
                  reasons=reasons or {}, message=flash(request, WAITING_FLASHES),
                  status_code=status_code)


@router.get(PATH)
async def waiting_list(request: Request, group_id: str,
                       staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _page(request, enrolment(request, staff), checked_id(group_id))


def _moved(order: list[str], registration_id: str, step: int) -> list[str] | None:
    """The order with one request moved up (-1) or down (+1); None at either end."""
    at = order.index(registration_id)
    to = at + step
    if not 0 <= to < len(order):
        return None
    new = list(order)
    new[at], new[to] = new[to], new[at]
    return new


@router.post(PATH)
async def act(request: Request, group_id: str,
              staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    group_id = checked_id(group_id)
    api = enrolment(request, staff)
    form = await request.form()
    # Every row's buttons are in one form: `action=<verb>:<id>`; `ordre` is the list as shown.
    action, _, registration_id = text(form, "action").partition(":")
    order = [v for v in form.getlist("ordre") if isinstance(v, str) and _UUID.match(v)]
    names = {str(v): text(form, f"nom-{v}") for v in order}
    reason = text(form, f"motif-{registration_id}") if registration_id in order else ""
    errors = FormErrors()
    if action not in ACTIONS or registration_id not in order:
        errors.general.append(t("waiting.error.no_action"))
        return await _page(request, api, group_id, errors=errors, status_code=422)
    child = names.get(registration_id) or t("registrations.unknown")
    try:
        if action in ("monter", "descendre"):
            new_order = _moved(order, registration_id, -1 if action == "monter" else 1)
            if new_order is None:
                errors.general.append(t(f"waiting.error.{action}", child=child))
                return await _page(request, api, group_id, errors=errors, status_code=422)
            await api.reorder_waiting_list(group_id, new_order)
            message = "ordre"
        elif action == "promouvoir":
            await api.promote(registration_id)
            message = "promue"
        else:
            await api.remove_from_waiting_list(registration_id, reason or None)
            message = "retiree"
    except UpstreamProblem as problem:
        if problem.status not in (409, 422):
            raise
        detail = problem.errors[0]["message"] if problem.errors else problem.detail
        detail = detail or t("waiting.error.refused")
        if action in ("monter", "descendre"):
            # The list changed meanwhile (another agent, a cancellation): show it as it is now.
            errors.general.append(t("waiting.error.changed", message=detail))
        else:
            field = f"promouvoir-{registration_id}" if action == "promouvoir" \
                else f"motif-{registration_id}"
            errors.add(field, detail, summary=t("registrations.error.item", child=child,
                                                message=detail))
        return await _page(request, api, group_id, errors=errors,
                           reasons={registration_id: reason} if reason else None,
                           status_code=problem.status)
    return RedirectResponse(f"/groupes/{group_id}/liste-attente?message={message}",
                            status_code=303)

