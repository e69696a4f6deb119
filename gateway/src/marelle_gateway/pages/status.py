"""« État des services »: which upstream services answer (public)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.rendering import render
from marelle_gateway.session import optional_session

router = APIRouter(dependencies=[Depends(optional_session)])


@router.get("/sante")
async def health_page(request: Request) -> HTMLResponse:
    statuses = await request.app.state.upstreams.statuses()
    return render(request, "health.html", page=None, statuses=statuses,
                  all_up=all(s.up for s in statuses))
