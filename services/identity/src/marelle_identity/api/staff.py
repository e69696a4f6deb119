"""Staff endpoints: households, contact-change decisions, audit log, staff accounts."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from marelle_identity.api import schemas as s
from marelle_identity.api.deps import Administrator, Staff, UoW, uow_factory
from marelle_identity.usecases import contact, households
from marelle_identity.usecases import staff as staff_cases

router = APIRouter(prefix="/staff", tags=["staff"])


@router.get("/families", response_model=s.FamilySummaries)
async def search_families(_: Staff, uow: UoW, q: str = "",
                          needs_review: bool | None = None) -> Any:
    return {"items": await staff_cases.search_families(uow, q[:200], needs_review=needs_review)}


@router.get("/families/{family_id}", response_model=s.StaffFamilyDetail)
async def family_detail(family_id: uuid.UUID, actor: Staff, uow: UoW) -> Any:
    """The household's file; each read is logged (who, when: « Consultations du dossier »)."""
    return await staff_cases.family_detail(uow, family_id, actor)


@router.post("/families", status_code=status.HTTP_201_CREATED, response_model=s.FamilyCreated)
async def create_family(body: s.StaffFamilyIn, actor: Staff, request: Request,
                        uow: UoW) -> Any:
    g = body.guardian
    family_id = await staff_cases.create_family(
        uow, actor, request.app.state.settings, body.name, body.email,
        households.NewGuardian(g.first_name, g.last_name, g.birth_date, g.sex),
        [households.NewChild(c.first_name, c.last_name, c.birth_date, c.sex) for c in body.children])
    return {"family_id": family_id}


@router.post("/families/{family_id}/invitation", status_code=status.HTTP_202_ACCEPTED)
async def resend_invitation(family_id: uuid.UUID, actor: Staff, request: Request,
                            uow: UoW) -> dict[str, str]:
    await staff_cases.resend_invitation(uow, actor, request.app.state.settings, family_id)
    return {}


@router.put("/families/{family_id}/email", response_model=s.Family)
async def change_email(family_id: uuid.UUID, body: s.EmailIn, actor: Staff, uow: UoW) -> Any:
    return await staff_cases.change_email(uow, actor, family_id, body.email)


@router.post("/families/{family_id}/review", status_code=status.HTTP_204_NO_CONTENT)
async def mark_reviewed(family_id: uuid.UUID, actor: Staff, uow: UoW) -> Response:
    await staff_cases.mark_reviewed(uow, actor, family_id)
    return Response(status_code=204)


@router.get("/contact-change-requests", response_model=s.PendingContactChanges)
async def contact_change_requests(_: Staff, uow: UoW, status: str = "en_attente") -> Any:
    return {"items": await contact.pending_requests(uow, status)}


@router.post("/contact-change-requests/decisions", response_model=s.DecisionResults)
async def decide(body: s.DecisionsIn, actor: Staff, request: Request) -> Any:
    results = await contact.decide(
        uow_factory(request), actor, request.app.state.settings,
        [(d.request_id, d.decision == "accept", d.reason) for d in body.decisions])
    return {"results": results}


@router.get("/audit", response_model=s.AuditLog)
async def audit_log(_: Administrator, uow: UoW, limit: int = 200) -> Any:
    return {"items": await staff_cases.audit_log(uow, max(1, min(limit, 1000)))}


@router.get("/accounts", response_model=s.StaffAccountsOut)
async def staff_accounts(_: Administrator, uow: UoW) -> Any:
    return {"items": await staff_cases.staff_accounts(uow)}


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=s.Created)
async def create_staff_account(body: s.StaffAccountIn, actor: Administrator,
                               uow: UoW) -> Any:
    staff_id = await staff_cases.create_staff_account(uow, actor, body.email, body.display_name,
                                                      body.password, list(body.roles))
    return {"id": staff_id}


@router.post("/accounts/{staff_id}/disable", status_code=status.HTTP_204_NO_CONTENT)
async def disable_staff_account(staff_id: uuid.UUID, actor: Administrator, uow: UoW) -> Response:
    """No more logins; the account's sessions end at once, in every service."""
    await staff_cases.disable_staff_account(uow, actor, staff_id)
    return Response(status_code=204)


@router.post("/accounts/{staff_id}/enable", status_code=status.HTTP_204_NO_CONTENT)
async def enable_staff_account(staff_id: uuid.UUID, actor: Administrator, uow: UoW) -> Response:
    await staff_cases.enable_staff_account(uow, actor, staff_id)
    return Response(status_code=204)


@router.put("/accounts/{staff_id}/roles", status_code=status.HTTP_204_NO_CONTENT)
async def set_staff_roles(staff_id: uuid.UUID, body: s.StaffRolesIn, actor: Administrator,
                          uow: UoW) -> Response:
    """The new roles hold at once: the account's sessions end (their tokens carry the roles)."""
    await staff_cases.set_staff_roles(uow, actor, staff_id, list(body.roles))
    return Response(status_code=204)
