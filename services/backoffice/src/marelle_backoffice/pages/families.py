"""Families (foyers): search, household page and its actions, creation with an invitation."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import change_rows, checked_id, flash, parse_date
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, identity, require_session

router = APIRouter()

CHILD_ROWS = 4
CHILD_FIELDS = {"prenom": "first_name", "nom": "last_name", "naissance": "birth_date",
                "sexe": "sex"}
SEXES = ("F", "M")
FAMILY_FLASHES = ("creee", "invitation", "email", "verifiee")
# Identity's 422 field names -> our input ids (creation form).
CREATE_FIELDS = {"name": "nom-foyer", "email": "email",
                 "guardian.first_name": "responsable-prenom",
                 "guardian.last_name": "responsable-nom"}
_CHILD_FIELD = re.compile(r"^children\.(\d+)\.(\w+)$")


@router.get("/familles")
async def families(request: Request, q: str = "",
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    q = q.strip()
    errors = FormErrors()
    try:
        items = await identity(request, staff).search_families(q)
    except UpstreamProblem as problem:
        if problem.status != 422:
            raise
        items = []
        errors.add("q", problem.errors[0]["message"] if problem.errors
                   else problem.detail or Translator()("families.search.refused"))
    return render(request, "families.html", page="families", q=q, families=items, errors=errors,
                  status_code=422 if errors else 200)


# --- creation -----------------------------------------------------------------------------------

def _empty_form() -> dict[str, str]:
    fields = {"nom-foyer": "", "email": "", "responsable-prenom": "", "responsable-nom": ""}
    for row in range(1, CHILD_ROWS + 1):
        fields |= {f"enfant-{row}-{name}": "" for name in CHILD_FIELDS}
    return fields


def _new_family_page(request: Request, values: dict[str, str], errors: FormErrors,
                     status_code: int = 200) -> HTMLResponse:
    return render(request, "family_new.html", page="families", values=values, errors=errors,
                  rows=range(1, CHILD_ROWS + 1), status_code=status_code)


@router.get("/familles/nouvelle")
async def new_family_form(request: Request) -> HTMLResponse:
    return _new_family_page(request, _empty_form(), FormErrors())


def _read_children(values: dict[str, str], errors: FormErrors,
                   t: Translator) -> tuple[list[dict[str, Any]], list[int]]:
    """The filled child rows (an all-empty row is ignored), and the form row of each one."""
    children, rows = [], []
    for row in range(1, CHILD_ROWS + 1):
        cells = {name: values[f"enfant-{row}-{name}"] for name in CHILD_FIELDS}
        if not any(cells.values()):
            continue
        for name, key in (("prenom", "family_new.error.child_first_name"),
                          ("nom", "family_new.error.child_last_name"),
                          ("naissance", "family_new.error.child_birth_date")):
            if not cells[name]:
                errors.add(f"enfant-{row}-{name}", t(key, row=row))
        birth_date = parse_date(cells["naissance"]) if cells["naissance"] else None
        if cells["naissance"] and birth_date is None:
            errors.add(f"enfant-{row}-naissance", t("family_new.error.child_date_format", row=row))
        if cells["sexe"] and cells["sexe"] not in SEXES:
            errors.add(f"enfant-{row}-sexe", t("family_new.error.child_sex", row=row))
        children.append({"first_name": cells["prenom"], "last_name": cells["nom"],
                         "birth_date": birth_date,
                         "sex": cells["sexe"] if cells["sexe"] in SEXES else None})
        rows.append(row)
    return children, rows


@router.post("/familles/nouvelle")
async def create_family(request: Request,
                        staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    form = await request.form()
    values = {name: text(form, name) for name in _empty_form()}
    errors = FormErrors()
    for field_id, key in (("nom-foyer", "family_new.error.name"),
                          ("email", "family_new.error.email"),
                          ("responsable-prenom", "family_new.error.guardian_first_name"),
                          ("responsable-nom", "family_new.error.guardian_last_name")):
        if not values[field_id]:
            errors.add(field_id, t(key))
    if values["email"] and "@" not in values["email"]:
        errors.add("email", t("family_new.error.email_format"))
    children, rows = _read_children(values, errors, t)
    if errors:
        return _new_family_page(request, values, errors, 422)
    body = {"name": values["nom-foyer"], "email": values["email"],
            "guardian": {"first_name": values["responsable-prenom"],
                         "last_name": values["responsable-nom"], "birth_date": None, "sex": None},
            "children": children}

    def field_of(champ: str) -> str | None:
        if champ in CREATE_FIELDS:
            return CREATE_FIELDS[champ]
        match = _CHILD_FIELD.match(champ)
        if match and int(match.group(1)) < len(rows):
            name = next((k for k, v in CHILD_FIELDS.items() if v == match.group(2)), None)
            return f"enfant-{rows[int(match.group(1))]}-{name}" if name else None
        return None

    try:
        family_id = await identity(request, staff).create_family(body)
    except UpstreamProblem as problem:
        errors.add_problem(problem, field_of, t("family_new.error.refused"))
        return _new_family_page(request, values, errors, 409 if problem.status == 409 else 422)
    return RedirectResponse(f"/familles/{checked_id(family_id)}?message=creee", status_code=303)


# --- one household ------------------------------------------------------------------------------

def _family_page(request: Request, data: dict[str, Any], *, email_value: str | None = None,
                 errors: FormErrors | None = None, status_code: int = 200) -> HTMLResponse:
    family = data["family"]
    people = {str(p["id"]): f"{p['first_name']} {p['last_name']}" for p in family["persons"]}
    history = [{**r, "rows": change_rows(r.get("changes"), people)}
               for r in data.get("requests") or []]
    pending = (data.get("contact") or {}).get("pending_request")
    return render(request, "family.html", page="families", family=family,
                  contact=data.get("contact") or {}, account=data.get("account") or {},
                  history=history, people=people, reads=data.get("reads") or [],
                  pending_rows=change_rows(pending.get("changes"), people) if pending else None,
                  email_value=family["email"] if email_value is None else email_value,
                  errors=errors or FormErrors(),
                  message=flash(request, FAMILY_FLASHES), status_code=status_code)


@router.get("/familles/{family_id}")
async def family_page(request: Request, family_id: str,
                      staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    data = await identity(request, staff).family(checked_id(family_id))
    return _family_page(request, data)


def _back_to(family_id: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"/familles/{family_id}?message={message}", status_code=303)


@router.post("/familles/{family_id}/invitation")
async def resend_invitation(request: Request, family_id: str,
                            staff: StaffSession = Depends(require_session)) -> Response:
    await identity(request, staff).resend_invitation(checked_id(family_id))
    return _back_to(family_id, "invitation")


@router.post("/familles/{family_id}/verification")
async def mark_reviewed(request: Request, family_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    await identity(request, staff).mark_reviewed(checked_id(family_id))
    return _back_to(family_id, "verifiee")


@router.post("/familles/{family_id}/email")
async def change_email(request: Request, family_id: str,
                       staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    api = identity(request, staff)
    family_id = checked_id(family_id)
    email = text(await request.form(), "email")
    errors = FormErrors()
    status = 422
    if not email:
        errors.add("email", t("family.email.error.empty"))
    elif "@" not in email:
        errors.add("email", t("family_new.error.email_format"))
    else:
        try:
            await api.change_email(family_id, email)
        except UpstreamProblem as problem:
            if problem.status not in (409, 422):
                raise
            status = problem.status
            # A duplicate address concerns the field too: shown by it, not only at the top.
            errors.add_problem(problem, {"email": "email"}, t("family.email.error.refused"))
            if problem.status == 409 and not problem.errors:
                errors.general.clear()
                errors.add("email", problem.detail or t("family.email.error.refused"))
        else:
            return _back_to(family_id, "email")
    return _family_page(request, await api.family(family_id), email_value=email, errors=errors,
                        status_code=status)
