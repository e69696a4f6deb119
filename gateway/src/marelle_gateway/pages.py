"""Parent portal pages (server-rendered, no JavaScript needed): thin handlers over `render`."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from marelle_gateway.clients import Upstreams
from marelle_gateway.rendering import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# Menu pages that are shells for now: page id -> (path, number of "you can" actions).
# Their wording comes from the reference guide, through the catalogue (`page.<id>.*`).
SHELLS = {
    "family": ("/ma-famille", 5),
    "contact": ("/mes-coordonnees", 7),
    "registrations": ("/mes-inscriptions", 5),
    "account": ("/mon-compte", 4),
}


def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


@router.get("/")
async def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", page="home")


@router.post("/connexion")
async def login(request: Request) -> HTMLResponse:
    # Login arrives with the identity issue; the form already posts here.
    return render(request, "notice.html", page="home", title_key="login.soon.title",
                  message_key="login.soon.message")


@router.get("/connexion")
async def login_form() -> RedirectResponse:
    return RedirectResponse("/", status_code=303)


@router.get("/mot-de-passe-oublie")
async def forgotten_password(request: Request) -> HTMLResponse:
    return render(request, "notice.html", page=None, title_key="password.soon.title",
                  message_key="password.soon.message")


@router.get("/tableau-de-bord")
async def dashboard(request: Request, famille: str | None = None) -> HTMLResponse:
    # Until login exists the family comes from `?famille=<uuid>`; later from the session.
    if not famille:
        return render(request, "dashboard.html", page="dashboard", history=None, invalid=False)
    try:
        family_id = uuid.UUID(famille)
    except ValueError:
        return render(request, "dashboard.html", page="dashboard", history=None, invalid=True,
                      status_code=400)
    history = await _upstreams(request).family_requests(str(family_id))
    return render(request, "dashboard.html", page="dashboard", history=history, invalid=False)


def _shell_route(page: str, path: str, actions: int) -> None:
    async def shell(request: Request) -> HTMLResponse:
        return render(request, "section.html", page=page, section=page,
                      actions=[f"page.{page}.action.{i}" for i in range(1, actions + 1)])

    shell.__name__ = f"{page}_page"
    router.add_api_route(path, shell, methods=["GET"])


for _page, (_path, _actions) in SHELLS.items():
    _shell_route(_page, _path, _actions)


@router.get("/sante")
async def health_page(request: Request) -> HTMLResponse:
    statuses = await _upstreams(request).statuses()
    return render(request, "health.html", page=None, statuses=statuses,
                  all_up=all(s.up for s in statuses))
