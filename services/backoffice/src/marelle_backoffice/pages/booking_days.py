"""A period's days: occupancy (table, chart, spreadsheet), the day's children (printable; cancel
a booked unit) and waiting list (promote and cancel), and a group's roll call (« Pointage ») on
a tablet."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.booking import Booking, Download
from marelle_backoffice.clients import ServiceUnavailable, UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.bookings import (
    SECTION,
    checked_day,
    dmy,
    french_day,
    group_labels,
    period_title,
    unit_labels,
)
from marelle_backoffice.pages.common import checked_id, flash, parse_date
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    StaffSession,
    booking,
    enrolment,
    identity,
    require_session,
)

router = APIRouter()

PERIOD = f"{SECTION}/periodes/{{period_id}}"
DAY_FLASHES = ("promue", "annulee", "reservation_annulee")
# « Annuler » by a booked unit of a child (the waiting list's own actions: promouvoir, annuler).
CANCEL_BOOKED = "annuler_reservation"
ROLL_CALL_FLASHES = ("enregistre", "verrouille", "deverrouille")
# Statuses a staff member sets on a booked child, and the one for a child without booking.
BOOKED_STATUSES = ("present", "absent_justifie", "absent_injustifie")
UNBOOKED = "present_sans_reservation"
REASONS = ("maladie", "rendez_vous", "famille", "autre")


# --- occupancy ----------------------------------------------------------------------------------

def _range(request: Request, period: dict[str, Any], errors: FormErrors,
           t: Translator) -> tuple[dict[str, str], str | None, str | None]:
    """`?du=&au=` (JJ/MM/AAAA; the period's dates by default): as typed, then ISO."""
    values = {"du": request.query_params.get("du", "").strip() or dmy(period["start_date"]),
              "au": request.query_params.get("au", "").strip() or dmy(period["end_date"])}
    days = {}
    for name in ("du", "au"):
        day = parse_date(values[name])
        if day is None:
            errors.add(f"occupation-{name}", t(f"occupancy.error.{name}"))
        days[name] = day
    if days["du"] and days["au"] and days["au"] < days["du"]:
        errors.add("occupation-au", t("occupancy.error.order"))
        return values, None, None
    return values, days["du"], days["au"]


def _summary(rows: list[dict[str, Any]], start: str, end: str, t: Translator) -> str:
    """The chart's text alternative: totals, and the busiest day."""
    if not rows:
        return t("occupancy.alt.empty", start=dmy(start), end=dmy(end))
    booked = sum(r["booked"] for r in rows)
    per_day: dict[str, int] = {}
    for r in rows:
        per_day[str(r["day"])] = per_day.get(str(r["day"]), 0) + r["booked"]
    busiest = max(sorted(per_day), key=lambda d: per_day[d])
    return t("occupancy.alt", start=dmy(start), end=dmy(end), booked=booked,
             capacity=sum(r["capacity"] for r in rows), waiting=sum(r["waiting"] for r in rows),
             day=dmy(busiest), day_booked=per_day[busiest])


@router.get(f"{PERIOD}/occupation")
async def occupancy(request: Request, period_id: str,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    api = booking(request, staff)
    period_id = checked_id(period_id)
    period, calendar = await asyncio.gather(api.period(period_id), api.calendar(period_id))
    errors = FormErrors()
    values, start, end = _range(request, period, errors, t)
    rows: list[dict[str, Any]] = []
    query = ""
    status = 422 if errors else 200
    if start and end and not errors and calendar is not None:
        try:
            data = await api.occupancy(period_id, start, end)
        except UpstreamProblem as problem:
            if problem.status != 422:
                raise
            # The range is empty, outside the period or too long: said by the range.
            errors.add_problem(problem, lambda champ: None, t("occupancy.error.refused"))
            status = 422
        else:
            rows = sorted(data["rows"],
                          key=lambda r: (str(r["day"]), r["group_label"], r["unit"]))
            query = urlencode({"du": start, "au": end})
    return render(request, "occupancy.html", page="bookings", period=period, calendar=calendar,
                  title=period_title(period), values=values, errors=errors, rows=rows,
                  units=unit_labels(calendar), query=query,
                  alt=_summary(rows, start, end, t) if query and start and end else "",
                  status_code=status)


def _download_range(request: Request) -> tuple[str, str]:
    start = parse_date(request.query_params.get("du", ""))
    end = parse_date(request.query_params.get("au", ""))
    if not start or not end:
        raise HTTPException(404)
    return start, end


@router.get(f"{PERIOD}/occupation.svg")
async def occupancy_chart(request: Request, period_id: str,
                          staff: StaffSession = Depends(require_session)) -> Response:
    start, end = _download_range(request)
    chart = await booking(request, staff).occupancy_chart(checked_id(period_id), start, end)
    # Shown through <img>; opened on its own it still runs nothing.
    return _passed_on(chart, {"content-security-policy": "default-src 'none'; style-src "
                                                        "'unsafe-inline'"})


@router.get(f"{PERIOD}/occupation.csv")
async def occupancy_csv(request: Request, period_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    start, end = _download_range(request)
    sheet = await booking(request, staff).occupancy_csv(checked_id(period_id), start, end)
    name = f"occupation-{start}-{end}.csv"
    return _passed_on(sheet, {"content-disposition": f'attachment; filename="{name}"'},
                      charset="; charset=utf-8")


def _passed_on(download: Download, headers: dict[str, str], charset: str = "") -> Response:
    return Response(download.content, media_type=download.media_type + charset,
                    headers={"cache-control": "no-store", **headers})


# --- the day -------------------------------------------------------------------------------------

def day_path(period_id: str, day: str) -> str:
    return f"{SECTION}/periodes/{period_id}/jours/{day}"


@router.get(f"{PERIOD}/jours")
async def pick_day(request: Request, period_id: str,
                   staff: StaffSession = Depends(require_session)) -> Response:
    """« Voir une journée »: `?date=JJ/MM/AAAA` goes to that day, else the form."""
    t = Translator()
    period_id = checked_id(period_id)
    typed = request.query_params.get("date", "").strip()
    errors = FormErrors()
    period = await booking(request, staff).period(period_id)
    if typed:
        day = parse_date(typed)
        if day is None:
            errors.add("jour", t("day.error.date"))
        elif not str(period["start_date"]) <= day <= str(period["end_date"]):
            errors.add("jour", t("day.error.outside", start=dmy(period["start_date"]),
                                 end=dmy(period["end_date"])))
        else:
            return RedirectResponse(day_path(period_id, day), status_code=303)
    return _pick_page(request, period, typed or dmy(period["start_date"]), errors)


def _pick_page(request: Request, period: dict[str, Any], typed: str,
               errors: FormErrors) -> HTMLResponse:
    return render(request, "day_pick.html", page="bookings", period=period,
                  title=period_title(period), typed=typed, errors=errors,
                  status_code=422 if errors else 200)


async def _outside(request: Request, api: Booking, period_id: str, day: str,
                   problem: UpstreamProblem) -> HTMLResponse:
    """Booking's 422 for a day it cannot show (outside the period): the picker, with it."""
    if problem.status != 422:
        raise problem
    errors = FormErrors()
    errors.add("jour", problem.detail or Translator()("day.error.date"))
    return _pick_page(request, await api.period(period_id), dmy(day), errors)


async def _day_page(request: Request, staff: StaffSession, period_id: str, day: str, *,
                    errors: FormErrors | None = None, status_code: int = 200) -> HTMLResponse:
    api = booking(request, staff)
    try:
        period, calendar, children, waiting = await asyncio.gather(
            api.period(period_id), api.calendar(period_id), api.day_children(period_id, day),
            api.day_waiting_list(period_id, day))
    except UpstreamProblem as problem:
        return await _outside(request, api, period_id, day, problem)
    errors = errors or FormErrors()
    present = {str(i["reservation_id"]) for i in waiting["items"]} | {
        str(r["reservation_id"]) for g in children["groups"] for c in g["children"]
        for r in c.get("reservations") or []}
    for field_id in list(errors.fields):
        # A request that left the list meanwhile: its message moves to the top.
        if field_id.partition("-")[2] not in present:
            errors.general.append(errors.summary(field_id))
            del errors.fields[field_id]
    return render(request, "booking_day.html", page="bookings", period=period,
                  title=period_title(period), day=day, day_label=french_day(day),
                  groups=children["groups"], waiting=sorted(
                      waiting["items"], key=lambda i: (i["group_label"], i["unit"],
                                                       i["position"])),
                  units=unit_labels(calendar), errors=errors,
                  message=flash(request, DAY_FLASHES), status_code=status_code)


@router.get(f"{PERIOD}/jours/{{day}}")
async def day_page(request: Request, period_id: str, day: str,
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _day_page(request, staff, checked_id(period_id), checked_day(day))


@router.post(f"{PERIOD}/jours/{{day}}")
async def day_action(request: Request, period_id: str, day: str,
                     staff: StaffSession = Depends(require_session)) -> Response:
    """« Promouvoir » or « Annuler » one request of the day's waiting list, or « Annuler » one
    booked unit of a child (booking's staff cancel: the place goes to the waiting list)."""
    t = Translator()
    period_id, day = checked_id(period_id), checked_day(day)
    form = await request.form()
    action, _, reservation_id = text(form, "action").partition(":")
    errors = FormErrors()
    if action not in ("promouvoir", "annuler", CANCEL_BOOKED):
        errors.general.append(t("day.error.no_action"))
        return await _day_page(request, staff, period_id, day, errors=errors, status_code=422)
    reservation_id = checked_id(reservation_id)
    api = booking(request, staff)
    try:
        if action == "promouvoir":
            await api.promote(reservation_id)
        else:
            await api.cancel(reservation_id)
    except UpstreamProblem as problem:
        if problem.status not in (404, 409, 422):
            raise
        child = text(form, f"nom-{reservation_id}") or t("registrations.unknown")
        # 404: the request or the reservation is gone (booking's French detail, else ours).
        detail = problem.detail or t(f"day.error.{action}" if problem.status != 404
                                     else "day.error.unknown")
        errors.add(f"{action}-{reservation_id}", detail,
                   summary=t("registrations.error.item", child=child, message=detail))
        return await _day_page(request, staff, period_id, day, errors=errors,
                               status_code=problem.status)
    message = {"promouvoir": "promue", "annuler": "annulee",
               CANCEL_BOOKED: "reservation_annulee"}[action]
    return RedirectResponse(f"{day_path(period_id, day)}?message={message}", status_code=303)


# --- roll call ----------------------------------------------------------------------------------

def roll_call_path(period_id: str, group_id: str, day: str) -> str:
    return f"{SECTION}/periodes/{period_id}/groupes/{group_id}/jours/{day}/pointage"


def _reason_parts(reason: str | None, t: Translator) -> tuple[str, str]:
    """A recorded reason back into the form's (choice, free text)."""
    if not reason:
        return "", ""
    for key in REASONS:
        label = t(f"roll_call.reason.{key}")
        if reason == label or reason.startswith(label + " : "):
            return key, reason[len(label) + 3:] if reason != label else ""
    return "autre", reason


async def _candidates(request: Request, staff: StaffSession, period_id: str, group_id: str,
                      roll_call: dict[str, Any]) -> list[dict[str, str]]:
    """Children of the group's validated registrations not on the roll call (« présent sans
    réservation »); none when enrolment does not answer (the roll call itself still works)."""
    try:
        items = await enrolment(request, staff).registrations(
            "validee", period_id=period_id, group_id=group_id)
    except (ServiceUnavailable, UpstreamProblem):
        return []
    listed = {str(line["child_id"]) for line in roll_call["lines"]}
    out = {str(i["child_id"]): f"{i['child_first_name']} {i['child_last_name']}"
           for i in items if str(i["child_id"]) not in listed}
    return [{"id": k, "name": v} for k, v in sorted(out.items(), key=lambda kv: kv[1])]


async def _locked_by(request: Request, staff: StaffSession, roll_call: dict[str, Any],
                     t: Translator) -> str:
    who = roll_call.get("locked_by")
    if who is None:
        return t("roll_call.locked_by.unknown")
    if str(who) == staff.subject:
        return t("roll_call.locked_by.you")
    if staff.is_admin:  # only administrators may list the staff accounts
        try:
            accounts = await identity(request, staff).accounts()
        except (ServiceUnavailable, UpstreamProblem):
            accounts = []
        for account in accounts:
            if str(account.get("id")) == str(who):
                return str(account.get("display_name") or account.get("email"))
    return t("roll_call.locked_by.agent", id=str(who)[:8])


def _roll_call_values(roll_call: dict[str, Any], t: Translator) -> dict[str, dict[str, str]]:
    values = {}
    for line in roll_call["lines"]:
        choice, detail = _reason_parts(line.get("reason"), t)
        values[str(line["child_id"])] = {"statut": line.get("status") or "", "motif": choice,
                                         "precision": detail}
    return values


async def _roll_call_page(request: Request, staff: StaffSession, period_id: str, group_id: str,
                          day: str, *, roll_call: dict[str, Any] | None = None,
                          values: dict[str, dict[str, str]] | None = None,
                          added: str = "", unlock_reason: str = "",
                          errors: FormErrors | None = None,
                          status_code: int = 200) -> HTMLResponse:
    t = Translator()
    api = booking(request, staff)
    if roll_call is None:
        try:
            period, calendar, roll_call = await asyncio.gather(
                api.period(period_id), api.calendar(period_id),
                api.roll_call(period_id, group_id, day))
        except UpstreamProblem as problem:
            return await _outside(request, api, period_id, day, problem)
    else:
        period, calendar = await asyncio.gather(api.period(period_id), api.calendar(period_id))
    locked = bool(roll_call["locked"])
    candidates = [] if locked else await _candidates(request, staff, period_id, group_id,
                                                     roll_call)
    lines = sorted(roll_call["lines"], key=lambda l: (l["last_name"], l["first_name"]))
    return render(request, "roll_call.html", page="bookings", period=period,
                  title=period_title(period), day=day, day_label=french_day(day),
                  group_id=group_id, roll_call=roll_call, lines=lines,
                  group_label=(roll_call.get("group_label")
                               or group_labels(period).get(group_id, "")),
                  units=unit_labels(calendar), candidates=candidates,
                  values=values if values is not None else _roll_call_values(roll_call, t),
                  added=added, unlock_reason=unlock_reason,
                  locked_by=await _locked_by(request, staff, roll_call, t) if locked else "",
                  statuses=BOOKED_STATUSES, unbooked=UNBOOKED, reasons=REASONS,
                  errors=errors or FormErrors(), message=flash(request, ROLL_CALL_FLASHES),
                  status_code=status_code)


@router.get(f"{PERIOD}/groupes/{{group_id}}/jours/{{day}}/pointage")
async def roll_call(request: Request, period_id: str, group_id: str, day: str,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _roll_call_page(request, staff, checked_id(period_id), checked_id(group_id),
                                 checked_day(day))


def _records(form: Any, lines: list[dict[str, Any]], errors: FormErrors, t: Translator,
             lock: bool = False) -> tuple[dict[str, dict[str, str]], str, list[dict[str, Any]]]:
    """The roll call form: the values (shown again), the added child, booking's records."""
    values: dict[str, dict[str, str]] = {}
    records = []
    for line in lines:
        child_id = str(line["child_id"])
        name = f"{line['first_name']} {line['last_name']}"
        value = {"statut": text(form, f"statut-{child_id}"),
                 "motif": text(form, f"motif-{child_id}"),
                 "precision": text(form, f"precision-{child_id}")}
        values[child_id] = value
        allowed = BOOKED_STATUSES if line["booked_units"] else (UNBOOKED, *BOOKED_STATUSES)
        if not value["statut"]:
            continue
        if value["statut"] not in allowed:
            errors.add(f"statut-{child_id}", t("roll_call.error.status"),
                       summary=t("registrations.error.item", child=name,
                                 message=t("roll_call.error.status")))
            continue
        record: dict[str, Any] = {"child_id": child_id, "status": value["statut"]}
        if value["statut"] == "absent_justifie":
            if value["motif"] not in REASONS:
                errors.add(f"motif-{child_id}", t("roll_call.error.reason"),
                           summary=t("registrations.error.item", child=name,
                                     message=t("roll_call.error.reason")))
                continue
            if value["motif"] == "autre" and not value["precision"]:
                errors.add(f"precision-{child_id}", t("roll_call.error.precision"),
                           summary=t("registrations.error.item", child=name,
                                     message=t("roll_call.error.precision")))
                continue
            reason = t(f"roll_call.reason.{value['motif']}")
            if value["precision"]:
                reason = value["precision"] if value["motif"] == "autre" \
                    else f"{reason} : {value['precision']}"
            if len(reason) > 200:
                errors.add(f"precision-{child_id}", t("roll_call.error.too_long"))
                continue
            record["reason"] = reason
        records.append(record)
    if lock:
        # Booking locks only a complete roll call: say which lines are missing, by each line.
        recorded = {str(line["child_id"]) for line in lines if line.get("status")}
        for line in lines:
            child_id = str(line["child_id"])
            if not values[child_id]["statut"] and child_id not in recorded:
                name = f"{line['first_name']} {line['last_name']}"
                errors.add(f"statut-{child_id}", t("roll_call.error.missing"),
                           summary=t("registrations.error.item", child=name,
                                     message=t("roll_call.error.missing")))
    added = text(form, "ajout")
    if added:
        records.append({"child_id": checked_id(added), "status": UNBOOKED})
    return values, added, records


@router.post(f"{PERIOD}/groupes/{{group_id}}/jours/{{day}}/pointage")
async def roll_call_action(request: Request, period_id: str, group_id: str, day: str,
                           staff: StaffSession = Depends(require_session)) -> Response:
    """« Enregistrer », « Verrouiller » (after recording what is filled in),
    « Déverrouiller » (with its reason)."""
    t = Translator()
    period_id, group_id, day = checked_id(period_id), checked_id(group_id), checked_day(day)
    api = booking(request, staff)
    form = await request.form()
    action = text(form, "action")
    here = roll_call_path(period_id, group_id, day)
    errors = FormErrors()
    if action == "deverrouiller":
        reason = text(form, "motif-deverrouillage")
        if not reason:
            errors.add("motif-deverrouillage", t("roll_call.error.unlock_reason"))
        elif len(reason) > 500:
            errors.add("motif-deverrouillage", t("roll_call.error.unlock_too_long"))
        else:
            try:
                await api.unlock_roll_call(period_id, group_id, day, reason)
            except UpstreamProblem as problem:
                if problem.status not in (409, 422):
                    raise
                errors.add("motif-deverrouillage",
                           problem.detail or t("roll_call.error.refused"))
                return await _roll_call_page(request, staff, period_id, group_id, day,
                                             unlock_reason=reason, errors=errors,
                                             status_code=problem.status)
            return RedirectResponse(f"{here}?message=deverrouille", status_code=303)
        return await _roll_call_page(request, staff, period_id, group_id, day,
                                     unlock_reason=reason, errors=errors, status_code=422)
    if action not in ("enregistrer", "verrouiller"):
        errors.general.append(t("roll_call.error.no_action"))
        return await _roll_call_page(request, staff, period_id, group_id, day, errors=errors,
                                     status_code=422)
    current = await api.roll_call(period_id, group_id, day)
    values, added, records = _records(form, current["lines"], errors, t,
                                      lock=action == "verrouiller")
    if not errors and not records and action == "enregistrer":
        errors.general.append(t("roll_call.error.nothing"))
    if errors:
        return await _roll_call_page(request, staff, period_id, group_id, day, roll_call=current,
                                     values=values, added=added, errors=errors,
                                     status_code=422)
    try:
        if records:
            await api.record_roll_call(period_id, group_id, day, records)
        if action == "verrouiller":
            await api.lock_roll_call(period_id, group_id, day)
    except UpstreamProblem as problem:
        if problem.status not in (409, 422):
            raise
        errors.add_problem(problem, lambda champ: None, t("roll_call.error.refused"))
        return await _roll_call_page(request, staff, period_id, group_id, day, values=values,
                                     added=added, errors=errors, status_code=problem.status)
    message = "verrouille" if action == "verrouiller" else "enregistre"
    return RedirectResponse(f"{here}?message={message}", status_code=303)

