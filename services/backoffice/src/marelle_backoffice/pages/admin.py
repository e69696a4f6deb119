"""Administrators' pages: audit log, staff accounts, parked messages (dead letters) and replay."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import ServiceUnavailable, Services, UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import client_ip, flash
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    ADMINISTRATOR,
    MANAGER,
    StaffSession,
    identity,
    require_administrator,
)

router = APIRouter(dependencies=[Depends(require_administrator)])

AUDIT_LIMIT = 200
ROLES = (ADMINISTRATOR, MANAGER)
# Identity's 422 field names -> our input ids (account creation form).
ACCOUNT_FIELDS = {"email": "email", "display_name": "nom", "password": "mot-de-passe",
                  "roles": f"role-{ADMINISTRATOR}"}
# Kafka's legal topic characters: the topic goes into the replay URL path.
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


@router.get("/journal")
async def audit(request: Request,
                staff: StaffSession = Depends(require_administrator)) -> HTMLResponse:
    items = await identity(request, staff).audit(AUDIT_LIMIT)
    return render(request, "audit.html", page="audit", items=items, limit=AUDIT_LIMIT)


# --- staff accounts -----------------------------------------------------------------------------

def _agents_page(request: Request, accounts: list[dict[str, Any]], *,
                 values: dict[str, Any] | None = None, errors: FormErrors | None = None,
                 status_code: int = 200) -> HTMLResponse:
    return render(request, "agents.html", page="agents", accounts=accounts, roles=ROLES,
                  values=values or {"email": "", "nom": "", "roles": []},
                  errors=errors or FormErrors(), message=flash(request, ("agent_cree",)),
                  status_code=status_code)


@router.get("/agents")
async def agents(request: Request,
                 staff: StaffSession = Depends(require_administrator)) -> HTMLResponse:
    return _agents_page(request, await identity(request, staff).accounts())


@router.post("/agents")
async def create_agent(request: Request,
                       staff: StaffSession = Depends(require_administrator)) -> Response:
    t = Translator()
    api = identity(request, staff)
    form = await request.form()
    password = form.get("mot_de_passe")
    password = password if isinstance(password, str) else ""
    values = {"email": text(form, "email"), "nom": text(form, "nom"),
              "roles": [r for r in form.getlist("roles") if r in ROLES]}
    errors = FormErrors()
    if not values["email"]:
        errors.add("email", t("agents.error.email"))
    elif "@" not in values["email"]:
        errors.add("email", t("family_new.error.email_format"))
    if not values["nom"]:
        errors.add("nom", t("agents.error.name"))
    if not password:
        errors.add("mot-de-passe", t("agents.error.password"))
    if not values["roles"]:
        errors.add(f"role-{ADMINISTRATOR}", t("agents.error.roles"))
    status = 422
    if not errors:
        try:
            await api.create_account({"email": values["email"], "display_name": values["nom"],
                                      "password": password, "roles": values["roles"]})
        except UpstreamProblem as problem:
            if problem.status not in (409, 422):
                raise
            status = problem.status
            errors.add_problem(problem, lambda champ: ACCOUNT_FIELDS.get(champ.split(".")[0]),
                               t("agents.error.refused"))
        else:
            return RedirectResponse("/agents?message=agent_cree", status_code=303)
    return _agents_page(request, await api.accounts(), values=values, errors=errors,
                        status_code=status)


# --- dead letters -------------------------------------------------------------------------------

async def _dead_letters(services: Services, service: str, token: str,
                        ip: str | None) -> tuple[str, list[dict[str, Any]] | None]:
    """One service's parked messages, or None when it cannot list them (down, no broker…)."""
    try:
        response = await services.call(service, "GET", "/staff/dead-letters", token=token,
                                       client_ip=ip)
    except (ServiceUnavailable, UpstreamProblem):
        return service, None
    return service, [{**item, "service": service} for item in response.json().get("items", [])]


def _dead_letters_page(request: Request, lists: list[tuple[str, list[dict[str, Any]] | None]],
                       error: str | None = None, status_code: int = 200) -> HTMLResponse:
    items = [item for _, found in lists for item in found or []]
    items.sort(key=lambda d: str(d.get("parked_at") or ""), reverse=True)
    return render(request, "dead_letters.html", page="dead_letters", items=items,
                  unavailable=[name for name, found in lists if found is None],
                  message=flash(request, ("rejoue",)), error=error, status_code=status_code)


async def _all_dead_letters(request: Request, staff: StaffSession) -> list[tuple[str, Any]]:
    services: Services = request.app.state.services
    names = request.app.state.settings.dead_letter_services()
    ip = client_ip(request)
    return list(await asyncio.gather(*(_dead_letters(services, name, staff.token, ip)
                                       for name in names)))


@router.get("/messages-en-echec")
async def dead_letters(request: Request,
                       staff: StaffSession = Depends(require_administrator)) -> HTMLResponse:
    return _dead_letters_page(request, await _all_dead_letters(request, staff))


@router.post("/messages-en-echec/rejouer")
async def replay(request: Request,
                 staff: StaffSession = Depends(require_administrator)) -> Response:
    t = Translator()
    form = await request.form()
    service, topic = text(form, "service"), text(form, "sujet")
    partition, offset = text(form, "partition"), text(form, "position")
    # Only our own services and well-formed coordinates reach a URL: nothing else is forwarded.
    if (service not in request.app.state.settings.dead_letter_services()
            or not _TOPIC.match(topic) or not partition.isdigit() or not offset.isdigit()):
        return _dead_letters_page(request, await _all_dead_letters(request, staff),
                                  t("dead_letters.error.invalid"), 422)
    path = f"/staff/dead-letters/{quote(topic, safe='')}/{int(partition)}/{int(offset)}/replay"
    try:
        await request.app.state.services.call(service, "POST", path, token=staff.token,
                                               client_ip=client_ip(request))
    except UpstreamProblem as problem:
        return _dead_letters_page(request, await _all_dead_letters(request, staff),
                                  problem.detail or t("dead_letters.error.replay"),
                                  problem.status if problem.status in (404, 409) else 422)
    return RedirectResponse("/messages-en-echec?message=rejoue", status_code=303)
