"""« Ma famille », « Mes coordonnées » and the dashboard, for the household's own guardians."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from marelle_identity.api import schemas as s
from marelle_identity.api.deps import OwnFamily, UoW
from marelle_identity.usecases import contact, households

router = APIRouter(prefix="/families/{family_id}", tags=["household"])


def _child(body: s.ChildIn) -> households.NewChild:
    return households.NewChild(body.first_name, body.last_name, body.birth_date, body.sex)


def _guardian(body: s.GuardianIn) -> households.NewGuardian:
    return households.NewGuardian(body.first_name, body.last_name, body.birth_date, body.sex)


@router.get("", response_model=s.Family)
async def get_family(family_id: OwnFamily, uow: UoW) -> Any:
    return await households.get_family(uow, family_id)


@router.post("/children", status_code=status.HTTP_201_CREATED, response_model=s.Person)
async def add_child(family_id: OwnFamily, body: s.ChildIn, uow: UoW) -> Any:
    return await households.add_child(uow, family_id, _child(body))


@router.put("/children/{person_id}", response_model=s.Person)
async def update_child(family_id: OwnFamily, person_id: uuid.UUID, body: s.ChildIn,
                       uow: UoW) -> Any:
    return await households.update_child(uow, family_id, person_id, _child(body))


@router.post("/guardians", status_code=status.HTTP_201_CREATED, response_model=s.Person)
async def add_guardian(family_id: OwnFamily, body: s.GuardianIn, uow: UoW) -> Any:
    return await households.add_guardian(uow, family_id, _guardian(body))


@router.put("/guardians/{person_id}", response_model=s.Person)
async def update_guardian(family_id: OwnFamily, person_id: uuid.UUID, body: s.GuardianIn,
                          uow: UoW) -> Any:
    return await households.update_guardian(uow, family_id, person_id, _guardian(body))


@router.get("/contact", response_model=s.Contact)
async def get_contact(family_id: OwnFamily, uow: UoW) -> Any:
    return await contact.get_contact(uow, family_id)


@router.post("/contact-change-requests", status_code=status.HTTP_201_CREATED,
             response_model=s.ContactChangeRequest)
async def request_contact_change(family_id: OwnFamily, body: s.ContactChangeIn, uow: UoW) -> Any:
    return await contact.request_change(uow, family_id, body.proposal())


@router.get("/contact-change-requests", response_model=s.ContactChangeRequests)
async def contact_change_requests(family_id: OwnFamily, uow: UoW) -> Any:
    return {"items": await contact.family_requests(uow, family_id)}


@router.get("/requests", response_model=s.RequestItems)
async def dashboard(family_id: OwnFamily, uow: UoW) -> Any:
    return {"items": contact.dashboard_items(await contact.family_requests(uow, family_id))}
