"""« Mon compte » of a family: summary, invoices and their PDFs, detail per registration, fiscal attestations."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from marelle_billing.api import schemas as s
from marelle_billing.api.deps import Now, OwnFamily, UoW
from marelle_billing.usecases import accounts, attestations

router = APIRouter(prefix="/families/{family_id}", tags=["mon compte (familles)"])


def _pdf(name: str, document: bytes) -> Response:
    return Response(document, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/account", response_model=s.AccountSummary)
async def account(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return await accounts.account_summary(uow, family_id)


@router.get("/invoices", response_model=s.InvoiceList)
async def invoices(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return await accounts.family_invoices(uow, family_id)


@router.get("/invoices/{invoice_id}", response_model=s.InvoiceDetail)
async def invoice(family_id: OwnFamily, invoice_id: uuid.UUID, uow: UoW) -> dict[str, Any]:
    return await accounts.invoice_detail(uow, invoice_id, family_id)


@router.get("/invoices/{invoice_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def invoice_pdf(family_id: OwnFamily, invoice_id: uuid.UUID, uow: UoW) -> Response:
    return _pdf(*await accounts.invoice_pdf(uow, invoice_id, family_id))


@router.get("/registrations", response_model=s.RegistrationMoneyList)
async def registrations(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return await accounts.registrations_money(uow, family_id)


@router.get("/fiscal-attestations", response_model=s.FiscalAttestations)
async def fiscal_attestations(family_id: OwnFamily, uow: UoW) -> dict[str, Any]:
    return await attestations.list_attestations(uow, family_id)


@router.post("/fiscal-attestations", response_model=s.FiscalAttestation, status_code=201)
async def ask_fiscal_attestation(family_id: OwnFamily, body: s.AttestationIn, uow: UoW,
                                 now: Now) -> dict[str, Any]:
    return await attestations.issue(uow, family_id, body.year, now)


@router.get("/fiscal-attestations/{attestation_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
async def fiscal_attestation_pdf(family_id: OwnFamily, attestation_id: uuid.UUID,
                                 uow: UoW) -> Response:
    return _pdf(*await attestations.attestation_pdf(uow, family_id, attestation_id))
