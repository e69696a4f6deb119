"""« Réservations »: the section's index and a period's booking calendar (the manager's options).

The calendar form sends booking's `CalendarSettingsIn` (`PUT /staff/calendars/{period_id}`), built
and checked through that model: what booking would refuse is shown by its field without a round
trip, and booking's own 422/409 go by the field they name too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.clients import UpstreamProblem
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
from marelle_backoffice.pages.tree import CatalogueIndex
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, booking, enrolment, require_session

router = APIRouter()

SECTION = "/reservations"
CALENDAR_FLASHES = ("enregistre",)
KINDS = ("accueil", "supplement", "journee")
ZONES = ("A", "B", "C")
DEADLINES = {"reservation": "booking_deadline", "annulation": "cancellation_deadline"}
EXTRA_UNIT_ROWS = 2
MAX_UNIT_ROWS = 20
_CODE = re.compile(r"^[a-z0-9_-]{1,40}$")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")


# --- shared by the booking pages ---------------------------------------------------------------

def checked_day(value: str) -> str:
    """A day in a URL (`AAAA-MM-JJ`): anything else is a 404, never a path to forward."""
    try:
        return date.fromisoformat(value).isoformat() if len(value) == 10 else _no_day()
    except ValueError:
        return _no_day()


def _no_day() -> str:
    raise HTTPException(404)


def period_title(period: Mapping[str, Any]) -> str:
    """« AUTOMNE - Automne 2016 », as the guide names a period."""
    return f"{period.get('activity_name', '')} - {period.get('label', '')}"


def group_labels(period: Mapping[str, Any]) -> dict[str, str]:
    return {str(g["group_id"]): str(g.get("label", "")) for g in period.get("groups") or []}


def unit_labels(calendar: Mapping[str, Any] | None) -> dict[str, str]:
    return {u["code"]: u["label"] for u in (calendar or {}).get("units") or []}


def dmy(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    except ValueError:
        return ""


def french_day(value: str | date) -> str:
    """« jeudi 20/10/2016 »."""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return f"{Translator()(f'weekday.{day.isoweekday()}')} {day.strftime('%d/%m/%Y')}"


# --- the section --------------------------------------------------------------------------------

@router.get(SECTION)
async def section(request: Request,
                  staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    index = CatalogueIndex(await enrolment(request, staff).catalogue())
    periods = [p for p in index.periods() if p.period is not None]
    return render(request, "bookings.html", page="bookings", periods=periods)


# --- a period's calendar ------------------------------------------------------------------------

def calendar_path(period_id: str) -> str:
    return f"{SECTION}/periodes/{period_id}/calendrier"


def _hm(value: Any) -> str:
    return str(value or "")[:5]


def _opening(values: Mapping[str, str], errors: FormErrors, t: Translator) -> Any:
    """The scheduled opening of bookings (a date and an hour in Paris), or None: open at once."""
    day_text, hour_text = values["ouverture-date"], values["ouverture-heure"]
    if not day_text and not hour_text:
        return None
    day = parse_date(day_text) if day_text else None
    hour = parse_time(hour_text) if hour_text else None
    if day is None:
        errors.add("ouverture-date", t("calendar.opening.error.date"))
    if hour is None:
        errors.add("ouverture-heure", t("calendar.opening.error.hour"))
    if day is None or hour is None:
        return None
    moment = paris_moment(day, hour)
    if moment is None:
        errors.add("ouverture-heure", t("calendar.opening.error.hour"))
    return moment


def _values(calendar: Mapping[str, Any] | None, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The form's values: booking's defaults for a new calendar, else the current options."""
    c: Mapping[str, Any] = calendar or {}
    values: dict[str, Any] = {
        "jours": {str(d) for d in c.get("weekdays", [1, 2, 3, 4, 5])},
        "dates-ajoutees": "\n".join(dmy(d) for d in c.get("added_dates") or []),
        "dates-retirees": "\n".join(dmy(d) for d in c.get("removed_dates") or []),
        "feries": c.get("skip_public_holidays", True),
        "vacances": c.get("skip_school_holidays", False),
        "zone": c.get("school_zone") or "",
        "horizon": str(c.get("horizon_days") or ""),
        "modifiable": c.get("families_may_modify", True),
        "semaine": c.get("week_only", False),
        "memo": c.get("memo") or "",
    }
    values["ouverture-date"], values["ouverture-heure"] = paris_parts(c.get("bookings_open_at"))
    for prefix, key in DEADLINES.items():
        deadline = c.get(key) or {"days": 1, "working_days": False, "cutoff": "15:00"}
        values[f"{prefix}-jours"] = str(deadline.get("days", ""))
        values[f"{prefix}-ouvres"] = bool(deadline.get("working_days"))
        values[f"{prefix}-heure"] = _hm(deadline.get("cutoff"))
    units = [{"code": u["code"], "libelle": u["label"], "type": u["kind"],
              "inclut": ", ".join(u.get("implies") or [])} for u in c.get("units") or []]
    if not units:  # the guide's rows, as a start
        units = [{"code": "accueil-matin", "libelle": "Accueil du matin", "type": "accueil",
                  "inclut": ""},
                 {"code": "repas", "libelle": "Repas", "type": "supplement", "inclut": ""},
                 {"code": "journee", "libelle": "Journée complète", "type": "journee",
                  "inclut": "repas"}]
    units += [{"code": "", "libelle": "", "type": "accueil", "inclut": ""}] * EXTRA_UNIT_ROWS
    values["unites"] = units
    by_unit = {u["code"]: i for i, u in enumerate(units) if u["code"]}
    capacities: dict[str, str] = {}
    for capacity in c.get("capacities") or []:
        row = by_unit.get(capacity["unit"])
        if capacity.get("day") is None and row is not None:
            capacities[f"capacite-{capacity['group_id']}-{row}"] = str(capacity["capacity"])
    values["capacites"] = capacities
    return values


def _dates(raw: str, field_id: str, errors: FormErrors, t: Translator) -> list[str]:
    days = []
    for number, line in enumerate(raw.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        day = parse_date(line) if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", line) else None
        if day is None:
            errors.add(field_id, t("calendar.error.date_line", line=number, value=line[:20]))
        else:
            days.append(day)
    return list(dict.fromkeys(days))


def _number(values: dict[str, Any], field_id: str, low: int, high: int, errors: FormErrors,
            message: str, required: bool = True) -> int | None:
    raw = values[field_id]
    if not raw and not required:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors.add(field_id, message)
        return None
    return int(raw)


class CalendarForm:
    """The form read back: what was typed (shown again), booking's body, and which input each
    of the body's list items came from (for booking's field errors)."""

    def __init__(self, form: Mapping[str, Any], groups: list[dict[str, Any]],
                 current: Mapping[str, Any] | None, t: Translator) -> None:
        self.errors = FormErrors()
        self.unit_rows: list[int] = []  # body index -> row of the units fieldset
        self.capacity_ids: list[str | None] = []  # body index -> capacity input
        errors = self.errors
        rows = min(max(_int(text(form, "unites")), 1), MAX_UNIT_ROWS + EXTRA_UNIT_ROWS)
        values: dict[str, Any] = {
            "jours": {v for v in form.getlist("jours") if v in {str(d) for d in range(1, 8)}},
            **{name: text(form, name) for name in ("dates-ajoutees", "dates-retirees", "zone",
                                                   "horizon", "memo", "ouverture-date",
                                                   "ouverture-heure")},
            **{name: form.get(name) == "oui" for name in ("feries", "vacances", "modifiable",
                                                          "semaine")},
        }
        for prefix in DEADLINES:
            values[f"{prefix}-jours"] = text(form, f"{prefix}-jours")
            values[f"{prefix}-heure"] = text(form, f"{prefix}-heure")
            values[f"{prefix}-ouvres"] = form.get(f"{prefix}-ouvres") == "oui"
        values["unites"] = [{"code": text(form, f"unite-{i}-code"),
                             "libelle": text(form, f"unite-{i}-libelle"),
                             "type": text(form, f"unite-{i}-type") or "accueil",
                             "inclut": text(form, f"unite-{i}-inclut")} for i in range(rows)]
        values["capacites"] = {name: text(form, name) for name in form
                               if name.startswith("capacite-")}
        self.values = values

        if not values["jours"]:
            errors.add("jour-1", t("calendar.error.weekdays"))
        added = _dates(values["dates-ajoutees"], "dates-ajoutees", errors, t)
        removed = _dates(values["dates-retirees"], "dates-retirees", errors, t)
        if values["zone"] and values["zone"] not in ZONES:
            errors.add("zone", t("calendar.error.zone"))
        elif values["vacances"] and not values["zone"]:
            errors.add("zone", t("calendar.error.zone_needed"))
        deadlines = {}
        for prefix, key in DEADLINES.items():
            days = _number(values, f"{prefix}-jours", 0, 60, errors,
                           t("calendar.error.deadline_days"))
            hour_text = values[f"{prefix}-heure"]
            hour = parse_time(hour_text) if hour_text else None
            if hour is None:
                errors.add(f"{prefix}-heure", t("calendar.error.cutoff"))
            deadlines[key] = {"days": days, "working_days": values[f"{prefix}-ouvres"],
                              "cutoff": hour.strftime("%H:%M") if hour else None}
        horizon = _number(values, "horizon", 1, 730, errors, t("calendar.error.horizon"),
                          required=False)
        opens_at = _opening(values, errors, t)

        units = []
        codes: dict[str, int] = {}
        for i, row in enumerate(values["unites"]):
            if not row["code"] and not row["libelle"]:
                continue
            if not _CODE.match(row["code"]):
                errors.add(f"unite-{i}-code", t("calendar.error.unit_code"))
            elif row["code"] in codes:
                errors.add(f"unite-{i}-code", t("calendar.error.unit_twice", code=row["code"]))
            else:
                codes[row["code"]] = i
            if not row["libelle"]:
                errors.add(f"unite-{i}-libelle", t("calendar.error.unit_label"))
            if row["type"] not in KINDS:
                errors.add(f"unite-{i}-type", t("calendar.error.unit_kind"))
            implies = [c.strip() for c in re.split(r"[,;\s]+", row["inclut"]) if c.strip()]
            units.append({"code": row["code"], "label": row["libelle"], "kind": row["type"],
                          "implies": implies})
            self.unit_rows.append(i)
        if not units:
            errors.add("unite-0-code", t("calendar.error.no_unit"))
        for unit, i in zip(units, self.unit_rows, strict=True):
            for code in unit["implies"]:
                if code == unit["code"] or code not in codes:
                    errors.add(f"unite-{i}-inclut", t("calendar.error.implies", code=code))

        capacities: list[dict[str, Any]] = []
        for group in groups:
            for unit, i in zip(units, self.unit_rows, strict=True):
                field_id = f"capacite-{group['group_id']}-{i}"
                raw = values["capacites"].get(field_id, "")
                if not raw:
                    continue
                if not raw.isdigit() or int(raw) > 10_000:
                    errors.add(field_id, t("calendar.error.capacity"),
                               summary=t("calendar.error.capacity_of", group=group["label"],
                                         unit=unit["label"] or unit["code"]))
                    continue
                capacities.append({"group_id": str(group["group_id"]), "unit": unit["code"],
                                   "capacity": int(raw)})
                self.capacity_ids.append(field_id)
        # Capacities set for one day (not on this form) are kept as they are.
        for capacity in (current or {}).get("capacities") or []:
            if capacity.get("day") is not None and capacity["unit"] in codes:
                capacities.append(dict(capacity))
                self.capacity_ids.append(None)

        self.body = {
            "weekdays": sorted(int(d) for d in values["jours"]), "added_dates": added,
            "removed_dates": removed, "skip_public_holidays": values["feries"],
            "skip_school_holidays": values["vacances"], "school_zone": values["zone"] or None,
            **deadlines, "horizon_days": horizon, "families_may_modify": values["modifiable"],
            "week_only": values["semaine"], "memo": values["memo"], "units": units,
            "capacities": capacities,
            "bookings_open_at": opens_at.isoformat() if opens_at else None,
        }

    _SIMPLE = {"weekdays": "jour-1", "added_dates": "dates-ajoutees",
               "removed_dates": "dates-retirees", "skip_public_holidays": "feries",
               "skip_school_holidays": "vacances", "school_zone": "zone",
               "horizon_days": "horizon", "families_may_modify": "modifiable",
               "week_only": "semaine", "memo": "memo", "units": "unite-0-code",
               "bookings_open_at": "ouverture-date"}
    _DEADLINE_PARTS = {"days": "jours", "working_days": "ouvres", "cutoff": "heure"}
    _UNIT_PARTS = {"code": "code", "label": "libelle", "kind": "type", "implies": "inclut"}

    def field_of(self, champ: str) -> str | None:
        """Booking's field name (`units.1.code`) -> our input id (`unite-1-code`)."""
        parts = champ.split(".")
        if parts[0] in self._SIMPLE and (len(parts) == 1 or parts[0] not in ("units",)):
            return self._SIMPLE[parts[0]]
        prefix = next((p for p, key in DEADLINES.items() if key == parts[0]), None)
        if prefix:
            part = parts[1] if len(parts) > 1 else ""
            return f"{prefix}-{self._DEADLINE_PARTS.get(part, 'jours')}"
        if parts[0] in ("units", "capacities") and len(parts) > 1 and parts[1].isdigit():
            at = int(parts[1])
            if parts[0] == "units" and at < len(self.unit_rows):
                part = self._UNIT_PARTS.get(parts[2] if len(parts) > 2 else "code", "code")
                return f"unite-{self.unit_rows[at]}-{part}"
            if parts[0] == "capacities" and at < len(self.capacity_ids):
                return self.capacity_ids[at]
        return None


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _months(days: list[str]) -> list[tuple[str, list[str]]]:
    """Opening days by month: [(« octobre 2016 », [« jeu. 20 », …])]."""
    t = Translator()
    out: dict[str, list[str]] = {}
    for value in days:
        day = date.fromisoformat(str(value))
        month = f"{MONTHS[day.month - 1]} {day.year}"
        out.setdefault(month, []).append(f"{t(f'weekday.{day.isoweekday()}')} {day.day}")
    return list(out.items())


def _calendar_page(request: Request, period: dict[str, Any], calendar: dict[str, Any] | None,
                   values: dict[str, Any], errors: FormErrors | None = None,
                   status_code: int = 200) -> HTMLResponse:
    return render(request, "calendar_form.html", page="bookings", period=period,
                  title=period_title(period), calendar=calendar, values=values,
                  groups=period.get("groups") or [], kinds=KINDS, zones=ZONES,
                  deadlines=tuple(DEADLINES), months=_months(calendar["opening_days"])
                  if calendar else [], errors=errors or FormErrors(),
                  message=flash(request, CALENDAR_FLASHES), status_code=status_code)


@router.get(f"{SECTION}/periodes/{{period_id}}/calendrier")
async def calendar_form(request: Request, period_id: str,
                        staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = booking(request, staff)
    period_id = checked_id(period_id)
    period, calendar = await asyncio.gather(api.period(period_id), api.calendar(period_id))
    return _calendar_page(request, period, calendar,
                          _values(calendar, period.get("groups") or []))


@router.post(f"{SECTION}/periodes/{{period_id}}/calendrier")
async def save_calendar(request: Request, period_id: str,
                        staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    api = booking(request, staff)
    period_id = checked_id(period_id)
    period, current = await asyncio.gather(api.period(period_id), api.calendar(period_id))
    read = CalendarForm(await request.form(), period.get("groups") or [], current, t)
    errors, status = read.errors, 422
    if not errors:
        try:
            await api.save_calendar(period_id, read.body)
        except UpstreamProblem as problem:
            if problem.status not in (409, 422):
                raise
            errors.add_problem(problem, read.field_of, t("calendar.error.refused"))
            status = problem.status
        else:
            return RedirectResponse(f"{calendar_path(period_id)}?message=enregistre#resultat",
                                    status_code=303)
    return _calendar_page(request, period, current, read.values, errors, status)
