"""« Mes inscriptions » for the household's own guardians."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status

from marelle_chassis.http import listing_response
from marelle_enrolment.api import schemas as s
from marelle_enrolment.api.deps import OwnFamily, UoW, uow_factory
from marelle_enrolment.usecases import attestations, catalogue, registrations, requests

router = APIRouter(prefix="/families/{family_id}", tags=["registrations (families)"])


@router.get("/children/{child_id}/offer", response_model=s.Offer)
async def offer(family_id: OwnFamily, child_id: uuid.UUID, uow: UoW) -> dict[str, Any]:
    """What the child may ask for now: open periods, groups fitting its age."""
    return await catalogue.offer_for_child(uow, family_id, child_id)


@router.post("/registrations", status_code=status.HTTP_201_CREATED,
             response_model=s.RegistrationResults)
async def request_registrations(family_id: OwnFamily, body: s.RegistrationRequestIn,
                                request: Request) -> dict[str, Any]:
    req = registrations.NewRequest(
        child_id=body.child_id, group_id=body.group_id,
        typical_week=[d.model_dump() for d in body.typical_week], memo=body.memo,
        duplicate_for=body.duplicate_for)
    results = await registrations.request_registrations(
        uow_factory(request), family_id, req,
        refuse_unreviewed=request.app.state.settings.refuse_unreviewed_families)
    return {"results": results}


@router.get("/registrations", response_model=s.Registrations)
async def list_registrations(family_id: OwnFamily, uow: UoW, child_id: uuid.UUID | None = None,
                             state: str | None = None) -> Response:
    return listing_response(
        {"items": await registrations.family_registrations(uow, family_id, child_id, state)})


@router.get("/registrations/{registration_id}", response_model=s.Registration)
async def get_registration(family_id: OwnFamily, registration_id: uuid.UUID, uow: UoW) -> Any:
    return await registrations.get_registration(uow, family_id, registration_id)


@router.post("/registrations/{registration_id}/cancel", status_code=status.HTTP_204_NO_CONTENT)
async def cancel(family_id: OwnFamily, registration_id: uuid.UUID, uow: UoW) -> Response:
    await registrations.cancel_by_family(uow, family_id, registration_id)
    return Response(status_code=204)


@router.post("/registrations/{registration_id}/attestation-requests",
             status_code=status.HTTP_201_CREATED, response_model=s.Attestation)
async def request_attestation(family_id: OwnFamily, registration_id: uuid.UUID, uow: UoW) -> Any:
    return await attestations.request_attestation(uow, family_id, registration_id)


@router.get("/attestations", response_model=s.Attestations)
async def list_attestations(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return {"items": await attestations.family_attestations(uow, family_id)}


@router.get("/attestations/{attestation_id}/pdf")
async def download(family_id: OwnFamily, attestation_id: uuid.UUID, uow: UoW) -> Response:
    pdf = await attestations.attestation_pdf(uow, family_id, attestation_id)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="attestation-{attestation_id}.pdf"'})


@router.get("/requests", response_model=s.RequestItems)
async def dashboard(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return {"items": await requests.family_requests(uow, family_id)}
