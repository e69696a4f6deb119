"""« Mon tableau de bord »: every service's requests of the family, most recent first."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.rendering import render
from marelle_gateway.session import Session, parent_session

router = APIRouter()


@router.get("/tableau-de-bord")
async def dashboard(request: Request, session: Session = Depends(parent_session)) -> HTMLResponse:
    # The family is the token's: a `?famille=` in the address is ignored.
    history = await request.app.state.upstreams.family_requests(session.family_id,
                                                                session.access_token)
    return render(request, "dashboard.html", page="dashboard", history=history)
