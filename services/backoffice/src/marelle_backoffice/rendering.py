"""Server-side rendering of the staff pages: one Jinja2 environment and the menu."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from marelle_backoffice.i18n import Translator

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# (page id, catalogue key, path), in menu order.
MENU = (
    ("dashboard", "menu.dashboard", "/"),
    ("families", "menu.families", "/familles"),
    ("registrations", "menu.registrations", "/inscriptions"),
    ("bookings", "menu.bookings", "/reservations"),
    ("billing", "menu.billing", "/facturation"),
    ("dead_letters", "menu.dead_letters", "/messages-en-echec"),
    ("health", "menu.health", "/sante"),
)

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.undefined = StrictUndefined


def render(request: Request, template: str, *, page: str | None = None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    translator = Translator()
    return templates.TemplateResponse(request, template, {
        "t": translator, "lang": translator.lang, "menu": MENU, "page": page, **context,
    }, status_code=status_code)
