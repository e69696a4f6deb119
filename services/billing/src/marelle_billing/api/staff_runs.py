"""Invoicing runs: start, follow, review, recompute, finalise, discard (staff). The work itself
runs in the background (`marelle_billing.runner`): answers show the run's progress."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from marelle_billing.api import schemas as s
from marelle_billing.api.deps import Now, Staff, UoW, UoWFactory
from marelle_billing.runner import runner_of
from marelle_billing.usecases import runs

router = APIRouter(prefix="/staff", tags=["invoicing runs (staff)"])


@router.post("/runs", response_model=s.Run, status_code=202)
async def start_run(body: s.RunIn, principal: Staff, new: UoWFactory, now: Now,
                    request: Request) -> dict[str, Any]:
    run, work = await runs.start_run(new, body.regie_code, body.month, principal.subject, now,
                                      actor=principal)
    if work:
        runner_of(request.app).start(run["run_id"])
    return run


@router.get("/runs", response_model=s.Runs)
async def list_runs(principal: Staff, uow: UoW, regie: str | None = None) -> dict[str, Any]:
    return await runs.list_runs(uow, regie)


@router.get("/runs/{run_id}", response_model=s.Run)
async def get_run(run_id: uuid.UUID, principal: Staff, uow: UoW) -> dict[str, Any]:
    return await runs.get_run(uow, run_id)


@router.get("/runs/{run_id}/invoices", response_model=s.InvoiceList)
async def run_invoices(run_id: uuid.UUID, principal: Staff, uow: UoW) -> dict[str, Any]:
    return await runs.run_invoices(uow, run_id)


@router.get("/invoices/{invoice_id}", response_model=s.InvoiceDetail)
async def invoice_detail(invoice_id: uuid.UUID, principal: Staff, uow: UoW) -> dict[str, Any]:
    return await runs.invoice_detail(uow, invoice_id)


@router.post("/runs/{run_id}/recompute", response_model=s.Run, status_code=202)
async def recompute(run_id: uuid.UUID, principal: Staff, uow: UoW, now: Now,
                    request: Request) -> dict[str, Any]:
    run = await runs.recompute(uow, run_id, now, actor=principal)
    runner_of(request.app).start(run_id)
    return run


@router.post("/runs/{run_id}/finalise", response_model=s.Run)
async def finalise(run_id: uuid.UUID, principal: Staff, uow: UoW, now: Now,
                   request: Request) -> dict[str, Any]:
    run = await runs.request_finalise(uow, run_id, now, actor=principal)
    runner_of(request.app).start(run_id)
    return run


@router.delete("/runs/{run_id}", status_code=204, response_class=Response)
async def discard(run_id: uuid.UUID, principal: Staff, uow: UoW, now: Now) -> Response:
    await runs.discard(uow, run_id, now, actor=principal)
    return Response(status_code=204)
