"""Staff endpoints: the catalogue, the queue of requests, waiting lists, attestations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status

from marelle_chassis.http import listing_response
from marelle_enrolment.api import schemas as s
from marelle_enrolment.api.deps import Staff, UoW, uow_factory
from marelle_enrolment.domain.rules import DistrictOpening
from marelle_enrolment.usecases import attestations, catalogue, registrations

router = APIRouter(prefix="/staff", tags=["enrolment (staff)"])


def _period(body: s.PeriodIn) -> catalogue.PeriodIn:
    return catalogue.PeriodIn(body.label, body.start_date, body.end_date, body.opens_at,
                              body.closes_at, body.priority_opens_at, body.memo,
                              body.validation_mode, body.promotion_mode,
                              body.residents_open_at,
                              tuple(DistrictOpening(d.district, d.district_label, d.opens_at)
                                    for d in body.district_openings))


def _group(body: s.GroupIn) -> catalogue.GroupIn:
    return catalogue.GroupIn(body.label, body.min_age, body.max_age, body.capacity)


@router.get("/catalogue", response_model=s.Catalogue)
async def get_catalogue(_: Staff, uow: UoW) -> dict[str, Any]:
    return {"facilities": await catalogue.catalogue_tree(uow)}


@router.post("/facilities", status_code=status.HTTP_201_CREATED,
             response_model=s.Created)
async def create_facility(body: s.NameIn, actor: Staff, uow: UoW) -> dict[str, uuid.UUID]:
    return {"id": await catalogue.create_facility(uow, body.name, actor)}


@router.post("/activity-types", status_code=status.HTTP_201_CREATED,
             response_model=s.Created)
async def create_activity_type(body: s.ActivityTypeIn, actor: Staff,
                               uow: UoW) -> dict[str, uuid.UUID]:
    return {"id": await catalogue.create_activity_type(uow, body.facility_id, body.name, actor)}


@router.post("/activities", status_code=status.HTTP_201_CREATED,
             response_model=s.Created)
async def create_activity(body: s.ActivityIn, actor: Staff, uow: UoW) -> dict[str, uuid.UUID]:
    return {"id": await catalogue.create_activity(uow, body.activity_type_id, body.name,
                                                  body.pre_registration, actor)}


@router.post("/periods", status_code=status.HTTP_201_CREATED,
             response_model=s.Created)
async def create_period(body: s.NewPeriodIn, actor: Staff, uow: UoW) -> dict[str, uuid.UUID]:
    return {"id": await catalogue.create_period(uow, body.activity_id, _period(body), actor)}


@router.put("/periods/{period_id}", status_code=status.HTTP_204_NO_CONTENT)
async def update_period(period_id: uuid.UUID, body: s.PeriodIn, actor: Staff,
                        uow: UoW) -> Response:
    await catalogue.update_period(uow, period_id, _period(body), actor)
    return Response(status_code=204)


@router.post("/periods/{period_id}/close", status_code=status.HTTP_204_NO_CONTENT)
async def close_period(period_id: uuid.UUID, actor: Staff, uow: UoW) -> Response:
    await catalogue.set_period_closed(uow, period_id, True, actor)
    return Response(status_code=204)


@router.post("/periods/{period_id}/reopen", status_code=status.HTTP_204_NO_CONTENT)
async def reopen_period(period_id: uuid.UUID, actor: Staff, uow: UoW) -> Response:
    await catalogue.set_period_closed(uow, period_id, False, actor)
    return Response(status_code=204)


@router.post("/groups/{group_id}/close", status_code=status.HTTP_204_NO_CONTENT)
async def close_group(group_id: uuid.UUID, actor: Staff, uow: UoW) -> Response:
    await catalogue.set_group_closed(uow, group_id, True, actor)
    return Response(status_code=204)


@router.post("/groups/{group_id}/reopen", status_code=status.HTTP_204_NO_CONTENT)
async def reopen_group(group_id: uuid.UUID, actor: Staff, uow: UoW) -> Response:
    await catalogue.set_group_closed(uow, group_id, False, actor)
    return Response(status_code=204)


@router.post("/groups", status_code=status.HTTP_201_CREATED,
             response_model=s.Created)
async def create_group(body: s.NewGroupIn, actor: Staff, uow: UoW) -> dict[str, uuid.UUID]:
    return {"id": await catalogue.create_group(uow, body.period_id, _group(body), actor)}


@router.put("/groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
async def update_group(group_id: uuid.UUID, body: s.GroupIn, actor: Staff,
                       uow: UoW) -> Response:
    await catalogue.update_group(uow, group_id, _group(body),
                                 on_capacity_raised=registrations.fill_freed_places,
                                 actor=actor)
    return Response(status_code=204)


@router.get("/registrations", response_model=s.StaffRegistrations)
async def queue(_: Staff, uow: UoW, status: str = "en_attente",
                facility_id: uuid.UUID | None = None, period_id: uuid.UUID | None = None,
                group_id: uuid.UUID | None = None, requested_from: datetime | None = None,
                requested_to: datetime | None = None) -> dict[str, Any]:
    return {"items": await registrations.staff_queue(
        uow, status=status, facility_id=facility_id, period_id=period_id, group_id=group_id,
        requested_from=requested_from, requested_to=requested_to)}


@router.post("/registrations/decisions", response_model=s.DecisionResults)
async def decide(body: s.DecisionsIn, actor: Staff, request: Request) -> dict[str, Any]:
    return {"results": await registrations.decide(
        uow_factory(request), actor,
        [(d.registration_id, d.decision == "validate", d.reason) for d in body.decisions])}


@router.get("/groups/{group_id}/waiting-list", response_model=s.WaitingList)
async def waiting_list(group_id: uuid.UUID, _: Staff, uow: UoW) -> Response:
    # Thousands of rows at an opening: serialised once, already in the model's shape.
    return listing_response(await registrations.waiting_list(uow, group_id))


@router.put("/groups/{group_id}/waiting-list", status_code=status.HTTP_204_NO_CONTENT)
async def reorder(group_id: uuid.UUID, body: s.OrderIn, actor: Staff, uow: UoW) -> Response:
    await registrations.reorder_waiting_list(uow, group_id, body.registration_ids, actor)
    return Response(status_code=204)


@router.post("/registrations/{registration_id}/promote", status_code=status.HTTP_204_NO_CONTENT)
async def promote(registration_id: uuid.UUID, actor: Staff, uow: UoW) -> Response:
    await registrations.promote(uow, registration_id, actor)
    return Response(status_code=204)


@router.post("/registrations/{registration_id}/remove-from-waiting-list",
             status_code=status.HTTP_204_NO_CONTENT)
async def remove(registration_id: uuid.UUID, actor: Staff, uow: UoW,
                 body: s.ReasonIn | None = None) -> Response:
    await registrations.remove_from_waiting_list(uow, registration_id,
                                                 body.reason if body else None, actor)
    return Response(status_code=204)


@router.get("/attestation-requests", response_model=s.StaffAttestations)
async def attestation_requests(_: Staff, uow: UoW, status: str = "demandee") -> dict[str, Any]:
    return {"items": await attestations.staff_attestations(uow, status)}


@router.post("/attestation-requests/{attestation_id}/issue", response_model=s.Attestation)
async def issue(attestation_id: uuid.UUID, actor: Staff, request: Request, uow: UoW) -> Any:
    return await attestations.issue(uow, actor, request.app.state.settings.structure_name,
                                    attestation_id)
