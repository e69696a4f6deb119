"""The queue of registration requests: filters, then validate or refuse one or a selection."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice import formatting
from marelle_backoffice.enrolment import Enrolment
from marelle_backoffice.forms import FormErrors
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.batch import BatchQueue, decide_selection, read_selection
from marelle_backoffice.pages.common import parse_date
from marelle_backoffice.pages.tree import CatalogueIndex
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, enrolment, require_session

router = APIRouter()

PATH = "/inscriptions"
DECISIONS = ("validate", "refuse")
# Filter name in our URL -> enrolment's query parameter (the ids of the catalogue's nodes).
ID_FILTERS = {"equipement": "facility_id", "periode": "period_id", "groupe": "group_id"}
DATE_FILTERS = ("du", "au")
_UUID = re.compile(r"^[0-9a-fA-F-]{32,36}$")


class Filters(NamedTuple):
    values: dict[str, str]  # as typed, shown again in the form
    params: dict[str, str]  # enrolment's query parameters
    query: str  # our own query string, kept across a decision


def _read_filters(request: Request, errors: FormErrors, t: Translator) -> Filters:
    """The filters of the URL; a malformed one is an error by its field (nothing is sent)."""
    values = {name: request.query_params.get(name, "").strip()
              for name in (*ID_FILTERS, *DATE_FILTERS)}
    params: dict[str, str] = {}
    for name, key in ID_FILTERS.items():
        if values[name]:
            if _UUID.match(values[name]):
                params[key] = values[name]
            else:
                errors.add(f"filtre-{name}", t(f"registrations.filter.error.{name}"))
    days: dict[str, date] = {}
    for name in DATE_FILTERS:
        if values[name]:
            day = parse_date(values[name])
            if day is None:
                errors.add(f"filtre-{name}", t(f"registrations.filter.error.{name}"))
            else:
                days[name] = date.fromisoformat(day)
    if "du" in days and "au" in days and days["au"] < days["du"]:
        errors.add("filtre-au", t("registrations.filter.error.order"))
    # Days are Paris days: from midnight of the first, to midnight after the last (exclusive).
    if "du" in days:
        params["requested_from"] = _paris_midnight(days["du"])
    if "au" in days:
        params["requested_to"] = _paris_midnight(days["au"] + timedelta(days=1))
    query = urlencode({k: v for k, v in values.items() if v})
    return Filters(values, params, query)


def _paris_midnight(day: date) -> str:
    return datetime.combine(day, time(0), tzinfo=formatting.PARIS).isoformat()


def _check_known(filters: Filters, index: CatalogueIndex, errors: FormErrors,
                 t: Translator) -> None:
    """An id that is no longer in the catalogue: said by its list, rather than an empty queue."""
    nodes = {"equipement": index.facility, "periode": index.period, "groupe": index.group}
    for name, key in ID_FILTERS.items():
        if key in filters.params and filters.params[key] not in nodes[name]:
            errors.add(f"filtre-{name}", t(f"registrations.filter.error.{name}"))


def _label(item: dict[str, Any]) -> str:
    """« AUTOMNE - Automne 2016 (6-8 ans) »: what a result line names besides the child."""
    return f"{item.get('activity_name', '')} - {item.get('period_label', '')} " \
           f"({item.get('group_label', '')})"


def _child(item: dict[str, Any]) -> str:
    return f"{item.get('child_first_name', '')} {item.get('child_last_name', '')}".strip()


async def _load(api: Enrolment, filters: Filters, errors: FormErrors,
                t: Translator) -> tuple[CatalogueIndex, list[dict[str, Any]] | None]:
    """The catalogue (for the filter lists) and the queue; no queue when a filter is wrong."""
    if errors:
        return CatalogueIndex(await api.catalogue()), None
    facilities, items = await asyncio.gather(api.catalogue(), api.registrations(**filters.params))
    index = CatalogueIndex(facilities)
    _check_known(filters, index, errors, t)
    return index, None if errors else items


def _queue_page(request: Request, index: CatalogueIndex, filters: Filters,
                items: list[dict[str, Any]] | None, *, errors: FormErrors | None = None,
                done: list[dict[str, str]] | None = None, selected: set[str] | None = None,
                reasons: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "registrations.html", page="registrations", section="queue",
                  index=index, filters=filters.values, query=filters.query,
                  filtered=any(filters.values.values()),
                  items=[{**i, "id": str(i["id"])} for i in items or []],
                  listed=items is not None, errors=errors or FormErrors(), done=done or [],
                  selected=selected or set(), reasons=reasons or {}, status_code=status_code)


@router.get(PATH)
async def queue(request: Request, staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    errors = FormErrors()
    filters = _read_filters(request, errors, t)
    index, items = await _load(enrolment(request, staff), filters, errors, t)
    return _queue_page(request, index, filters, items, errors=errors,
                       status_code=422 if errors else 200)


@router.post(PATH)
async def decide(request: Request, staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    t = Translator()
    api = enrolment(request, staff)
    errors = FormErrors()
    filters = _read_filters(request, errors, t)
    index, before = await _load(api, filters, errors, t)
    if before is None:  # the filters of the URL were tampered with: decide nothing
        return _queue_page(request, index, filters, None, errors=errors, status_code=422)
    selection = read_selection(await request.form())
    known = {str(r["id"]): r for r in before}

    def done_row(registration_id: str) -> dict[str, str]:
        row = known.get(registration_id, {})
        return {"child": _child(row) or t("registrations.unknown"),
                "label": _label(row) if row else ""}

    def failure_summary(registration_id: str, message: str) -> str:
        child = _child(known.get(registration_id, {})) or t("registrations.unknown")
        return t("registrations.error.item", child=child, message=message)

    batch = BatchQueue(DECISIONS, "registration_id",
                       none_selected=t("registrations.error.none_selected"),
                       refused=t("registrations.error.refused"))
    result = await decide_selection(
        batch, selection, before, errors, send=api.decide,
        reload=lambda: api.registrations(**filters.params),
        done_row=done_row, failure_summary=failure_summary)
    return _queue_page(request, index, filters, result.pending, **result.page())
