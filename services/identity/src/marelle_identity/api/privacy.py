"""GDPR: the family's export and deletion request; staff decisions and the reads log."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, status

from marelle_identity.api import schemas as s
from marelle_identity.api.deps import Administrator, OwnFamily, Staff, UoW
from marelle_identity.usecases import privacy

family_router = APIRouter(prefix="/families/{family_id}", tags=["household"])
staff_router = APIRouter(prefix="/staff", tags=["staff"])


@family_router.get("/export", response_model=s.FamilyExport)
async def export(family_id: OwnFamily, uow: UoW) -> Any:
    """Everything identity holds on the household (right of access), without any password
    hash, token or secret."""
    return await privacy.export(uow, family_id)


@family_router.post("/deletion-requests", status_code=status.HTTP_201_CREATED,
                    response_model=s.DeletionRequest, responses={
                        409: {"description": "Une demande est déjà en attente, ou le foyer a "
                                             "déjà été anonymisé"}})
async def request_deletion(family_id: OwnFamily, body: s.DeletionRequestIn, uow: UoW) -> Any:
    return await privacy.request_deletion(uow, family_id, body.reason)


@family_router.get("/deletion-requests", response_model=s.DeletionRequests)
async def deletion_requests(family_id: OwnFamily, uow: UoW) -> Any:
    return {"items": await privacy.family_deletions(uow, family_id)}


@staff_router.get("/deletion-requests", response_model=s.PendingDeletionRequests)
async def staff_deletion_requests(_: Administrator, uow: UoW,
                                  status: Literal["en_attente", "acceptee", "refusee"]
                                  = "en_attente") -> Any:
    return {"items": await privacy.staff_deletions(uow, status)}


@staff_router.post("/deletion-requests/{request_id}/decision", response_model=s.DeletionRequest,
                   responses={409: {"description": "Demande déjà traitée"}})
async def decide_deletion(request_id: uuid.UUID, body: s.DeletionDecisionIn, actor: Administrator,
                          uow: UoW) -> Any:
    """Accepting anonymises the household everywhere (`identity.household_anonymised`)."""
    return await privacy.decide_deletion(uow, actor, request_id, body.decision == "accept",
                                         body.reason)


@staff_router.get("/families/{family_id}/reads", response_model=s.HouseholdReads)
async def household_reads(family_id: uuid.UUID, _: Staff, uow: UoW, limit: int = 50) -> Any:
    """Who read this household's file, most recent first (reading this list is not logged)."""
    return {"items": await privacy.household_reads(uow, family_id, max(1, min(limit, 500)))}
