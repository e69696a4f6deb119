"""« Mes inscriptions »: the links of « Ma famille » land here until the enrolment module."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.models import Person
from marelle_gateway.pages.common import load_family
from marelle_gateway.rendering import render
from marelle_gateway.session import Session, parent_session

router = APIRouter()

# The guide's « you can » list of the section (`page.registrations.action.<n>`).
ACTIONS = 5
STATES = ("attente", "cours")


async def _child(request: Request, session: Session, child_id: str | None) -> Person | None:
    """The family's child named in `?enfant=`, if it is one (anything else is ignored)."""
    if not child_id:
        return None
    family = await load_family(request, session)
    return family.person(child_id, "child")


@router.get("/mes-inscriptions")
async def registrations(request: Request, enfant: str | None = None, etat: str | None = None,
                        session: Session = Depends(parent_session)) -> HTMLResponse:
    return render(request, "registrations.html", page="registrations",
                  child=await _child(request, session, enfant),
                  state=etat if etat in STATES else None, new=False,
                  actions=[f"page.registrations.action.{i}" for i in range(1, ACTIONS + 1)])


@router.get("/mes-inscriptions/nouvelle")
async def new_registration(request: Request, enfant: str | None = None,
                           session: Session = Depends(parent_session)) -> HTMLResponse:
    return render(request, "registrations.html", page="registrations",
                  child=await _child(request, session, enfant), state=None, new=True,
                  actions=[])
