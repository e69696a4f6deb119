"""Helpers shared by the « Facturation » pages: billing's refusals shown by the form, months,
régie choices, downloads passed on."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from fastapi import HTTPException
from fastapi.responses import Response

from marelle_backoffice.booking import Download
from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors

SECTION = "/facturation"
# Billing's refusals a staff member can act on (the form is shown again with the reason).
FORM_STATUSES = (400, 409, 422)
_MONTH_ISO = re.compile(r"^(\d{4})-(\d{1,2})$")
_MONTH_FR = re.compile(r"^(\d{1,2})/(\d{4})$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")


def refused(errors: FormErrors, problem: UpstreamProblem,
            field_of: Mapping[str, str] | Callable[[str], str | None], fallback: str) -> int:
    """Billing's 400/409/422 on the form (its 422 fields by our inputs); anything else goes up
    (404 and 403 pages, outage). Returns the status to answer with."""
    if problem.status not in FORM_STATUSES:
        raise problem
    errors.add_problem(problem, field_of, fallback)
    return problem.status


def by_first_segment(mapping: Mapping[str, str]) -> Callable[[str], str | None]:
    """Billing's `champ` (`creditor_iban`, `payment_options.key`) → our input id."""
    return lambda champ: mapping.get(champ.split(".")[0])


def parse_month(value: str) -> str | None:
    """`2026-10` (month input) or `10/2026` → `2026-10`; None when invalid."""
    value = (value or "").strip()
    match = _MONTH_ISO.match(value)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
    else:
        match = _MONTH_FR.match(value)
        if not match:
            return None
        month, year = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        return None
    return f"{year:04d}-{month:02d}"


def month_label(value: str | None) -> str:
    """`2026-10` → « octobre 2026 »."""
    month = parse_month(value or "")
    if not month:
        return value or ""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def current_month(today: date | None = None) -> str:
    today = today or date.today()
    return f"{today.year:04d}-{today.month:02d}"


def checked_code(value: str) -> str:
    """A régie code in a URL: anything else is a 404, never a path to forward."""
    if not _CODE.match(value):
        raise HTTPException(404)
    return value


def chosen_regie(value: str, regies: list[dict[str, Any]]) -> str:
    """A régie filter from the query string: only a known code (else none)."""
    return value if any(r["code"] == value for r in regies) else ""


def passed_on(download: Download, filename: str, charset: str = "") -> Response:
    return Response(download.content, media_type=download.media_type + charset,
                    headers={"cache-control": "no-store",
                             "content-disposition": f'attachment; filename="{filename}"'})


def regie_options(regies: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(code, « name (code) ») choices of a régie select."""
    return [(r["code"], f"{r['name']} ({r['code']})") for r in regies]
