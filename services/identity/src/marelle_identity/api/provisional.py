"""Skeleton endpoint kept for the platform's end-to-end tests (no account, no auth)."""

from __future__ import annotations

from fastapi import APIRouter, status

from marelle_identity.api import schemas as s
from marelle_identity.api.deps import UoW
from marelle_identity.usecases import households

router = APIRouter(tags=["skeleton"])


@router.post("/provisional/families", status_code=status.HTTP_201_CREATED,
             response_model=s.ProvisionalFamilyCreated,
             summary="Skeleton: a household with one child, flagged for review, without account")
async def create_provisional_family(body: s.ProvisionalFamilyIn,
                                    uow: UoW) -> s.ProvisionalFamilyCreated:
    c = body.child
    family = await households.create_provisional_family(
        uow, body.name, body.email, households.NewChild(c.first_name, c.last_name, c.birth_date, c.sex))
    return s.ProvisionalFamilyCreated(family_id=family.id, child_id=family.children[0].id)
