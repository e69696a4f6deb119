"""Payments recorded by staff (cash, cheque, CESU, holiday vouchers), online payments seen, SEPA
mandates and pain.008 collections."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from marelle_billing.api import schemas as s
from marelle_billing.api.deps import Now, Staff, UoW, UoWFactory
from marelle_billing.usecases import payments, sepa

router = APIRouter(prefix="/staff", tags=["payments (staff)"])


@router.post("/payments", response_model=s.PaymentView, status_code=201)
async def record_payment(body: s.ManualPaymentIn, principal: Staff, new: UoWFactory,
                         now: Now) -> dict[str, Any]:
    return await payments.record_manual_payment(new, principal.subject,
                                                body.model_dump(mode="python"), now,
                                                actor=principal)


@router.get("/payments", response_model=s.PaymentList)
async def list_payments(principal: Staff, uow: UoW, regie: str | None = None,
                        family_id: uuid.UUID | None = None,
                        method: s.PaymentMethod | None = None) -> dict[str, Any]:
    return {"payments": await payments.staff_payments(
        uow, regie_code=regie, family_id=family_id, method=method.value if method else None)}


@router.get("/families/{family_id}/mandates", response_model=s.Mandates)
async def list_mandates(family_id: uuid.UUID, principal: Staff, uow: UoW) -> dict[str, Any]:
    return {"mandates": await sepa.family_mandates(uow, family_id)}


@router.post("/families/{family_id}/mandates", response_model=s.Mandate, status_code=201)
async def create_mandate(family_id: uuid.UUID, body: s.MandateIn, principal: Staff, uow: UoW,
                         now: Now) -> dict[str, Any]:
    return await sepa.create_mandate(uow, family_id, body.model_dump(), now,
                                    actor=principal)


@router.delete("/mandates/{mandate_id}", status_code=204, response_class=Response)
async def revoke_mandate(mandate_id: uuid.UUID, principal: Staff, uow: UoW) -> Response:
    await sepa.revoke_mandate(uow, mandate_id, actor=principal)
    return Response(status_code=204)


@router.post("/sepa/collections", response_model=s.SepaCollection, status_code=201)
async def create_collection(body: s.SepaCollectionIn, principal: Staff, new: UoWFactory,
                            now: Now) -> dict[str, Any]:
    return await sepa.create_collection(new, principal.subject, body.regie_code,
                                        body.collection_date, now, actor=principal)


@router.get("/sepa/collections/{collection_id}/pain.008.xml", response_class=Response,
            responses={200: {"content": {"application/xml": {}}}})
async def collection_file(collection_id: uuid.UUID, principal: Staff, uow: UoW) -> Response:
    document = await sepa.collection_document(uow, collection_id)
    return Response(document, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="prelevement-{collection_id}.xml"'})
