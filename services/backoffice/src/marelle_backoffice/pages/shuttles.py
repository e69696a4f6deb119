"""A period's shuttle lines (« navettes »): their stops with times and seats; create and change.

The form sends booking's `ShuttleLineIn` (`POST /staff/shuttle-lines`,
`PUT /staff/shuttle-lines/{line_id}`), built and checked through that model."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.bookings import SECTION, period_title
from marelle_backoffice.pages.common import checked_id, flash, parse_time
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, booking, require_session

router = APIRouter()

LINES = f"{SECTION}/periodes/{{period_id}}/navettes"
SHUTTLE_FLASHES = ("ligne_creee", "ligne_modifiee")
EXTRA_STOP_ROWS = 3
MAX_STOP_ROWS = 40


def lines_path(period_id: str) -> str:
    return f"{SECTION}/periodes/{period_id}/navettes"


@router.get(LINES)
async def shuttle_lines(request: Request, period_id: str,
                        staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = booking(request, staff)
    period_id = checked_id(period_id)
    period, lines = await asyncio.gather(api.period(period_id), api.shuttle_lines(period_id))
    return render(request, "shuttles.html", page="bookings", period=period,
                  title=period_title(period), lines=lines,
                  message=flash(request, SHUTTLE_FLASHES))


def _hm(value: Any) -> str:
    return str(value or "")[:5]


def _values(line: Mapping[str, Any] | None) -> dict[str, Any]:
    stops = [{"nom": s["name"], "matin": _hm(s.get("morning_time")),
              "soir": _hm(s.get("evening_time"))} for s in (line or {}).get("stops") or []]
    stops += [{"nom": "", "matin": "", "soir": ""}] * EXTRA_STOP_ROWS
    return {"nom": (line or {}).get("name", ""), "places": str((line or {}).get("seats", "")),
            "arrets": stops}


class LineForm:
    """The form read back: values (shown again), booking's body, the stop row of each body
    stop (for booking's field errors)."""

    def __init__(self, form: Mapping[str, Any], period_id: str, t: Translator) -> None:
        self.errors = errors = FormErrors()
        count = text(form, "arrets")
        rows = min(max(int(count) if count.isdigit() else 0, 1), MAX_STOP_ROWS + EXTRA_STOP_ROWS)
        self.values = {"nom": text(form, "nom"), "places": text(form, "places"),
                       "arrets": [{"nom": text(form, f"arret-{i}-nom"),
                                   "matin": text(form, f"arret-{i}-matin"),
                                   "soir": text(form, f"arret-{i}-soir")} for i in range(rows)]}
        if not self.values["nom"]:
            errors.add("nom", t("shuttle.error.name"))
        seats = self.values["places"]
        if not seats.isdigit() or not 1 <= int(seats) <= 200:
            errors.add("places", t("shuttle.error.seats"))
        self.stop_rows: list[int] = []
        stops = []
        names: set[str] = set()
        for i, row in enumerate(self.values["arrets"]):
            if not any(row.values()):
                continue
            if not row["nom"]:
                errors.add(f"arret-{i}-nom", t("shuttle.error.stop_name"))
            elif len(row["nom"]) > 120:
                errors.add(f"arret-{i}-nom", t("catalogue.error.name_length"))
            elif row["nom"].casefold() in names:
                errors.add(f"arret-{i}-nom", t("shuttle.error.stop_twice", name=row["nom"]))
            names.add(row["nom"].casefold())
            stop: dict[str, Any] = {"name": row["nom"]}
            for part, key in (("matin", "morning_time"), ("soir", "evening_time")):
                if row[part]:
                    hour = parse_time(row[part])
                    if hour is None:
                        errors.add(f"arret-{i}-{part}", t("shuttle.error.time"))
                    else:
                        stop[key] = hour.strftime("%H:%M")
            if not row["matin"] and not row["soir"]:
                errors.add(f"arret-{i}-matin", t("shuttle.error.no_time"))
            stops.append(stop)
            self.stop_rows.append(i)
        if not stops:
            errors.add("arret-0-nom", t("shuttle.error.no_stop"))
        self.body = {"period_id": period_id, "name": self.values["nom"],
                     "seats": int(seats) if seats.isdigit() else None, "stops": stops}

    def conflict_field(self, detail: str) -> str:
        for i, row in enumerate(self.values["arrets"]):
            if row["nom"] and f"« {row['nom']} »".casefold() in detail.casefold():
                return f"arret-{i}-nom"
        return "places"

    def field_of(self, champ: str) -> str | None:
        parts = champ.split(".")
        if parts[0] in ("name", "seats"):
            return {"name": "nom", "seats": "places"}[parts[0]]
        if parts[0] == "stops":
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(self.stop_rows):
                part = {"morning_time": "matin", "evening_time": "soir"}.get(
                    parts[2] if len(parts) > 2 else "", "nom")
                return f"arret-{self.stop_rows[int(parts[1])]}-{part}"
            return "arret-0-nom"
        return None


def _form_page(request: Request, period: dict[str, Any], line: dict[str, Any] | None,
               values: dict[str, Any], errors: FormErrors | None = None,
               status_code: int = 200) -> HTMLResponse:
    return render(request, "shuttle_form.html", page="bookings", period=period,
                  title=period_title(period), line=line, values=values,
                  action=request.url.path, errors=errors or FormErrors(),
                  status_code=status_code)


async def _line(request: Request, staff: StaffSession, period_id: str,
                line_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    api = booking(request, staff)
    period, lines = await asyncio.gather(api.period(period_id), api.shuttle_lines(period_id))
    line = next((x for x in lines if str(x["line_id"]) == line_id), None)
    if line is None:
        raise HTTPException(404)
    return period, line


async def _submit(request: Request, staff: StaffSession, period_id: str,
                  line: dict[str, Any] | None, period: dict[str, Any] | None = None) -> Response:
    t = Translator()
    api = booking(request, staff)
    read = LineForm(await request.form(), period_id, t)
    errors, status = read.errors, 422
    if not errors:
        try:
            if line is None:
                new_id = await api.create_shuttle_line(read.body)
            else:
                new_id = str(line["line_id"])
                await api.update_shuttle_line(new_id, read.body)
        except UpstreamProblem as problem:
            if problem.status not in (409, 422):
                raise
            errors.add_problem(problem, read.field_of, t("shuttle.error.refused"))
            if problem.status == 409 and not problem.errors and line is not None:
                # A stop with bookings (named in the message) is said by that stop; else it is
                # the seats, below those already taken.
                errors.general.clear()
                errors.add(read.conflict_field(problem.detail or ""),
                           problem.detail or t("shuttle.error.refused"))
            status = problem.status
        else:
            message = "ligne_creee" if line is None else "ligne_modifiee"
            return RedirectResponse(f"{lines_path(period_id)}?message={message}#ligne-{new_id}",
                                    status_code=303)
    period = period or await api.period(period_id)
    return _form_page(request, period, line, read.values, errors, status)


@router.get(f"{LINES}/nouvelle")
async def new_line(request: Request, period_id: str,
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    period = await booking(request, staff).period(checked_id(period_id))
    return _form_page(request, period, None, _values(None))


@router.post(f"{LINES}/nouvelle")
async def create_line(request: Request, period_id: str,
                      staff: StaffSession = Depends(require_session)) -> Response:
    return await _submit(request, staff, checked_id(period_id), None)


@router.get(f"{LINES}/{{line_id}}/modifier")
async def edit_line(request: Request, period_id: str, line_id: str,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    period, line = await _line(request, staff, checked_id(period_id), checked_id(line_id))
    return _form_page(request, period, line, _values(line))


@router.post(f"{LINES}/{{line_id}}/modifier")
async def update_line(request: Request, period_id: str, line_id: str,
                      staff: StaffSession = Depends(require_session)) -> Response:
    period_id = checked_id(period_id)
    period, line = await _line(request, staff, period_id, checked_id(line_id))
    return await _submit(request, staff, period_id, line, period)
