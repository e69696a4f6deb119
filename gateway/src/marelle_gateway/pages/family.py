"""« Ma famille »: the household's persons, adding a child or a second guardian, editing them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_gateway.forms import UPSTREAM_LANGUAGE, FormErrors, form_values, parse_date, require
from marelle_gateway.i18n import Translator
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable, family_path
from marelle_gateway.models import Family, Person
from marelle_gateway.pages.common import call_identity, load_family
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session

router = APIRouter()

PERSON_FIELDS = ("first_name", "last_name", "birth_date", "sex")
# `/ma-famille?confirmation=<name>` after a change (allow-list of notices).
NOTICES = {"ajout": "family.notice.added", "modification": "family.notice.updated"}
# Person kind in the URL -> identity's role and collection.
KINDS = {"enfant": ("child", "children"), "responsable": ("guardian", "guardians")}
MAX_GUARDIANS = 2


@router.get("/ma-famille")
async def family_page(request: Request, confirmation: str | None = None,
                      session: Session = Depends(parent_session)) -> HTMLResponse:
    family = await load_family(request, session)
    return render(request, "family.html", page="family", family=family,
                  notice_key=NOTICES.get(confirmation or ""))


# --- Adding a person ----------------------------------------------------------------------

@router.get("/ma-famille/ajouter")
async def add_person_form(request: Request, session: Session = Depends(parent_session)
                          ) -> HTMLResponse:
    family = await load_family(request, session)
    can_add_guardian = len(family.guardians) < MAX_GUARDIANS
    kind = request.query_params.get("type")
    if kind == "enfant" or (kind == "responsable" and can_add_guardian):
        return _person_form(request, kind, _blank(family, kind), FormErrors())
    errors = FormErrors()
    if kind is not None:
        # The choice form was sent without a choice (or with one that is not offered).
        errors.add("type", translator(request)("family.add.error.choose"))
    return render(request, "add_person_choice.html", page="family",
                  can_add_guardian=can_add_guardian, errors=errors,
                  status_code=422 if errors else 200)


def _blank(family: Family, kind: str) -> dict[str, str]:
    values = dict.fromkeys(PERSON_FIELDS, "")
    if kind == "enfant" and family.guardians:
        # Children most often bear a guardian's name: one field less to type.
        values["last_name"] = family.guardians[0].last_name
    return values


@router.post("/ma-famille/ajouter")
async def add_person(request: Request, session: Session = Depends(parent_session)) -> Response:
    kind = (await form_values(request, "type"))["type"]
    if kind not in KINDS:
        return RedirectResponse("/ma-famille/ajouter", status_code=303)
    return await _save(request, session, kind, None)


# --- Editing a person ---------------------------------------------------------------------

def _edit_routes(kind: str, segment: str) -> None:
    role = KINDS[kind][0]
    path = f"/ma-famille/{segment}/{{person_id}}/modifier"

    async def edit_form(request: Request, person_id: str,
                        session: Session = Depends(parent_session)) -> HTMLResponse:
        person = await _person(request, session, person_id, role)
        values = {"first_name": person.first_name, "last_name": person.last_name,
                  "birth_date": person.birth_date.isoformat() if person.birth_date else "",
                  "sex": person.sex or ""}
        return _person_form(request, kind, values, FormErrors(), person=person)

    async def edit(request: Request, person_id: str,
                   session: Session = Depends(parent_session)) -> Response:
        person = await _person(request, session, person_id, role)
        return await _save(request, session, kind, person)

    edit_form.__name__, edit.__name__ = f"edit_{role}_form", f"edit_{role}"
    router.add_api_route(path, edit_form, methods=["GET"])
    router.add_api_route(path, edit, methods=["POST"])


async def _person(request: Request, session: Session, person_id: str, role: str) -> Person:
    try:
        uuid.UUID(person_id)
    except ValueError:
        raise HTTPException(404) from None
    person = (await load_family(request, session)).person(person_id, role)
    if person is None:
        raise HTTPException(404)
    return person


_edit_routes("enfant", "enfants")
_edit_routes("responsable", "responsables")


# --- The person form ----------------------------------------------------------------------

def _person_form(request: Request, kind: str, values: dict[str, str], errors: FormErrors, *,
                 person: Person | None = None, status_code: int = 200) -> HTMLResponse:
    segment = "enfants" if kind == "enfant" else "responsables"
    action = f"/ma-famille/{segment}/{person.id}/modifier" if person else "/ma-famille/ajouter"
    return render(request, "person_form.html", page="family", kind=kind, person=person,
                  action=action, values=values, errors=errors, status_code=status_code)


def _validate(values: dict[str, str], kind: str, errors: FormErrors, t: Translator) -> dict:
    require(values, errors, t, "first_name", "last_name")
    if kind == "enfant":
        require(values, errors, t, "birth_date")
    birth_date = parse_date(values["birth_date"]) if values["birth_date"] else None
    if values["birth_date"] and birth_date is None:
        errors.add("birth_date", t("form.error.date"))
    elif birth_date:
        values["birth_date"] = birth_date.isoformat()  # what a date input can show again
    if values["sex"] not in ("", "F", "M"):
        errors.add("sex", t("form.error.choice"))
    return {"first_name": values["first_name"], "last_name": values["last_name"],
            "birth_date": birth_date.isoformat() if birth_date else None,
            "sex": values["sex"] or None}


async def _save(request: Request, session: Session, kind: str, person: Person | None
                ) -> Response:
    t = translator(request)
    values = await form_values(request, *PERSON_FIELDS)
    errors, status = FormErrors(), 422
    body = _validate(values, kind, errors, t)
    if not errors:
        collection = KINDS[kind][1]
        path = family_path(session.family_id, collection, *([person.id] if person else []))
        try:
            await call_identity(request, session, "PUT" if person else "POST", path,
                                ok=(200,) if person else (201,), json=body)
            notice = "modification" if person else "ajout"
            return RedirectResponse(f"/ma-famille?confirmation={notice}", status_code=303)
        except UpstreamProblem as problem:
            status = problem.status
            if problem.status == 409:
                errors.top(problem.detail or t("error.conflict"),
                           UPSTREAM_LANGUAGE if problem.detail else None)
            else:
                errors.add_problem(problem, {name: name for name in PERSON_FIELDS})
        except UpstreamUnavailable:
            errors.top(t("error.identity_down"))
            status = 503
    return _person_form(request, kind, values, errors, person=person, status_code=status)
