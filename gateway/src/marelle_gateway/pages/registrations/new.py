"""« Demander une nouvelle inscription »: the chained choice (GET), then the request (POST).

The family is the token's; the child and the brothers and sisters must be its children (from
identity); enrolment checks the rest (window, age, places) and answers one sentence per child.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.enrolment_models import Offer, RegistrationResult
from marelle_gateway.forms import FormErrors
from marelle_gateway.models import Family, Person
from marelle_gateway.pages.common import load_family
from marelle_gateway.pages.registrations.choice import LEVELS, Choice, choose
from marelle_gateway.pages.registrations.common import ANY_PROBLEM, enrolment_of, page_errors
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamProblem, UpstreamUnavailable

router = APIRouter()

PATH = "/mes-inscriptions/nouvelle"
WEEKDAYS = range(1, 8)  # 1 = lundi … 7 = dimanche, as enrolment counts them
MEMO_MAX = 2000  # enrolment's limit
EMPTY = {"semaine_type": "non", "jours": [], "memo": "", "dupliquer": []}


def _child(family: Family, child_id: str) -> Person:
    child = family.person(child_id, "child")
    if child is None:
        # Not a child of the token's family (or a stale link): nothing to show.
        raise HTTPException(404)
    return child


async def _offer(request: Request, session: Session, child: Person) -> tuple[Offer | None, str]:
    """The child's offer, or enrolment's sentence when it does not know the child (yet)."""
    try:
        with page_errors(request, keep=(404,)):
            return await enrolment_of(request).offer(session.family_id, child.id,
                                                     session.access_token), ""
    except UpstreamProblem as problem:
        # identity knows the child, enrolment not yet (its copy follows identity's events).
        return None, problem.detail or translator(request)("registration.new.unknown_child")


def _page(request: Request, family: Family, child: Person, offer: Offer | None,
          unknown: str, choice: Choice, values: dict[str, Any], errors: FormErrors, *,
          focus: bool, status_code: int = 200) -> HTMLResponse:
    t = translator(request)
    return render(request, "registration_new.html", page="registrations", child=child,
                  offer=offer, unknown=unknown, choice=choice, values=values,
                  siblings=[(c.id, c.full_name) for c in family.children if c.id != child.id],
                  day_options=[(str(day), t(f"weekday.{day}")) for day in WEEKDAYS],
                  memo_max=MEMO_MAX, errors=errors, focus=focus, status_code=status_code)


@router.get(PATH)
async def new_registration(request: Request, enfant: str | None = None,
                           session: Session = Depends(parent_session)) -> HTMLResponse:
    family = await load_family(request, session)
    if not enfant:
        return render(request, "registration_child.html", page="registrations",
                      children=family.children,
                      child_options=[(c.id, c.full_name) for c in family.children])
    child = _child(family, enfant)
    offer, unknown = await _offer(request, session, child)
    choice = choose(offer, request.query_params) if offer else Choice()
    # After « Continuer », the next field takes the focus (the page was reloaded).
    focus = any(level in request.query_params for level in LEVELS)
    return _page(request, family, child, offer, unknown, choice, dict(EMPTY), FormErrors(),
                 focus=focus)


def _form(form: Any, siblings: list[Person]) -> dict[str, Any]:
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    asked = set(form.getlist("dupliquer"))
    return {
        "semaine_type": "oui" if text("semaine_type") == "oui" else "non",
        "jours": sorted({int(d) for d in form.getlist("jours")
                         if isinstance(d, str) and d.isdigit() and int(d) in WEEKDAYS}),
        "memo": text("memo"),
        # Only the family's other children: anything else in the form is dropped.
        "dupliquer": [str(s.id) for s in siblings if str(s.id) in asked],
    }


def _payload(child: Person, group_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """enrolment's body: never a family id (the path carries the token's)."""
    week = values["jours"] if values["semaine_type"] == "oui" else []
    return {"child_id": str(child.id), "group_id": group_id,
            "typical_week": [{"weekday": day, "units": []} for day in week],
            "memo": values["memo"], "duplicate_for": values["dupliquer"]}


def _field_of(champ: str) -> str | None:
    for prefix, field_id in (("typical_week", "jours"), ("memo", "memo"),
                             ("duplicate_for", "dupliquer")):
        if champ.startswith(prefix):
            return field_id
    return None


@router.post(PATH)
async def send_request(request: Request, session: Session = Depends(parent_session)
                       ) -> HTMLResponse:
    t = translator(request)
    form = await request.form()
    family = await load_family(request, session)
    child = _child(family, str(form.get("enfant") or ""))
    values = _form(form, [c for c in family.children if c.id != child.id])
    params = {level: str(form.get(level) or "") for level in LEVELS}
    errors, status = FormErrors(), 422
    try:
        group_id = str(uuid.UUID(params["groupe"]))
    except ValueError:
        group_id = ""
        errors.top(t("registration.new.error.group"))
    if values["semaine_type"] == "oui" and not values["jours"]:
        errors.add("jours", t("registration.new.error.days"))
    if len(values["memo"]) > MEMO_MAX:
        errors.add("memo", t("registration.new.error.memo", max=t.number(MEMO_MAX)))
    if not errors:
        try:
            with page_errors(request, keep=ANY_PROBLEM):
                results = await enrolment_of(request).request(
                    session.family_id, session.access_token, _payload(child, group_id, values))
            return _results(request, family, results)
        except UpstreamProblem as problem:
            status = problem.status
            errors.add_problem(problem, _field_of)
            if not problem.errors and not problem.detail:
                errors.top(t("registration.new.error.refused"))
        except UpstreamUnavailable:
            errors.top(t("error.enrolment_down"))
            status = 503
    # The form again, as it was: the offer is asked only now (not on the way to success).
    try:
        offer, unknown = await _offer(request, session, child)
    except UpstreamUnavailable:
        offer, unknown = None, ""
        if status != 503:
            errors.top(t("error.enrolment_down"))
            status = 503
    choice = choose(offer, params) if offer else Choice()
    return _page(request, family, child, offer, unknown, choice, values, errors, focus=False,
                 status_code=status)


def _results(request: Request, family: Family, results: list[RegistrationResult]
             ) -> HTMLResponse:
    names = {c.id: c.full_name for c in family.children}
    rows = []
    for result in results:
        registration = result.registration
        name = names.get(result.child_id) or (
            f"{registration.child_first_name} {registration.child_last_name}".strip()
            if registration else "")
        rows.append({"name": name, "result": result})
    done = sum(r.ok for r in results)
    outcome = "all_ok" if done == len(results) else "all_failed" if not done else "some_failed"
    return render(request, "registration_result.html", page="registrations", rows=rows,
                  outcome=outcome)
