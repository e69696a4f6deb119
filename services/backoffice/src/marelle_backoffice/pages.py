"""Staff pages (server-rendered, no JavaScript needed): thin handlers over `render`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice.clients import Services
from marelle_backoffice.rendering import MENU, render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

# Menu pages that are shells for now: page id -> number of planned actions (`page.<id>.*`).
SHELLS = {"dashboard": 4, "families": 3, "registrations": 3, "bookings": 3, "billing": 4,
          "dead_letters": 2}


def _services(request: Request) -> Services:
    return request.app.state.services


def _shell_route(page: str, path: str, actions: int) -> None:
    async def shell(request: Request) -> HTMLResponse:
        return render(request, "section.html", page=page, section=page,
                      actions=[f"page.{page}.action.{i}" for i in range(1, actions + 1)])

    shell.__name__ = f"{page}_page"
    router.add_api_route(path, shell, methods=["GET"])


for _page, _key, _path in MENU:
    if _page in SHELLS:
        _shell_route(_page, _path, SHELLS[_page])


@router.get("/connexion")
async def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html", page=None, submitted=False)


@router.post("/connexion")
async def login(request: Request) -> HTMLResponse:
    # Staff login arrives with the identity issue; the form already posts here.
    return render(request, "login.html", page=None, submitted=True)


@router.get("/sante")
async def health_page(request: Request) -> HTMLResponse:
    statuses = await _services(request).statuses()
    return render(request, "health.html", page="health", statuses=statuses,
                  all_up=all(s.up for s in statuses))
