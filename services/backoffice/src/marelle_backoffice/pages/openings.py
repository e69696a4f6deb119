"""« Ouverture en direct »: staff watch a period's opening live (tickets received and decided,
places left, waiting lists per group). The page reloads itself every few seconds, without
JavaScript; enrolment answers it with three queries whatever the number of groups."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_backoffice.pages.common import checked_id
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, enrolment, require_session

router = APIRouter()

REFRESH_SECONDS = 5


@router.get("/catalogue/periodes/{period_id}/ouverture")
async def opening(request: Request, period_id: str,
                  staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    data = await enrolment(request, staff).opening(checked_id(period_id))
    resources = data.get("resources") or []
    totals = {key: sum(r[key] for r in resources)
              for key in ("capacity", "received", "decided", "places_left", "waitlisted")}
    return render(request, "opening.html", page="registrations", section="catalogue",
                  data=data, resources=resources, totals=totals, refresh=REFRESH_SECONDS)
