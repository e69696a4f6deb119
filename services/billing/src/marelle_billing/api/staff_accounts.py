"""Staff views of money: a family's account, invoices (unpaid), the import of open invoices,
reports per régie and month, the accounting export."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Response

from marelle_billing.api import schemas as s
from marelle_billing.api.deps import Now, Staff, UoW
from marelle_billing.usecases import accounts, imports, reports

router = APIRouter(prefix="/staff", tags=["comptes (agents)"])


@router.get("/invoices", response_model=s.InvoiceList)
async def invoices(_: Staff, uow: UoW, regie: str | None = None,
                   family_id: uuid.UUID | None = None, unpaid: bool = False) -> dict[str, Any]:
    return await accounts.staff_invoices(uow, regie_code=regie, family_id=family_id,
                                         unpaid=unpaid)


@router.get("/families/{family_id}/account", response_model=s.AccountSummary)
async def account(family_id: uuid.UUID, _: Staff, uow: UoW) -> dict[str, Any]:
    return await accounts.account_summary(uow, family_id, must_exist=True)


@router.post("/imports/invoices", response_model=s.ImportResult)
async def import_invoices(body: s.ImportIn, principal: Staff, uow: UoW,
                          now: Now) -> dict[str, Any]:
    return await imports.import_invoices(uow, body.regie_code, body.csv, now,
                                         by=principal.subject, actor=principal)


@router.get("/reports", response_model=s.Report)
async def report(_: Staff, uow: UoW, regie: str,
                 month: str = Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")) -> dict[str, Any]:
    return await reports.monthly_report(uow, regie, month)


@router.get("/reports.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def report_csv(_: Staff, uow: UoW, regie: str,
                     month: str = Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")) -> Response:
    data = reports.report_csv(await reports.monthly_report(uow, regie, month))
    return Response(data, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="rapport-{regie}-{month}.csv"'})


@router.get("/exports/accounting.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def accounting_csv(_: Staff, uow: UoW, regie: str, from_: date = Query(alias="from"),
                         to: date = Query()) -> Response:
    data = await reports.accounting_export(uow, regie, from_, to)
    return Response(data, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition":
            f'attachment; filename="export-comptable-{regie}-{from_}-{to}.csv"'})
