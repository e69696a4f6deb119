"""Server-side rendering: one Jinja2 environment, the menu, the language of each page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from marelle_chassis.settings import DEVELOPMENT_NOTICE

from marelle_gateway.i18n import LANG_COOKIE, Translator, available_languages, negotiate
from marelle_gateway.session import current_session, csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The reference guide's menu, in its order: (page id, catalogue key, path).
MENU = (
    ("home", "menu.home", "/"),
    ("dashboard", "menu.dashboard", "/tableau-de-bord"),
    ("family", "menu.family", "/ma-famille"),
    ("contact", "menu.contact", "/mes-coordonnees"),
    ("registrations", "menu.registrations", "/mes-inscriptions"),
    ("account", "menu.account", "/mon-compte"),
)

templates = Jinja2Templates(directory=TEMPLATES_DIR)
# A parent-facing page must never show an undefined variable silently.
templates.env.undefined = StrictUndefined
# Lighter HTML for phones: no blank lines left by the template tags.
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True

_ONE_YEAR = 365 * 24 * 3600


def _relative(url: Any) -> str:
    return url.path + (f"?{url.query}" if url.query else "")


def render(request: Request, template: str, *, page: str | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render `template` in the negotiated language; `page` marks the active menu entry."""
    lang, explicit = negotiate(request, request.app.state.settings.default_language)
    switches = [{"lang": other, "url": _relative(request.url.include_query_params(lang=other))}
                for other in available_languages() if other != lang]
    response = templates.TemplateResponse(request, template, {
        "t": Translator(lang), "lang": lang, "menu": MENU, "page": page,
        "language_switches": switches, "session": current_session(request),
        # Called by the forms only: a page without a form sets no CSRF cookie.
        "csrf_token": lambda: csrf_token(request),
        "development_notice": (DEVELOPMENT_NOTICE if request.app.state.settings.is_development
                               else None), **context,
    }, status_code=status_code, headers=headers)
    if explicit:
        # Remember an explicit choice so the menu links keep the language without `?lang=`.
        response.set_cookie(LANG_COOKIE, lang, max_age=_ONE_YEAR, samesite="lax", httponly=True)
    return response


def translator(request: Request) -> Translator:
    """The catalogue of the page's language, for messages built by the handlers."""
    return Translator(negotiate(request, request.app.state.settings.default_language)[0])
