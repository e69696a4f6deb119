"""Dashboard, the sections still to come, and the services' health page."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice.clients import ServiceUnavailable, Services, UpstreamProblem
from marelle_backoffice.rendering import render
from marelle_backoffice.session import (
    StaffSession,
    enrolment,
    identity,
    optional_session,
    require_session,
)

router = APIRouter()
public = APIRouter()

# Sections that are shells for now: page id -> (path, number of planned actions `page.<id>.*`).
# (None left: « Facturation » has its pages, `pages/billing_*.py`.)
SHELLS: dict[str, tuple[str, int]] = {}

# `/staff/families` answers 50 families at most (API.md), so the count of those to review is a
# lower bound when the list is full.
FAMILY_SEARCH_LIMIT = 50


def _shell_route(page: str, path: str, actions: int) -> None:
    async def shell(request: Request) -> HTMLResponse:
        return render(request, "section.html", page=page, section=page,
                      actions=[f"page.{page}.action.{i}" for i in range(1, actions + 1)])

    shell.__name__ = f"{page}_page"
    router.add_api_route(path, shell, methods=["GET"])


for _page, (_path, _actions) in SHELLS.items():
    _shell_route(_page, _path, _actions)


async def _count(call: Any) -> Any:
    """A dashboard figure, or None when its service cannot give it (the page still shows)."""
    try:
        return await call
    except (ServiceUnavailable, UpstreamProblem):
        return None


@router.get("/")
async def dashboard(request: Request,
                    staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    api = identity(request, staff)
    enrol = enrolment(request, staff)
    pending, families, registrations, attestations = await asyncio.gather(
        _count(api.pending_requests()), _count(api.search_families("", needs_review=True)),
        _count(enrol.registrations("en_attente")), _count(enrol.attestation_requests("demandee")))
    to_review = None
    if families is not None:
        to_review = {"count": sum(1 for f in families if f.get("needs_review")),
                     "at_least": len(families) >= FAMILY_SEARCH_LIMIT}
    return render(request, "dashboard.html", page="dashboard",
                  pending=None if pending is None else len(pending), to_review=to_review,
                  registrations=None if registrations is None else len(registrations),
                  attestations=None if attestations is None else len(attestations))


@public.get("/sante")
async def health_page(request: Request,
                      _: StaffSession | None = Depends(optional_session)) -> HTMLResponse:
    # Public page; the optional session only brings the menu back for a signed-in agent.
    services: Services = request.app.state.services
    statuses = await services.statuses()
    return render(request, "health.html", page="health", statuses=statuses,
                  all_up=all(s.up for s in statuses))
