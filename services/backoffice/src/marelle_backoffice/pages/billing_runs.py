"""« Facturation »: invoicing runs (start, follow, recompute, finalise, abandon) and an invoice's
lines.

A run is computed in the background by billing: its page refreshes itself (meta refresh, no
JavaScript) while it is `en_cours` or `finalisation`. Finalising issues the invoices for good, so
it goes through a confirmation page first.
"""

from __future__ import annotations

import asyncio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from marelle_backoffice.billing import billing, number
from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.forms import FormErrors, text
from marelle_backoffice.i18n import Translator
from marelle_backoffice.pages.billing_common import (
    SECTION,
    current_month,
    month_label,
    parse_month,
    refused,
)
from marelle_backoffice.pages.common import checked_id, flash
from marelle_backoffice.rendering import render
from marelle_backoffice.session import StaffSession, require_session

router = APIRouter()

PAGE = "billing"
RUNS = f"{SECTION}/facturations"
RUN_FLASHES = ("lancee", "recalcul", "finalisee")
RUNS_FLASHES = ("abandonnee",)
RUNNING = ("en_cours", "finalisation")
DRAFT = "brouillon"
REFRESH_SECONDS = 2
RUN_FIELDS = {"regie_code": "regie", "month": "mois"}


def run_path(run_id: str) -> str:
    return f"{RUNS}/{run_id}"


async def _runs_page(request: Request, staff: StaffSession, values: dict[str, str],
                     errors: FormErrors, status_code: int = 200) -> HTMLResponse:
    api = billing(request, staff)
    regie_list, runs = await asyncio.gather(api.regies(), api.runs())
    runs = sorted(runs, key=lambda r: str(r["started_at"]), reverse=True)
    return render(request, "billing_runs.html", page=PAGE, regies=regie_list, runs=runs,
                  values=values, errors=errors, month_label=month_label,
                  message=flash(request, RUNS_FLASHES), status_code=status_code)


@router.get(RUNS)
async def runs(request: Request, staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _runs_page(request, staff, {"regie": "", "mois": current_month()}, FormErrors())


@router.post(RUNS)
async def start_run(request: Request, staff: StaffSession = Depends(require_session)) -> Response:
    t = Translator()
    form = await request.form()
    values = {"regie": text(form, "regie"), "mois": text(form, "mois")}
    errors, status = FormErrors(), 422
    month = parse_month(values["mois"])
    if not values["regie"]:
        errors.add("regie", t("run.error.regie"))
    if month is None:
        errors.add("mois", t("run.error.month"))
    if not errors:
        try:
            run = await billing(request, staff).start_run(values["regie"], month or "")
        except UpstreamProblem as problem:
            status = refused(errors, problem, RUN_FIELDS, t("run.error.refused"))
        else:
            return RedirectResponse(f"{run_path(str(run['run_id']))}?message=lancee",
                                    status_code=303)
    return await _runs_page(request, staff, values, errors, status)


async def _run_page(request: Request, staff: StaffSession, run_id: str, *,
                    errors: FormErrors | None = None, confirm: bool = False,
                    status_code: int = 200) -> HTMLResponse:
    api = billing(request, staff)
    run, invoices = await asyncio.gather(api.run(run_id), api.run_invoices(run_id))
    rows = sorted(invoices["invoices"],
                  key=lambda i: (i.get("family_name") or "", str(i["family_id"]), i["kind"]))
    total = run["families_total"] or 0
    done = min(run["families_done"] or 0, total) if total else run["families_done"] or 0
    return render(request, "billing_run.html", page=PAGE, run=run, invoices=rows,
                  total_balance=invoices["total_balance_cents"],
                  total_amount=sum(i["total_cents"] if i["kind"] == "facture" else -i["total_cents"]
                                   for i in rows),
                  done=done, total=total, done_text=number(done), total_text=number(total),
                  running=run["status"] in RUNNING,
                  refresh=REFRESH_SECONDS, draft=run["status"] == DRAFT, confirm=confirm,
                  month=month_label(run["month"]), errors=errors or FormErrors(),
                  message=flash(request, RUN_FLASHES), status_code=status_code)


@router.get(f"{RUNS}/{{run_id}}")
async def run_page(request: Request, run_id: str,
                   staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    return await _run_page(request, staff, checked_id(run_id))


@router.get(f"{RUNS}/{{run_id}}/valider")
async def confirm_finalise(request: Request, run_id: str,
                           staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    """« Valider et émettre les factures »: what will be issued, then the button that does it."""
    return await _run_page(request, staff, checked_id(run_id), confirm=True)


async def _act(request: Request, staff: StaffSession, run_id: str, action: str) -> Response:
    t = Translator()
    run_id = checked_id(run_id)
    api = billing(request, staff)
    try:
        if action == "recalcul":
            await api.recompute(run_id)
        elif action == "finalisee":
            await api.finalise(run_id)
        else:
            await api.discard(run_id)
    except UpstreamProblem as problem:
        errors = FormErrors()
        status = refused(errors, problem, lambda champ: None, t(f"run.error.{action}"))
        return await _run_page(request, staff, run_id, errors=errors, status_code=status)
    if action == "abandon":
        return RedirectResponse(f"{RUNS}?message=abandonnee", status_code=303)
    return RedirectResponse(f"{run_path(run_id)}?message={action}", status_code=303)


@router.post(f"{RUNS}/{{run_id}}/recalculer")
async def recompute(request: Request, run_id: str,
                    staff: StaffSession = Depends(require_session)) -> Response:
    return await _act(request, staff, run_id, "recalcul")


@router.post(f"{RUNS}/{{run_id}}/valider")
async def finalise(request: Request, run_id: str,
                   staff: StaffSession = Depends(require_session)) -> Response:
    return await _act(request, staff, run_id, "finalisee")


@router.post(f"{RUNS}/{{run_id}}/abandonner")
async def discard(request: Request, run_id: str,
                  staff: StaffSession = Depends(require_session)) -> Response:
    return await _act(request, staff, run_id, "abandon")


# --- an invoice -----------------------------------------------------------------------------------

@router.get(f"{SECTION}/factures/{{invoice_id}}")
async def invoice_page(request: Request, invoice_id: str,
                       staff: StaffSession = Depends(require_session)) -> HTMLResponse:
    invoice = await billing(request, staff).invoice(checked_id(invoice_id))
    lines = sorted(invoice["lines"], key=lambda line: (line.get("child_name") or "",
                                                       str(line.get("day") or ""),
                                                       line.get("label") or ""))
    return render(request, "billing_invoice.html", page=PAGE, invoice=invoice, lines=lines,
                  month=month_label(invoice.get("month")))

