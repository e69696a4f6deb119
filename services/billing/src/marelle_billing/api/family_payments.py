"""« Payer cette facture »: online payments started by a parent, the return from the provider,
receipts."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from marelle_billing import pdf
from marelle_billing.api import schemas as s
from marelle_billing.api.deps import Now, OwnFamily, UoW, UoWFactory
from marelle_billing.usecases import payments

router = APIRouter(prefix="/families/{family_id}", tags=["payments (families)"])


@router.post("/invoices/{invoice_id}/payments", response_model=s.OnlinePaymentStart,
             status_code=201)
async def start_payment(family_id: OwnFamily, invoice_id: uuid.UUID, body: s.OnlinePaymentIn,
                        request: Request, new: UoWFactory, now: Now) -> dict[str, Any]:
    return await payments.start_online_payment(
        new, request.app.state.settings, family_id, invoice_id, body.amount_cents,
        body.return_url, now)


@router.post("/payments/return", response_model=s.PaymentView)
async def payment_return(family_id: OwnFamily, body: s.PaymentReturnIn, request: Request,
                         new: UoWFactory, now: Now) -> dict[str, Any]:
    view, _outcome = await payments.settle(new, request.app.state.settings, body.query_string,
                                           now, family_id=family_id)
    return view


@router.get("/payments", response_model=s.PaymentList)
async def list_payments(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return {"payments": await payments.family_payments(uow, family_id)}


@router.get("/payments/{payment_id}", response_model=s.PaymentView)
async def get_payment(family_id: OwnFamily, payment_id: uuid.UUID, uow: UoW) -> dict[str, Any]:
    return await payments.family_payment(uow, family_id, payment_id)


@router.get("/payments/{payment_id}/receipt.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def receipt_pdf(family_id: OwnFamily, payment_id: uuid.UUID, uow: UoW) -> Response:
    context = await payments.receipt_context(uow, family_id, payment_id)
    document = await pdf.render_pdf("receipt.html", **context)
    number = context["payment"]["receipt_number"]
    return Response(document, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="recu-{number}.pdf"'})
