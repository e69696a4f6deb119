"""School classes (from the schools' system): the classes of a school year, and a class's children
with their registrations and the age-group checks enrolment makes."""

from __future__ import annotations

import re
from datetime import date, datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice import formatting
from marelle_backoffice.i18n import Translator
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, enrolment, require_session

router = APIRouter()

_YEAR = re.compile(r"^(\d{4})-(\d{4})$")
# The registration statuses a class list shows (enrolment sends the active ones).
STATUSES = ("en_attente", "validee", "liste_attente", "other")


def current_school_year(today: date | None = None) -> str:
    """The school year under way: it starts on 1 September."""
    today = today or datetime.now(formatting.PARIS).date()
    first = today.year if today.month >= 9 else today.year - 1
    return f"{first}-{first + 1}"


def checked_year(value: str) -> str | None:
    match = _YEAR.match(value.strip())
    if not match or int(match[2]) != int(match[1]) + 1:
        return None
    return value.strip()


def _shift(year: str, step: int) -> str:
    first = int(year[:4]) + step
    return f"{first}-{first + 1}"


@router.get("/classes")
async def classes(request: Request, annee: str = "",
                  staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    year = checked_year(annee) if annee else current_school_year()
    if year is None:
        # A year typed by hand: said by its field, the list not asked for.
        return render(request, "classes.html", page="registrations", section="classes",
                      year=annee, items=[], error=Translator()("classes.error.year"),
                      previous=None, following=None, status_code=422)
    data = await enrolment(request, staff).classes(year)
    return render(request, "classes.html", page="registrations", section="classes", year=year,
                  items=data["items"], error=None, previous=_shift(year, -1),
                  following=_shift(year, 1))


@router.get("/classes/eleves")
async def class_children(request: Request, annee: str = "", ecole: str = "", classe: str = "",
                         staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    year = checked_year(annee)
    ecole, classe = ecole.strip(), classe.strip()
    if year is None or not 0 < len(ecole) <= 20 or not 0 < len(classe) <= 60:
        raise HTTPException(404)
    data = await enrolment(request, staff).class_children(year, ecole, classe)
    children = data["children"]
    to_check = sum(1 for c in children for r in c.get("registrations") or [] if r.get("flags"))
    return render(request, "class_children.html", page="registrations", section="classes",
                  year=year, data=data, children=children, to_check=to_check,
                  statuses=STATUSES)
