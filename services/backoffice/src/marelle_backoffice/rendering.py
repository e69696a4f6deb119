"""Server-side rendering of the staff pages: one Jinja2 environment and the menu."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from marelle_chassis.settings import DEVELOPMENT_NOTICE

from marelle_backoffice import formatting
from marelle_backoffice.billing import euros
from marelle_backoffice.i18n import Translator
from marelle_backoffice.session import csrf_token, store_csrf_cookie

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


class MenuEntry(NamedTuple):
    page: str
    key: str  # catalogue key of the label
    path: str
    admin_only: bool = False


MENU = (
    MenuEntry("dashboard", "menu.dashboard", "/"),
    MenuEntry("families", "menu.families", "/familles"),
    MenuEntry("requests", "menu.requests", "/demandes/coordonnees"),
    MenuEntry("registrations", "menu.registrations", "/inscriptions"),
    MenuEntry("bookings", "menu.bookings", "/reservations"),
    MenuEntry("billing", "menu.billing", "/facturation"),
    MenuEntry("audit", "menu.audit", "/journal", admin_only=True),
    MenuEntry("agents", "menu.agents", "/agents", admin_only=True),
    MenuEntry("dead_letters", "menu.dead_letters", "/messages-en-echec", admin_only=True),
    MenuEntry("health", "menu.health", "/sante"),
)

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.undefined = StrictUndefined
templates.env.filters.update(
    date=formatting.french_date, datetime=formatting.french_datetime,
    iso=formatting.iso_datetime, age=formatting.age, phone=formatting.phone,
    euros=euros)


def render(request: Request, template: str, *, page: str | None = None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    translator = Translator()
    staff = getattr(request.state, "staff", None)
    # Managers do not see the administrators' entries (the pages refuse them anyway).
    menu = [m for m in MENU if staff and (staff.is_admin or not m.admin_only)]
    response = templates.TemplateResponse(request, template, {
        "t": translator, "lang": translator.lang, "menu": menu, "page": page, "staff": staff,
        "csrf": csrf_token(request),
        "development_notice": (DEVELOPMENT_NOTICE if request.app.state.settings.is_development
                               else None), **context,
    }, status_code=status_code)
    store_csrf_cookie(request, response)
    return response
