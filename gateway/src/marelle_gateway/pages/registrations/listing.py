"""« Mes inscriptions »: each child's registrations, waiting then current, as the guide shows
them."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from marelle_gateway.enrolment_models import MARKS, Attestation, Registration
from marelle_gateway.pages.common import load_family
from marelle_gateway.pages.registrations.common import (
    REGISTRATION_MENU,
    enrolment_of,
    page_errors,
    today,
)
from marelle_gateway.rendering import render
from marelle_gateway.session import Session, parent_session

router = APIRouter()

# `?etat=`: « Inscriptions en attente », « Inscriptions en cours » (the « Ma famille » links).
STATES = ("attente", "cours")
# Sections of a child, in page order: the two of the guide, then what is over (refused,
# cancelled or ended), so a refusal and its reason stay visible. Titles:
# `registrations.state.<id>`, empty sentences: `registrations.empty.<id>`.
SECTIONS = (*STATES, "autres")


def section_of(registration: Registration) -> str:
    """enrolment's `state=attente|cours`, computed here from one list for the whole family."""
    if registration.status in ("en_attente", "liste_attente"):
        return "attente"
    if registration.current(today()):
        return "cours"
    return "autres"


@dataclass
class ChildRegistrations:
    child_id: str
    name: str
    sections: dict[str, list[Registration]] = field(
        default_factory=lambda: {section: [] for section in SECTIONS})


def by_child(children: list[tuple[str, str]], registrations: list[Registration]
             ) -> list[ChildRegistrations]:
    """One entry per child of the family, in the family's order; a registration of a child
    no longer in the family still shows, under the name enrolment knows."""
    groups = {child_id: ChildRegistrations(child_id, name) for child_id, name in children}
    for registration in registrations:
        group = groups.get(registration.child_id)
        if group is None:
            name = f"{registration.child_first_name} {registration.child_last_name}".strip()
            group = groups[registration.child_id] = ChildRegistrations(registration.child_id,
                                                                        name)
        group.sections[section_of(registration)].append(registration)
    return list(groups.values())


def filter_links(child_id: str | None) -> list[tuple[str | None, str]]:
    """« Toutes | En attente | En cours », for the child shown (if any)."""
    links = []
    for state in (None, *STATES):
        query = {name: value for name, value in (("enfant", child_id), ("etat", state)) if value}
        links.append((state, "/mes-inscriptions" + (f"?{urlencode(query)}" if query else "")))
    return links


@router.get("/mes-inscriptions")
async def registrations(request: Request, enfant: str | None = None, etat: str | None = None,
                        session: Session = Depends(parent_session)) -> HTMLResponse:
    family = await load_family(request, session)
    child = family.person(enfant, "child") if enfant else None
    state = etat if etat in STATES else None
    registrations: list[Registration] = []
    attestations: list[Attestation] = []
    if family.children:
        enrolment = enrolment_of(request)
        with page_errors(request):
            registrations, attestations = await asyncio.gather(
                enrolment.registrations(session.family_id, session.access_token),
                enrolment.attestations(session.family_id, session.access_token))
    children = by_child([(c.id, c.full_name) for c in family.children], registrations)
    if child:
        children = [c for c in children if c.child_id == child.id]
    by_registration: dict[str, list[Attestation]] = {}
    for attestation in attestations:
        by_registration.setdefault(attestation.registration_id, []).append(attestation)
    return render(request, "registrations.html", page="registrations", child=child,
                  state=state, sections=(state,) if state else SECTIONS, children=children,
                  has_children=bool(family.children), attestations=by_registration,
                  registration_menu=REGISTRATION_MENU, marks=MARKS,
                  filters=filter_links(child.id if child else None))
