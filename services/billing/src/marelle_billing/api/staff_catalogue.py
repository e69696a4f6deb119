"""QF brackets, régies, tariffs, the city's districts and families' financial profiles
(staff)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from marelle_billing.api import schemas as s
from marelle_billing.api.deps import Now, Staff, UoW
from marelle_billing.usecases import catalogue, districts, profiles

router = APIRouter(prefix="/staff", tags=["catalogue (staff)"])


@router.get("/brackets", response_model=s.Brackets)
async def get_brackets(principal: Staff, uow: UoW) -> dict[str, Any]:
    return await catalogue.brackets(uow)


@router.put("/brackets", response_model=s.Brackets)
async def put_brackets(body: s.BracketsIn, principal: Staff, uow: UoW) -> dict[str, Any]:
    return await catalogue.replace_brackets(uow, [b.model_dump() for b in body.brackets],
                                            principal)


@router.get("/regies", response_model=s.Regies)
async def get_regies(principal: Staff, uow: UoW) -> dict[str, Any]:
    return await catalogue.list_regies(uow)


@router.post("/regies", response_model=s.Regie, status_code=201)
async def post_regie(body: s.RegieIn, principal: Staff, uow: UoW, now: Now) -> dict[str, Any]:
    return await catalogue.create_regie(uow, body.model_dump(), now, principal)


@router.put("/regies/{code}", response_model=s.Regie)
async def put_regie(code: str, body: s.RegieIn, principal: Staff, uow: UoW,
                    now: Now) -> dict[str, Any]:
    # Options left out keep the stored ones (they hold the provider's secrets, never shown).
    return await catalogue.update_regie(uow, code, body.model_dump() | (
        {} if "payment_options" in body.model_fields_set else {"payment_options": None}), now,
        principal)


@router.get("/tariffs", response_model=s.Tariffs)
async def get_tariffs(principal: Staff, uow: UoW, regie: str | None = None,
                      activity: str | None = None) -> dict[str, Any]:
    return await catalogue.list_tariffs(uow, regie, activity)


@router.post("/tariffs", response_model=s.Tariff, status_code=201)
async def post_tariff(body: s.TariffIn, principal: Staff, uow: UoW, now: Now) -> dict[str, Any]:
    return await catalogue.create_tariff(uow, body.model_dump(), now, principal)


@router.put("/tariffs/{tariff_id}", response_model=s.Tariff)
async def put_tariff(tariff_id: uuid.UUID, body: s.TariffIn, principal: Staff, uow: UoW,
                     now: Now) -> dict[str, Any]:
    return await catalogue.update_tariff(uow, tariff_id, body.model_dump(), now,
                                           principal)


@router.delete("/tariffs/{tariff_id}", status_code=204, response_class=Response)
async def delete_tariff(tariff_id: uuid.UUID, principal: Staff, uow: UoW) -> Response:
    await catalogue.delete_tariff(uow, tariff_id, principal)
    return Response(status_code=204)


@router.get("/districts", response_model=s.Districts)
async def get_districts(principal: Staff, uow: UoW) -> dict[str, Any]:
    return await districts.list_districts(uow)


@router.post("/districts", response_model=s.District, status_code=201)
async def post_district(body: s.DistrictIn, principal: Staff, uow: UoW) -> dict[str, Any]:
    return await districts.create_district(uow, body.code, body.label, principal)


@router.put("/districts/{code}", response_model=s.District)
async def put_district(code: str, body: s.DistrictRenameIn, principal: Staff,
                       uow: UoW) -> dict[str, Any]:
    return await districts.rename_district(uow, code, body.label, principal)


@router.delete("/districts/{code}", status_code=204, response_class=Response)
async def delete_district(code: str, principal: Staff, uow: UoW) -> Response:
    await districts.delete_district(uow, code, principal)
    return Response(status_code=204)


@router.get("/families/{family_id}/profile", response_model=s.FinancialProfile)
async def get_profile(family_id: uuid.UUID, principal: Staff, uow: UoW) -> s.FinancialProfile:
    return await profiles.profile(uow, family_id)


@router.put("/families/{family_id}/profile", response_model=s.FinancialProfile)
async def put_profile(family_id: uuid.UUID, body: s.FinancialProfileIn, principal: Staff,
                      uow: UoW, now: Now) -> s.FinancialProfile:
    return await profiles.set_profile(uow, family_id, body.model_dump(), principal.subject, now,
                                       actor=principal)
