"""Administrators' pages: audit log, staff accounts, parked messages (dead letters) and replay,
events the services could never publish (parked outbox rows) and their retry."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from marelle_contracts.http import platform

from marelle_backoffice.billing import billing as billing_client
from marelle_backoffice.clients import (
    ServiceUnavailable,
    Services,
    UpstreamProblem,
    checked_answer,
)
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import checked_id, client_ip, flash, parse_date
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    ADMINISTRATOR,
    MANAGER,
    StaffSession,
    identity,
    require_administrator,
)
from marelle_backoffice.session import booking as booking_client
from marelle_backoffice.session import enrolment as enrolment_client

router = APIRouter(dependencies=[Depends(require_administrator)])

AUDIT_LIMIT = 200
AUDIT_SERVICES = ("identity", "enrolment", "booking", "billing")
PARIS = ZoneInfo("Europe/Paris")
ROLES = (ADMINISTRATOR, MANAGER)
# Identity's 422 field names -> our input ids (account creation form).
ACCOUNT_FIELDS = {"email": "email", "display_name": "nom", "password": "mot-de-passe",
                  "roles": f"role-{ADMINISTRATOR}"}
# Kafka's legal topic characters: the topic goes into the replay URL path.
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
# An outbox row id (BIGINT): digits only, at most 18 of them.
_ROW_ID = re.compile(r"^[0-9]{1,18}$")


@router.get("/journal")
async def audit(request: Request, service: str = "", action: str = "", agent: str = "",
                du: str = "", au: str = "",
                staff: StaffSession = Depends(require_administrator)) -> HTMLResponse:
    """Identity's and the three services' audit logs merged by time, newest first; filtered by
    service, action (code or label), staff email and days (Paris time)."""
    values = {"service": service if service in AUDIT_SERVICES else "", "action": action.strip(),
              "agent": agent.strip(), "du": du.strip(), "au": au.strip()}
    errors = FormErrors()
    translate = Translator()
    first = parse_date(values["du"]) if values["du"] else None
    last = parse_date(values["au"]) if values["au"] else None
    if values["du"] and first is None:
        errors.add("journal-du", translate("audit.filter.bad_date"))
    if values["au"] and last is None:
        errors.add("journal-au", translate("audit.filter.bad_date"))
    wanted = [values["service"]] if values["service"] else list(AUDIT_SERVICES)
    clients = {"identity": lambda: identity(request, staff).audit(AUDIT_LIMIT),
               "enrolment": lambda: enrolment_client(request, staff).audit(
                   AUDIT_LIMIT, values["agent"] or None),
               "booking": lambda: booking_client(request, staff).audit(
                   AUDIT_LIMIT, values["agent"] or None),
               "billing": lambda: billing_client(request, staff).audit(
                   AUDIT_LIMIT, values["agent"] or None)}
    answers = await asyncio.gather(*(clients[name]() for name in wanted), return_exceptions=True)
    items: list[dict[str, Any]] = []
    unavailable: list[str] = []
    for name, answer in zip(wanted, answers, strict=True):
        if isinstance(answer, ServiceUnavailable | UpstreamProblem) and name != "identity":
            unavailable.append(name)  # one service down: the others' lines are still shown
            continue
        if isinstance(answer, BaseException):
            raise answer
        items += [{**item, "service": name} for item in answer]
    needle, who = values["action"].casefold(), values["agent"].casefold()

    def kept(item: dict[str, Any]) -> bool:
        day = _paris_day(item.get("at"))
        label_key = "audit.action." + str(item.get("action", ""))
        label = translate(label_key) if label_key in translate else ""
        return ((not needle or needle in str(item.get("action", "")).casefold()
                 or needle in label.casefold())
                and (not who or who in str(item.get("staff_email") or "").casefold())
                and (first is None or (day is not None and day >= first))
                and (last is None or (day is not None and day <= last)))

    items = sorted(filter(kept, items), key=lambda i: str(_utc(i.get("at"))), reverse=True)
    return render(request, "audit.html", page="audit", items=items[:AUDIT_LIMIT],
                  limit=AUDIT_LIMIT, values=values, errors=errors, services=AUDIT_SERVICES,
                  unavailable=unavailable)


def _utc(at: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(at))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _paris_day(at: Any) -> str | None:
    moment = _utc(at)
    return None if moment.year == 1 else moment.astimezone(PARIS).date().isoformat()


# --- staff accounts -----------------------------------------------------------------------------

# `?message=` names after a POST-redirect-GET on the staff accounts page.
AGENT_FLASHES = ("agent_cree", "agent_desactive", "agent_reactive", "roles_modifies")


def agent_field(account_id: str) -> str:
    """The HTML id of an account's row actions: identity's refusal is shown there."""
    return f"agent-{account_id}"


def _agents_page(request: Request, accounts: list[dict[str, Any]], *,
                 values: dict[str, Any] | None = None, errors: FormErrors | None = None,
                 role_values: dict[str, list[str]] | None = None,
                 status_code: int = 200) -> HTMLResponse:
    return render(request, "agents.html", page="agents", accounts=accounts, roles=ROLES,
                  values=values or {"email": "", "nom": "", "roles": []},
                  role_values=role_values or {}, agent_field=agent_field,
                  errors=errors or FormErrors(), message=flash(request, AGENT_FLASHES),
                  status_code=status_code)


async def _refused(request: Request, staff: StaffSession, account_id: str,
                   problem: UpstreamProblem, fallback: str,
                   role_values: dict[str, list[str]] | None = None) -> HTMLResponse:
    """The list again, identity's French refusal (e.g. « you cannot disable your own account »)
    by the account's forms, with identity's status."""
    if problem.status not in (404, 409, 422):
        raise problem
    errors = FormErrors()
    field = agent_field(account_id)
    errors.add(field, problem.detail or fallback)
    for error in problem.errors:  # a 422's field messages, when they say more than its detail
        if error["message"] and error["message"] != errors.get(field):
            errors.general.append(error["message"])
    return _agents_page(request, await identity(request, staff).accounts(), errors=errors,
                        role_values=role_values, status_code=problem.status)


@router.post("/agents/{account_id}/desactiver")
async def disable_account(request: Request, account_id: str,
                          staff: StaffSession = Depends(require_administrator)) -> Response:
    """Disabling ends that person's sessions at once, in every service."""
    return await _account_action(request, account_id, "desactiver", staff)


@router.post("/agents/{account_id}/reactiver")
async def enable_account(request: Request, account_id: str,
                         staff: StaffSession = Depends(require_administrator)) -> Response:
    return await _account_action(request, account_id, "reactiver", staff)


async def _account_action(request: Request, account_id: str, action: str,
                          staff: StaffSession) -> Response:
    """After a confirmation page: the first POST (the list's button) shows it, the confirmed one
    acts. A POST, not a link: nothing is done by following a URL."""
    account_id = checked_id(account_id)
    t = Translator()
    api = identity(request, staff)
    form = await request.form()
    if text(form, "confirme") != "oui":
        account = next((a for a in await api.accounts() if str(a.get("id")) == account_id),
                       None)
        if account is None:
            raise HTTPException(404)
        return render(request, "agent_confirm.html", page="agents", account=account,
                      action=action)
    try:
        if action == "desactiver":
            await api.disable_account(account_id)
        else:
            await api.enable_account(account_id)
    except UpstreamProblem as problem:
        return await _refused(request, staff, account_id, problem,
                              t(f"agents.error.{action}"))
    done = "agent_desactive" if action == "desactiver" else "agent_reactive"
    return RedirectResponse(f"/agents?message={done}", status_code=303)


@router.post("/agents/{account_id}/roles")
async def account_roles(request: Request, account_id: str,
                        staff: StaffSession = Depends(require_administrator)) -> Response:
    """New roles for an account; identity ends its sessions (its tokens carry the old roles)."""
    account_id = checked_id(account_id)
    t = Translator()
    form = await request.form()
    roles = [r for r in ROLES if r in form.getlist("roles")]
    try:
        if not roles:  # identity refuses it too (422): no round trip for it
            raise UpstreamProblem(422, t("agents.error.roles"))
        await identity(request, staff).set_roles(account_id, roles)
    except UpstreamProblem as problem:
        return await _refused(request, staff, account_id, problem, t("agents.error.roles_refused"),
                              role_values={account_id: roles})
    return RedirectResponse("/agents?message=roles_modifies", status_code=303)


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


# --- dead letters and parked outbox rows ------------------------------------------------------

Listing = tuple[str, list[dict[str, Any]] | None]
# `?message=` names after a POST-redirect-GET on this page.
DEAD_LETTER_FLASHES = ("rejoue", "relance")


async def _listing(services: Services, service: str, path: str, model: type[BaseModel],
                   token: str, ip: str | None) -> Listing:
    """One service's `items` (read with the contract model), or None when it cannot list them
    (down, no broker, an answer of another shape…)."""
    try:
        response = await services.call(service, "GET", path, token=token, client_ip=ip)
        body = checked_answer(service, model, response.json())
    except (ServiceUnavailable, UpstreamProblem, ValueError):
        return service, None
    return service, [{**item, "service": service} for item in body["items"]]


async def _all_listings(request: Request, staff: StaffSession) -> tuple[list[Listing],
                                                                         list[Listing]]:
    """Every service's dead letters and parked outbox rows, all asked in parallel."""
    services: Services = request.app.state.services
    settings = request.app.state.settings
    ip = client_ip(request)
    dead = [_listing(services, name, "/staff/dead-letters", platform.DeadLetters, staff.token, ip)
            for name in settings.dead_letter_services()]
    parked = [_listing(services, name, "/staff/outbox/parked", platform.ParkedRows, staff.token,
                       ip) for name in settings.outbox_services()]
    found = list(await asyncio.gather(*dead, *parked))
    return found[:len(dead)], found[len(dead):]


def _items(lists: list[Listing]) -> list[dict[str, Any]]:
    items = [item for _, found in lists for item in found or []]
    items.sort(key=lambda d: str(d.get("parked_at") or ""), reverse=True)
    return items


async def _dead_letters_page(request: Request, staff: StaffSession, error: str | None = None,
                             status_code: int = 200) -> HTMLResponse:
    dead, parked = await _all_listings(request, staff)
    return render(request, "dead_letters.html", page="dead_letters", items=_items(dead),
                  unavailable=[name for name, found in dead if found is None],
                  parked=_items(parked),
                  parked_unavailable=[name for name, found in parked if found is None],
                  message=flash(request, DEAD_LETTER_FLASHES), error=error,
                  status_code=status_code)


@router.get("/messages-en-echec")
async def dead_letters(request: Request,
                       staff: StaffSession = Depends(require_administrator)) -> HTMLResponse:
    return await _dead_letters_page(request, staff)


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
        return await _dead_letters_page(request, staff, t("dead_letters.error.invalid"), 422)
    path = f"/staff/dead-letters/{quote(topic, safe='')}/{int(partition)}/{int(offset)}/replay"
    try:
        await request.app.state.services.call(service, "POST", path, token=staff.token,
                                               client_ip=client_ip(request))
    except UpstreamProblem as problem:
        return await _dead_letters_page(request, staff,
                                        problem.detail or t("dead_letters.error.replay"),
                                        problem.status if problem.status in (404, 409) else 422)
    return RedirectResponse("/messages-en-echec?message=rejoue", status_code=303)


@router.post("/messages-en-echec/evenements/relancer")
async def retry_parked(request: Request,
                       staff: StaffSession = Depends(require_administrator)) -> Response:
    """Put one parked outbox row back in its service's queue (the relay publishes it again)."""
    t = Translator()
    form = await request.form()
    service, row_id = text(form, "service"), text(form, "id")
    # Only our own services and a row id made of digits reach a URL.
    if (service not in request.app.state.settings.outbox_services()
            or not _ROW_ID.match(row_id)):
        return await _dead_letters_page(request, staff, t("parked.error.invalid"), 422)
    try:
        response = await request.app.state.services.call(
            service, "POST", f"/staff/outbox/parked/{int(row_id)}/retry", token=staff.token,
            client_ip=client_ip(request))
    except UpstreamProblem as problem:
        return await _dead_letters_page(request, staff,
                                        problem.detail or t("parked.error.retry"),
                                        problem.status if problem.status in (404, 409) else 422)
    checked_answer(service, platform.ParkedRow, response.json())
    return RedirectResponse("/messages-en-echec?message=relance", status_code=303)
