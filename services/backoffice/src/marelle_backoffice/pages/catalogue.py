"""The enrolment catalogue: the tree, and the forms that create and change its nodes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.billing import billing
from marelle_backoffice.clients import ServiceUnavailable, UpstreamProblem
from marelle_backoffice.enrolment import Enrolment
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.common import (
    checked_id,
    flash,
    parse_date,
    parse_time,
    paris_moment,
    paris_parts,
)
from marelle_backoffice.pages.tree import CatalogueIndex, Place, window_state
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, enrolment, require_session

router = APIRouter()

CATALOGUE_FLASHES = ("equipement_cree", "type_cree", "activite_creee", "periode_creee",
                     "periode_modifiee", "periode_cloturee", "groupe_cree", "groupe_modifie")
MODES = ("structure", "automatique")
NAME_FIELDS = {"name": "nom"}
ACTIVITY_FIELDS = {**NAME_FIELDS, "pre_registration": "preinscription"}
# Enrolment's 422 field names -> our input ids.
PERIOD_FIELDS = {"label": "libelle", "start_date": "date-debut", "end_date": "date-fin",
                 "opens_at": "ouverture-date", "closes_at": "fermeture-date",
                 "priority_opens_at": "prioritaire-date", "residents_open_at": "residents-date",
                 "district_openings": "quartiers", "memo": "memo",
                 "validation_mode": "validation-structure",
                 "promotion_mode": "promotion-structure"}
GROUP_FIELDS = {"label": "libelle", "min_age": "age-min", "max_age": "age-max",
                "capacity": "capacite"}
MAX_AGE = 25


async def _index(request: Request, staff: StaffSession) -> CatalogueIndex:
    return CatalogueIndex(await enrolment(request, staff).catalogue())


def _node(nodes: Mapping[str, Place], node_id: str) -> Place:
    place = nodes.get(checked_id(node_id))
    if place is None:
        raise HTTPException(404)
    return place


def _created(message: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/catalogue?message={message}#{anchor}", status_code=303)


def _upstream(errors: FormErrors, problem: UpstreamProblem, fields: Mapping[str, str],
              fallback: str, conflict_field: str | None = None) -> int:
    """Enrolment's 409/422 on our fields or at the top; the status to answer with."""
    if problem.status not in (409, 422):
        raise problem
    errors.add_problem(problem, fields, fallback)
    if problem.status == 409 and conflict_field and not problem.errors:
        # A conflict about one value (duplicate name, capacity) belongs by that field.
        errors.general.clear()
        errors.add(conflict_field, problem.detail or fallback)
    return problem.status


@router.get("/catalogue")
async def catalogue(request: Request,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    index = await _index(request, staff)
    return render(request, "catalogue.html", page="registrations", section="catalogue",
                  facilities=index.facilities,
                  windows={pid: window_state(place.period) for pid, place in index.period.items()
                           if place.period is not None},
                  message=flash(request, CATALOGUE_FLASHES))


# --- équipement, type d'activité, activité: a name (and for an activity, pre-registration) ----

def _name_page(request: Request, kind: str, action: str, *, place: Place | None = None,
               values: dict[str, Any] | None = None, errors: FormErrors | None = None,
               status_code: int = 200) -> HTMLResponse:
    return render(request, "catalogue_name.html", page="registrations", section="catalogue",
                  kind=kind, action=action, place=place,
                  values=values or {"nom": "", "preinscription": False},
                  errors=errors or FormErrors(), status_code=status_code)


def _name_of(form: Mapping[str, Any], errors: FormErrors, t: Translator, kind: str) -> str:
    name = text(form, "nom")
    if not name:
        errors.add("nom", t(f"catalogue.{kind}.error.name"))
    elif len(name) > 120:
        errors.add("nom", t("catalogue.error.name_length"))
    return name


FACILITY_NEW = "/catalogue/equipements/nouveau"


@router.get(FACILITY_NEW)
async def new_facility(request: Request) -> HTMLResponse:
    return _name_page(request, "facility", FACILITY_NEW)


@router.post(FACILITY_NEW)
async def create_facility(request: Request,
                          staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    errors = FormErrors()
    name = _name_of(await request.form(), errors, t, "facility")
    status = 422
    if not errors:
        try:
            new_id = await enrolment(request, staff).create_facility(name)
        except UpstreamProblem as problem:
            status = _upstream(errors, problem, NAME_FIELDS, t("catalogue.error.refused"), "nom")
        else:
            return _created("equipement_cree", f"equipement-{new_id}")
    return _name_page(request, "facility", FACILITY_NEW, values={"nom": name}, errors=errors,
                      status_code=status)


@router.get("/catalogue/equipements/{facility_id}/types/nouveau")
async def new_activity_type(request: Request, facility_id: str,
                            staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).facility, facility_id)
    return _name_page(request, "activity_type", request.url.path, place=place)


@router.post("/catalogue/equipements/{facility_id}/types/nouveau")
async def create_activity_type(request: Request, facility_id: str,
                               staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    facility_id = checked_id(facility_id)
    errors = FormErrors()
    name = _name_of(await request.form(), errors, t, "activity_type")
    status = 422
    if not errors:
        try:
            new_id = await enrolment(request, staff).create_activity_type(facility_id, name)
        except UpstreamProblem as problem:
            status = _upstream(errors, problem, NAME_FIELDS, t("catalogue.error.refused"), "nom")
        else:
            return _created("type_cree", f"type-{new_id}")
    place = _node((await _index(request, staff)).facility, facility_id)
    return _name_page(request, "activity_type", request.url.path, place=place,
                      values={"nom": name}, errors=errors, status_code=status)


@router.get("/catalogue/types/{activity_type_id}/activites/nouvelle")
async def new_activity(request: Request, activity_type_id: str,
                       staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).activity_type, activity_type_id)
    return _name_page(request, "activity", request.url.path, place=place)


@router.post("/catalogue/types/{activity_type_id}/activites/nouvelle")
async def create_activity(request: Request, activity_type_id: str,
                          staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    activity_type_id = checked_id(activity_type_id)
    form = await request.form()
    errors = FormErrors()
    name = _name_of(form, errors, t, "activity")
    pre_registration = form.get("preinscription") == "oui"
    status = 422
    if not errors:
        try:
            new_id = await enrolment(request, staff).create_activity(
                activity_type_id, name, pre_registration)
        except UpstreamProblem as problem:
            status = _upstream(errors, problem, ACTIVITY_FIELDS, t("catalogue.error.refused"),
                               "nom")
        else:
            return _created("activite_creee", f"activite-{new_id}")
    place = _node((await _index(request, staff)).activity_type, activity_type_id)
    return _name_page(request, "activity", request.url.path, place=place,
                      values={"nom": name, "preinscription": pre_registration}, errors=errors,
                      status_code=status)


# --- période, groupe: one form each, to create or to change the node ---------------------------

Reader = Callable[[Mapping[str, Any], Translator], tuple[dict[str, str], dict[str, Any], FormErrors]]


class _NodeForm(NamedTuple):
    """What the period and group forms differ by."""
    template: str
    read: Reader  # the form -> what was typed (shown again), enrolment's body, the errors
    fields: Mapping[str, str]  # enrolment's 422 field names -> our input ids
    context: Mapping[str, Any]  # more for the template
    # More for the template, read at render time (the period form: billing's districts).
    more: Callable[[Request, StaffSession, Place, bool], Awaitable[dict[str, Any]]] | None = None


async def _form_page(request: Request, staff: StaffSession, form: _NodeForm, place: Place, *,
                     editing: bool, values: dict[str, str], errors: FormErrors | None = None,
                     status_code: int = 200) -> HTMLResponse:
    more = await form.more(request, staff, place, editing) if form.more else {}
    return render(request, form.template, page="registrations", section="catalogue",
                  place=place, editing=editing, action=request.url.path, values=values,
                  **form.context, **more, errors=errors or FormErrors(),
                  status_code=status_code)


async def _submit(request: Request, staff: StaffSession, form: _NodeForm, *, editing: bool,
                  save: Callable[[Enrolment, dict[str, Any]], Awaitable[Any]],
                  saved: Callable[[Any], Response], place: Callable[[CatalogueIndex], Place],
                  conflict_field: str | None = None) -> Response:
    """Check the form, send it, and redirect once saved; else the form again with its errors.

    `save(api, body)` sends it, `saved(answer)` is the redirect, `place(index)` the node shown
    above the form (looked up only when the form comes back)."""
    t = Translator()
    values, body, errors = form.read(await request.form(), t)
    status = 422
    if not errors:
        try:
            answer = await save(enrolment(request, staff), body)
        except UpstreamProblem as problem:
            status = _upstream(errors, problem, form.fields, t("catalogue.error.refused"),
                               conflict_field)
        else:
            return saved(answer)
    return await _form_page(request, staff, form, place(await _index(request, staff)),
                            editing=editing, values=values, errors=errors, status_code=status)


# --- période ------------------------------------------------------------------------------------

def _period_values(period: dict[str, Any] | None) -> dict[str, str]:
    """The form's values: empty for a new period, the current ones (in Paris) for an edit."""
    if period is None:
        return {"libelle": "", "date-debut": "", "date-fin": "", "ouverture-date": "",
                "ouverture-heure": "", "fermeture-date": "", "fermeture-heure": "",
                "prioritaire-date": "", "prioritaire-heure": "", "residents-date": "",
                "residents-heure": "", "memo": "",
                "validation": "structure", "promotion": "automatique"}
    values = {"libelle": period.get("label") or "",
              "date-debut": _dmy(period.get("start_date")),
              "date-fin": _dmy(period.get("end_date")),
              "memo": period.get("memo") or "",
              "validation": period.get("validation_mode") or "structure",
              "promotion": period.get("promotion_mode") or "automatique"}
    for prefix, key in (("ouverture", "opens_at"), ("fermeture", "closes_at"),
                        ("prioritaire", "priority_opens_at"),
                        ("residents", "residents_open_at")):
        values[f"{prefix}-date"], values[f"{prefix}-heure"] = paris_parts(period.get(key))
    for opening in period.get("district_openings") or []:
        prefix = f"quartier-{opening['district']}"
        values[f"{prefix}-date"], values[f"{prefix}-heure"] = paris_parts(opening["opens_at"])
    return values


_DISTRICT_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")


async def _districts(request: Request, staff: StaffSession, place: Place,
                     editing: bool) -> dict[str, Any]:
    """The period form's districts: billing's list, read now, plus those the period already
    opens to (so that a billing outage or a deleted district never clears an opening). Billing
    down: the form works without the others, and says so."""
    unavailable = False
    try:
        known = [(d["code"], d["label"]) for d in await billing(request, staff).districts()]
    except (ServiceUnavailable, UpstreamProblem):
        known, unavailable = [], True
    codes = {code for code, _ in known}
    if editing and place.period:
        known += [(o["district"], o["district_label"])
                  for o in place.period.get("district_openings") or []
                  if o["district"] not in codes]
    return {"districts": known, "districts_unavailable": unavailable}


def _read_districts(form: Mapping[str, Any], values: dict[str, str], errors: FormErrors,
                    t: Translator, opens: datetime | None) -> list[dict[str, Any]]:
    """« Ouverture quartier Nord »…: one optional moment per district the form showed (its
    code and name come back in hidden fields)."""
    getlist = getattr(form, "getlist", None)
    codes = [c for c in (getlist("quartiers") if getlist else []) if isinstance(c, str)]
    openings = []
    for code in dict.fromkeys(codes):
        if not _DISTRICT_CODE.match(code):
            continue
        prefix = f"quartier-{code}"
        label = text(form, f"{prefix}-libelle")[:120] or code
        values[f"{prefix}-libelle"] = label
        for part in ("date", "heure"):
            values[f"{prefix}-{part}"] = text(form, f"{prefix}-{part}")
        moment = _moment(values, prefix, errors, t, required=False, key="district",
                         district=label)
        if moment is None:
            continue
        if opens and moment >= opens:
            errors.add(f"{prefix}-date", t("period.error.district_after_opens", district=label))
        openings.append({"district": code, "district_label": label, "opens_at": _iso(moment)})
    return openings


def _dmy(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return ""


def _moment(values: dict[str, str], prefix: str, errors: FormErrors, t: Translator,
            required: bool, key: str | None = None, **words: Any) -> datetime | None:
    """A date field + an hour field, in Paris, as an aware date-time. `key`: the messages'
    (the prefix by default), `words`: their parameters (a district's name)."""
    key = key or prefix
    day_id, hour_id = f"{prefix}-date", f"{prefix}-heure"
    day_text, hour_text = values[day_id], values[hour_id]
    if not day_text and not hour_text and not required:
        return None
    day = parse_date(day_text) if day_text else None
    hour = parse_time(hour_text) if hour_text else None
    if not day_text:
        errors.add(day_id, t(f"period.error.{key}.date", **words))
    elif day is None:
        errors.add(day_id, t("period.error.date_format", field=t(f"period.{key}.date", **words)))
    if not hour_text:
        errors.add(hour_id, t(f"period.error.{key}.hour", **words))
    elif hour is None:
        errors.add(hour_id, t("period.error.hour_format", field=t(f"period.{key}.hour", **words)))
    if day is None or hour is None:
        return None
    moment = paris_moment(day, hour)
    if moment is None:
        errors.add(hour_id, t("period.error.hour_gap", field=t(f"period.{key}.hour", **words)))
    return moment


def _read_period(form: Mapping[str, Any], t: Translator
                 ) -> tuple[dict[str, str], dict[str, Any], FormErrors]:
    """The period form: what was typed (shown again), the body for enrolment, the errors.

    Checks formats here, and the four orderings too so that each message sits by its field
    (enrolment checks them again and answers 422 with a sentence only)."""
    values = {name: text(form, name) for name in _period_values(None)}
    errors = FormErrors()
    if not values["libelle"]:
        errors.add("libelle", t("period.error.label"))
    days = {}
    for field_id in ("date-debut", "date-fin"):
        if not values[field_id]:
            errors.add(field_id, t(f"period.error.{field_id}"))
        elif (day := parse_date(values[field_id])) is None:
            errors.add(field_id, t("period.error.date_format", field=t(f"period.{field_id}")))
        else:
            days[field_id] = day
    opens = _moment(values, "ouverture", errors, t, required=True)
    closes = _moment(values, "fermeture", errors, t, required=True)
    priority = _moment(values, "prioritaire", errors, t, required=False)
    residents = _moment(values, "residents", errors, t, required=False)
    if len(days) == 2 and days["date-fin"] < days["date-debut"]:
        errors.add("date-fin", t("period.error.end_before_start"))
    if opens and closes and closes <= opens:
        errors.add("fermeture-date", t("period.error.closes_before_opens"))
    if priority and opens and priority >= opens:
        errors.add("prioritaire-date", t("period.error.priority_after_opens"))
    if residents and opens and residents >= opens:
        errors.add("residents-date", t("period.error.residents_after_opens"))
    districts = _read_districts(form, values, errors, t, opens)
    for name, field_id in (("validation", "validation-structure"),
                           ("promotion", "promotion-structure")):
        if values[name] not in MODES:
            errors.add(field_id, t(f"period.error.{name}"))
    body = {"label": values["libelle"], "start_date": days.get("date-debut"),
            "end_date": days.get("date-fin"), "opens_at": _iso(opens),
            "closes_at": _iso(closes), "priority_opens_at": _iso(priority), "memo": values["memo"],
            "validation_mode": values["validation"], "promotion_mode": values["promotion"]}
    if residents:  # absent: none (the PUT replaces the whole period, so it clears one)
        body["residents_open_at"] = _iso(residents)
    if districts:  # likewise: absent, enrolment clears them
        body["district_openings"] = districts
    return values, body, errors


PERIOD = _NodeForm("period_form.html", _read_period, PERIOD_FIELDS, {"modes": MODES},
                   _districts)


def _iso(moment: datetime | None) -> str | None:
    """With the Paris offset (`2016-10-20T08:00:00+02:00`): the instant the agent meant."""
    return moment.isoformat() if moment else None


@router.get("/catalogue/activites/{activity_id}/periodes/nouvelle")
async def new_period(request: Request, activity_id: str,
                     staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).activity, activity_id)
    return await _form_page(request, staff, PERIOD, place, editing=False,
                            values=_period_values(None))


@router.post("/catalogue/activites/{activity_id}/periodes/nouvelle")
async def create_period(request: Request, activity_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    activity_id = checked_id(activity_id)
    return await _submit(
        request, staff, PERIOD, editing=False,
        save=lambda api, body: api.create_period(activity_id, body),
        saved=lambda new_id: _created("periode_creee", f"periode-{new_id}"),
        place=lambda index: _node(index.activity, activity_id))


@router.get("/catalogue/periodes/{period_id}/modifier")
async def edit_period(request: Request, period_id: str,
                      staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).period, period_id)
    return await _form_page(request, staff, PERIOD, place, editing=True,
                            values=_period_values(place.period))


@router.post("/catalogue/periodes/{period_id}/modifier")
async def update_period(request: Request, period_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    period_id = checked_id(period_id)
    return await _submit(
        request, staff, PERIOD, editing=True,
        save=lambda api, body: api.update_period(period_id, body),
        saved=lambda _: _created("periode_modifiee", f"periode-{period_id}"),
        place=lambda index: _node(index.period, period_id))


@router.get("/catalogue/periodes/{period_id}/cloture")
async def close_period_form(request: Request, period_id: str,
                            staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).period, period_id)
    return render(request, "period_close.html", page="registrations", section="catalogue",
                  place=place, error=None)


@router.post("/catalogue/periodes/{period_id}/cloture")
async def close_period(request: Request, period_id: str,
                       staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    period_id = checked_id(period_id)
    try:
        await enrolment(request, staff).close_period(period_id)
    except UpstreamProblem as problem:
        if problem.status not in (409, 422):
            raise
        place = _node((await _index(request, staff)).period, period_id)
        return render(request, "period_close.html", page="registrations", section="catalogue",
                      place=place, error=problem.detail or t("catalogue.error.refused"),
                      status_code=problem.status)
    return _created("periode_cloturee", f"periode-{period_id}")


# --- groupe -------------------------------------------------------------------------------------

def _group_values(group: dict[str, Any] | None) -> dict[str, str]:
    if group is None:
        return {"libelle": "", "age-min": "", "age-max": "", "capacite": ""}
    return {"libelle": group.get("label") or "", "age-min": str(group.get("min_age", "")),
            "age-max": str(group.get("max_age", "")), "capacite": str(group.get("capacity", ""))}


def _read_group(form: Mapping[str, Any], t: Translator
                ) -> tuple[dict[str, str], dict[str, Any], FormErrors]:
    values = {name: text(form, name) for name in _group_values(None)}
    errors = FormErrors()
    if not values["libelle"]:
        errors.add("libelle", t("group.error.label"))
    numbers: dict[str, int] = {}
    for field_id, high in (("age-min", MAX_AGE), ("age-max", MAX_AGE), ("capacite", 10_000)):
        raw = values[field_id]
        if not raw:
            errors.add(field_id, t(f"group.error.{field_id}"))
        elif not raw.isdigit() or int(raw) > high:
            errors.add(field_id, t(f"group.error.{field_id}.format"))
        else:
            numbers[field_id] = int(raw)
    if "age-min" in numbers and "age-max" in numbers and numbers["age-max"] < numbers["age-min"]:
        errors.add("age-max", t("group.error.ages_order"))
    body = {"label": values["libelle"], "min_age": numbers.get("age-min"),
            "max_age": numbers.get("age-max"), "capacity": numbers.get("capacite")}
    return values, body, errors


GROUP = _NodeForm("group_form.html", _read_group, GROUP_FIELDS, {})


@router.get("/catalogue/periodes/{period_id}/groupes/nouveau")
async def new_group(request: Request, period_id: str,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).period, period_id)
    return await _form_page(request, staff, GROUP, place, editing=False,
                            values=_group_values(None))


@router.post("/catalogue/periodes/{period_id}/groupes/nouveau")
async def create_group(request: Request, period_id: str,
                       staff: StaffSession = Depends(require_session)) -> Response:
    period_id = checked_id(period_id)
    return await _submit(
        request, staff, GROUP, editing=False,
        save=lambda api, body: api.create_group(period_id, body),
        saved=lambda new_id: _created("groupe_cree", f"groupe-{new_id}"),
        place=lambda index: _node(index.period, period_id))


@router.get("/catalogue/groupes/{group_id}/modifier")
async def edit_group(request: Request, group_id: str,
                     staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    place = _node((await _index(request, staff)).group, group_id)
    return await _form_page(request, staff, GROUP, place, editing=True,
                            values=_group_values(place.group))


@router.post("/catalogue/groupes/{group_id}/modifier")
async def update_group(request: Request, group_id: str,
                       staff: StaffSession = Depends(require_session)) -> Response:
    group_id = checked_id(group_id)
    return await _submit(
        request, staff, GROUP, editing=True,
        save=lambda api, body: api.update_group(group_id, body),
        saved=lambda _: _created("groupe_modifie", f"groupe-{group_id}"),
        place=lambda index: _node(index.group, group_id),
        conflict_field="capacite")  # 409: the capacity would fall below the places taken.
