"""« Mes coordonnées »: the family's contact details and its change requests to the structure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_gateway.forms import UPSTREAM_LANGUAGE, FormErrors
from marelle_gateway.i18n import Translator
from marelle_gateway.identity import UpstreamProblem, UpstreamUnavailable, family_path
from marelle_gateway.models import Contact, ContactChangeRequest
from marelle_gateway.pages.common import call_identity, parse
from marelle_gateway.rendering import render, translator
from marelle_gateway.session import Session, parent_session

router = APIRouter()

RANKS = (1, 2)
PHONE_KINDS = ("mobile_phone", "work_phone")
TEXT_FIELDS = ("beneficiary_name", "beneficiary_scheme", "beneficiary_number")
SCHEMES = ("CAF", "MSA", "AUTRE")
FORM_FIELDS = ("home_phone", *(f"{kind}_{rank}" for rank in RANKS for kind in PHONE_KINDS),
               *TEXT_FIELDS)
# A guardian's phone in identity's field names: `guardian_phones.0.mobile_phone` (index in the
# list sent) in 422 errors; the pending request's `changes` may name the guardian by person id
# or rank (API.md does not say which): all are understood.
GUARDIAN_FIELD = re.compile(
    r"^guardian(?:_phone)?s?[.\[/](?P<who>[^.\]/]+)\]?[./](?P<kind>mobile_phone|work_phone)$")


async def _contact(request: Request, session: Session) -> Contact:
    body = await call_identity(request, session, "GET", family_path(session.family_id, "contact"))
    return parse(Contact, body)


# --- Reading ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    key: str  # catalogue key of the label
    value: str | None  # None: « Non renseigné »
    person: str | None = None  # the guardian behind « Parent 1 / 2 »


def contact_rows(contact: Contact, t: Translator) -> list[Row]:
    rows = [Row("contact.field.home_phone", contact.display("home_phone"))]
    for rank in RANKS:
        guardian = contact.guardian(rank)
        name = f"{guardian.first_name} {guardian.last_name}".strip() if guardian else None
        for kind in PHONE_KINDS:
            rows.append(Row(f"contact.field.{kind}_{rank}",
                            guardian.display(kind) if guardian else None, name or None))
    scheme = contact.beneficiary_scheme and t(f"contact.scheme.{contact.beneficiary_scheme}")
    rows += [Row("contact.field.beneficiary_name", contact.beneficiary_name),
             Row("contact.field.beneficiary_scheme", scheme),
             Row("contact.field.beneficiary_number", contact.beneficiary_number)]
    return rows


def national_phone(value: str) -> str:
    """"+33612345678" -> "06 12 34 56 78" (French numbers); anything else as it is."""
    if re.fullmatch(r"\+33\d{9}", value):
        digits = "0" + value[3:]
        return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    return value


def _change_label(name: str, contact: Contact, t: Translator) -> str:
    if name in ("home_phone", *TEXT_FIELDS):
        return t(f"contact.field.{name}")
    match = GUARDIAN_FIELD.match(name)
    if match:
        who, kind = match["who"], match["kind"]
        guardian = next((g for g in contact.guardians if str(g.person_id) == str(who)), None)
        rank = guardian.rank if guardian else int(who) if who in ("1", "2") else None
        if rank:
            return t(f"contact.field.{kind}_{rank}")
        return t(f"contact.field.{kind}_any")
    return t("contact.field.other")


def _change_value(name: str, value: Any, t: Translator) -> str:
    if value in (None, ""):
        return t("contact.value.empty")
    text = str(value)
    if name == "beneficiary_scheme" and text in SCHEMES:
        return t(f"contact.scheme.{text}")
    return national_phone(text) if name.endswith("phone") else text


def describe_changes(change: ContactChangeRequest, contact: Contact, t: Translator
                     ) -> list[dict[str, str]]:
    return [{"label": _change_label(name, contact, t),
             "before": _change_value(name, (values or {}).get("before"), t),
             "after": _change_value(name, (values or {}).get("after"), t)}
            for name, values in change.changes.items()]


def _pending(contact: Contact, t: Translator) -> list[dict[str, str]] | None:
    if contact.pending_request is None or contact.pending_request.status != "en_attente":
        return None
    return describe_changes(contact.pending_request, contact, t)


@router.get("/mes-coordonnees")
async def contact_page(request: Request, session: Session = Depends(parent_session)
                       ) -> HTMLResponse:
    t = translator(request)
    contact = await _contact(request, session)
    return render(request, "contact.html", page="contact", contact=contact,
                  rows=contact_rows(contact, t), pending=_pending(contact, t))


@router.get("/mes-coordonnees/demande-envoyee")
async def request_sent(request: Request, session: Session = Depends(parent_session)
                       ) -> HTMLResponse:
    t = translator(request)
    contact = await _contact(request, session)
    return render(request, "contact_sent.html", page="contact", pending=_pending(contact, t))


# --- Changing -----------------------------------------------------------------------------

def current_values(contact: Contact) -> dict[str, str]:
    """The form's starting values: phones as people write them."""
    values = {"home_phone": contact.display("home_phone") or ""}
    for rank in RANKS:
        guardian = contact.guardian(rank)
        for kind in PHONE_KINDS:
            values[f"{kind}_{rank}"] = (guardian.display(kind) if guardian else None) or ""
    for name in TEXT_FIELDS:
        values[name] = getattr(contact, name) or ""
    return values


def _phone_key(value: str | None) -> str:
    digits = re.sub(r"[^\d+]", "", value or "")
    for prefix in ("+33", "0033"):
        if digits.startswith(prefix):
            return "0" + digits[len(prefix):]
    return digits


def changed_fields(form: Mapping[str, str | None], contact: Contact) -> dict[str, Any]:
    """identity's `ContactChangeIn` with only what differs from `contact`.

    A field absent from the form (e.g. parent 2 added since the form was shown) is unchanged;
    a field emptied is sent as "" (identity clears it).
    """
    changes: dict[str, Any] = {}
    home = form.get("home_phone")
    if home is not None and _phone_key(home) != _phone_key(contact.home_phone):
        changes["home_phone"] = home
    phones = []
    for guardian in sorted(contact.guardians, key=lambda g: g.rank):
        entry = {}
        for kind in PHONE_KINDS:
            typed = form.get(f"{kind}_{guardian.rank}")
            if typed is not None and _phone_key(typed) != _phone_key(getattr(guardian, kind)):
                entry[kind] = typed
        if entry:
            phones.append({"person_id": str(guardian.person_id), **entry})
    if phones:
        changes["guardian_phones"] = phones
    for name in TEXT_FIELDS:
        typed = form.get(name)
        if typed is None:
            continue
        before = getattr(contact, name) or ""
        same = (typed.replace(" ", "") == before.replace(" ", "")
                if name == "beneficiary_number" else typed == before)
        if not same:
            changes[name] = typed
    return changes


def _error_field(champ: str, sent: dict[str, Any], contact: Contact) -> str | None:
    if champ in ("home_phone", *TEXT_FIELDS):
        return champ
    match = GUARDIAN_FIELD.match(champ)
    if not match:
        return None
    who, kind = match["who"], match["kind"]
    phones = sent.get("guardian_phones", [])
    if who.isdigit() and int(who) < len(phones):
        who = phones[int(who)]["person_id"]
    guardian = next((g for g in contact.guardians if str(g.person_id) == str(who)), None)
    return f"{kind}_{guardian.rank}" if guardian else None


def _form_page(request: Request, contact: Contact, values: dict[str, str], errors: FormErrors,
               *, unchanged: bool = False, status_code: int = 200) -> HTMLResponse:
    t = translator(request)
    return render(request, "contact_form.html", page="contact", contact=contact, values=values,
                  errors=errors, pending=_pending(contact, t), unchanged=unchanged,
                  ranks=[rank for rank in RANKS if contact.guardian(rank)],
                  status_code=status_code)


@router.get("/mes-coordonnees/modifier")
async def change_form(request: Request, session: Session = Depends(parent_session)
                      ) -> HTMLResponse:
    contact = await _contact(request, session)
    return _form_page(request, contact, current_values(contact), FormErrors())


@router.post("/mes-coordonnees/modifier")
async def change(request: Request, session: Session = Depends(parent_session)) -> Response:
    t = translator(request)
    form = await request.form()
    typed = {name: (value.strip() if isinstance(value := form.get(name), str) else None)
             for name in FORM_FIELDS}
    # Compared with the details as they are now, not as they were when the form was shown.
    contact = await _contact(request, session)
    values = {**current_values(contact), **{k: v for k, v in typed.items() if v is not None}}
    errors, status = FormErrors(), 422
    scheme = typed.get("beneficiary_scheme")
    if scheme and scheme not in SCHEMES:
        errors.add("beneficiary_scheme", t("form.error.choice"))
    changes = changed_fields(typed, contact) if not errors else {}
    if not errors and not changes:
        return _form_page(request, contact, values, errors, unchanged=True)
    if not errors:
        try:
            await call_identity(request, session, "POST",
                                family_path(session.family_id, "contact-change-requests"),
                                ok=(201,), json=changes)
            return RedirectResponse("/mes-coordonnees/demande-envoyee", status_code=303)
        except UpstreamProblem as problem:
            status = problem.status
            if problem.status == 409:
                errors.top(problem.detail or t("contact.error.pending"),
                           UPSTREAM_LANGUAGE if problem.detail else None)
            else:
                errors.add_problem(problem, lambda champ: _error_field(champ, changes, contact))
        except UpstreamUnavailable:
            errors.top(t("error.identity_down"))
            status = 503
    return _form_page(request, contact, values, errors, status_code=status)
