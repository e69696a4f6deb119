"""« Mon compte »'s financial pages, against billing: « Détail financier par facture » (each
invoice, its PDF, « Payer cette facture »), the return from the payment provider and the receipt
(« ticket »), « Détail financier par inscription », « Demande d'Attestation fiscale ».

Paying takes no pop-up and no JavaScript: step 1 is a page of the portal (« Référence de la
dette », « Montant », « Adresse électronique »); its form asks billing to start the payment, and
the answer hands the browser to the provider (step 2, the provider's card page). The hand-off
is a page that moves on by itself (an instant meta refresh, with a visible link): a 303 to
another site after a form post is refused by browsers under the portal's `form-action 'self'`.

Ids are asked of billing with the token's family: another family's invoice, payment or
attestation is billing's 404, shown as the French « Page introuvable »; billing down is the
French 503 page.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from marelle_contracts.billing import PaymentMethod
from marelle_contracts.http.billing import InvoiceDetail, OnlinePaymentIn

from marelle_gateway.billing import (
    PDF,
    BillingClient,
    attestation_pdf_path,
    euros,
    invoice_pdf_path,
    receipt_pdf_path,
    return_url,
)
from marelle_gateway.forms import FormErrors, form_values
from marelle_gateway.i18n import DISPLAY_TZ, Translator
from marelle_gateway.pages.account import account_page
from marelle_gateway.pages.registrations.common import checked_id, page_errors
from marelle_gateway.rendering import translator
from marelle_gateway.session import Session, parent_session
from marelle_gateway.upstream import UpstreamProblem, UpstreamUnavailable

router = APIRouter()

INVOICES = "/mon-compte/detail-par-facture"
ATTESTATION = "/mon-compte/attestation-fiscale"
# How many past years « Demande d'Attestation fiscale » offers.
ATTESTATION_YEARS = 5
# « en_attente »: the receipt page asks again after this many seconds.
PENDING_REFRESH = 5
# billing's refusals shown on the form that caused them.
FORM_PROBLEMS = (400, 409, 422)
AMOUNT = re.compile(r"^\d+([.,]\d{1,2})?$")
# Words the templates look up by value (`billing.invoice.title_<kind>`, `billing.line_kind.<kind>`,
# `billing.method.<method>`, `billing.payment.title.<page>`, `billing.payment.failed.<status>`).
INVOICE_KINDS = ("facture", "avoir")
LINE_KINDS = ("prestation", "absence_injustifiee", "majoration", "regularisation", "reprise")
METHODS = tuple(PaymentMethod)
PAYMENT_PAGES = ("receipt", "pending", "failed", "return_problem")
FAILED = ("refusee", "abandonnee")


def billing_of(request: Request) -> BillingClient:
    return request.app.state.upstreams.billing


def money_helpers(t: Translator) -> dict[str, Any]:
    """What the templates format with: amounts (« 1 234,50 € ») and Paris date-times."""

    def date_time(value: datetime) -> str:
        local = value.astimezone(DISPLAY_TZ) if value.tzinfo else value
        return t("billing.datetime", date=t.date(local.date()), time=local.strftime("%H:%M"))

    return {"money": lambda cents: euros(cents, t.lang), "date_time": date_time}


def billing_page(request: Request, template: str, section: str | None, *,
                 status_code: int = 200, **context: Any) -> HTMLResponse:
    return account_page(request, template, section, status_code=status_code,
                        **money_helpers(translator(request)), **context)


def _pdf(upstream: Any, filename: str) -> StreamingResponse:
    """billing's PDF, streamed (never held whole here): a family's document, never cached."""
    return StreamingResponse(
        upstream.aiter_bytes(), media_type=PDF, background=BackgroundTask(upstream.aclose),
        headers={"content-disposition": f'attachment; filename="{filename}"',
                 "cache-control": "private, no-store"})


# --- « Détail financier par facture » and one invoice -----------------------------------------

@router.get(INVOICES)
async def invoices(request: Request, session: Session = Depends(parent_session)
                   ) -> HTMLResponse:
    with page_errors(request):
        listing = await billing_of(request).invoices(session.family_id, session.access_token)
    return billing_page(request, "account_invoices.html", "by_invoice", listing=listing)


@router.get("/mon-compte/factures/{invoice_id}")
async def invoice(request: Request, invoice_id: str,
                  session: Session = Depends(parent_session)) -> HTMLResponse:
    invoice_id = checked_id(invoice_id)
    with page_errors(request):
        detail = await billing_of(request).invoice(session.family_id, invoice_id,
                                                   session.access_token)
    return billing_page(request, "account_invoice.html", "by_invoice", invoice=detail)


@router.get("/mon-compte/factures/{invoice_id}/facture.pdf")
async def invoice_pdf(request: Request, invoice_id: str,
                      session: Session = Depends(parent_session)) -> Response:
    invoice_id = checked_id(invoice_id)
    with page_errors(request):
        upstream = await billing_of(request).open_pdf(
            invoice_pdf_path(session.family_id, invoice_id), session.access_token)
    return _pdf(upstream, f"facture-{invoice_id}.pdf")


# --- « Payer cette facture » ------------------------------------------------------------------

def parse_amount(text: str) -> int | None:
    """« 12,50 », « 12.5 », « 12 € » → cents; None if it is not an amount."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text)
    if not AMOUNT.match(cleaned):
        return None
    try:
        return int(Decimal(cleaned.replace(",", ".")) * 100)
    except InvalidOperation:
        return None


def amount_text(cents: int) -> str:
    """The amount field's value: « 12,50 » (what a parent types)."""
    return f"{cents // 100},{cents % 100:02d}"


async def _pay_context(request: Request, session: Session, invoice_id: str
                       ) -> tuple[InvoiceDetail, str | None]:
    """The invoice and the address the provider's ticket goes to (the account's, else the
    login's)."""
    client = billing_of(request)
    with page_errors(request):
        detail, account = await asyncio.gather(
            client.invoice(session.family_id, invoice_id, session.access_token),
            client.account(session.family_id, session.access_token))
    return detail, account.email or session.email


def _pay_page(request: Request, detail: InvoiceDetail, email: str | None, *,
              errors: FormErrors | None = None, amount: str | None = None,
              status_code: int = 200) -> HTMLResponse:
    return billing_page(request, "account_pay.html", "by_invoice", invoice=detail, email=email,
                        errors=errors or FormErrors(),
                        amount=amount if amount is not None else amount_text(detail.balance_cents),
                        status_code=status_code)


@router.get("/mon-compte/factures/{invoice_id}/payer")
async def pay_form(request: Request, invoice_id: str,
                   session: Session = Depends(parent_session)) -> HTMLResponse:
    """Step 1: « Référence de la dette », « Montant », « Adresse électronique »."""
    detail, email = await _pay_context(request, session, checked_id(invoice_id))
    return _pay_page(request, detail, email)


@router.post("/mon-compte/factures/{invoice_id}/payer")
async def pay(request: Request, invoice_id: str,
              session: Session = Depends(parent_session)) -> HTMLResponse:
    """billing starts the payment; the browser is then handed to the provider (step 2)."""
    t = translator(request)
    invoice_id = checked_id(invoice_id)
    detail, email = await _pay_context(request, session, invoice_id)
    values = await form_values(request, "montant")
    errors, status = FormErrors(), 422
    amount_cents = None
    if not detail.payable:
        errors.top(t("billing.pay.not_payable"))
        status = 409
    elif detail.partial_payment_allowed:
        amount_cents = parse_amount(values["montant"])
        if amount_cents is None or amount_cents < 1:
            errors.add("montant", t("billing.pay.error.amount"))
        elif amount_cents > detail.balance_cents:
            errors.add("montant", t("billing.pay.error.too_much",
                                    balance=euros(detail.balance_cents, t.lang)))
    if not errors:
        try:
            with page_errors(request, keep=FORM_PROBLEMS):
                start = await billing_of(request).start_payment(
                    session.family_id, invoice_id, session.access_token,
                    OnlinePaymentIn(amount_cents=amount_cents, return_url=return_url(request)))
            return billing_page(request, "account_pay_redirect.html", "by_invoice",
                                invoice=detail, start=start)
        except UpstreamProblem as problem:
            # « Cette facture est déjà réglée. », « Le paiement partiel n'est pas autorisé. »…
            status = problem.status
            errors.add_problem(problem, {"amount_cents": "montant"} if
                               detail.partial_payment_allowed else {})
            if not errors:
                errors.top(t("billing.pay.error.refused"))
    return _pay_page(request, detail, email, errors=errors,
                     amount=values["montant"] or None, status_code=status)


@router.get("/mon-compte/paiement/retour")
async def payment_return(request: Request, session: Session = Depends(parent_session)
                         ) -> Response:
    """Back from the provider: billing reads (and verifies) what it appended to the return
    address, settles the payment once, and the parent sees its receipt."""
    try:
        with page_errors(request, keep=range(400, 500)):
            payment = await billing_of(request).payment_return(
                session.family_id, session.access_token, request.url.query)
    except UpstreamProblem as problem:
        return billing_page(request, "account_payment.html", "by_invoice", payment=None,
                            detail=problem.detail, status_code=problem.status)
    except UpstreamUnavailable:
        # The provider tells billing itself too: the payment is not lost.
        return billing_page(request, "account_payment.html", "by_invoice", payment=None,
                            detail=None, status_code=503)
    return RedirectResponse(f"/mon-compte/paiements/{payment.payment_id}", status_code=303)


@router.get("/mon-compte/paiements/{payment_id}")
async def payment(request: Request, payment_id: str,
                  session: Session = Depends(parent_session)) -> HTMLResponse:
    """« Ticket de paiement » once accepted; why not when refused or abandoned; a page that
    asks again by itself while the provider has not confirmed."""
    payment_id = checked_id(payment_id)
    with page_errors(request):
        view = await billing_of(request).payment(session.family_id, payment_id,
                                                 session.access_token)
    return billing_page(request, "account_payment.html", "by_invoice", payment=view,
                        detail=None, refresh=PENDING_REFRESH)


@router.get("/mon-compte/paiements/{payment_id}/ticket.pdf")
async def receipt_pdf(request: Request, payment_id: str,
                      session: Session = Depends(parent_session)) -> Response:
    payment_id = checked_id(payment_id)
    with page_errors(request):
        upstream = await billing_of(request).open_pdf(
            receipt_pdf_path(session.family_id, payment_id), session.access_token)
    return _pdf(upstream, f"ticket-{payment_id}.pdf")


# --- « Détail financier par inscription » -----------------------------------------------------

@router.get("/mon-compte/detail-par-inscription")
async def by_registration(request: Request, session: Session = Depends(parent_session)
                          ) -> HTMLResponse:
    with page_errors(request):
        money = await billing_of(request).registrations(session.family_id,
                                                        session.access_token)
    return billing_page(request, "account_registrations.html", "by_registration",
                        registrations=money.registrations)


# --- « Demande d'Attestation fiscale » --------------------------------------------------------

def attestation_years() -> list[int]:
    """The last full years, most recent first (the current one is not over)."""
    this_year = datetime.now(DISPLAY_TZ).year
    return [this_year - n for n in range(1, ATTESTATION_YEARS + 1)]


async def _attestation_page(request: Request, session: Session, *, shown: str | None = None,
                            errors: FormErrors | None = None, year: str = "",
                            status_code: int = 200) -> HTMLResponse:
    with page_errors(request):
        issued = (await billing_of(request).attestations(session.family_id,
                                                         session.access_token)).attestations
    issued.sort(key=lambda a: (a.year, a.issued_at), reverse=True)
    current = next((a for a in issued if str(a.attestation_id) == shown), None)
    years = attestation_years()
    return billing_page(request, "account_attestation.html", "tax_statement",
                        attestations=issued, current=current,
                        year_options=[(str(y), str(y)) for y in years],
                        year=year or str(years[0]), errors=errors or FormErrors(),
                        status_code=status_code)


@router.get(ATTESTATION)
async def attestation_form(request: Request, attestation: str | None = None,
                           session: Session = Depends(parent_session)) -> HTMLResponse:
    return await _attestation_page(request, session, shown=attestation)


@router.post(ATTESTATION)
async def request_attestation(request: Request, session: Session = Depends(parent_session)
                              ) -> Response:
    t = translator(request)
    values = await form_values(request, "annee")
    errors, status = FormErrors(), 422
    if values["annee"] not in {str(y) for y in attestation_years()}:
        errors.add("annee", t("billing.attestation.error.year"))
    else:
        try:
            with page_errors(request, keep=FORM_PROBLEMS):
                issued = await billing_of(request).request_attestation(
                    session.family_id, session.access_token, int(values["annee"]))
            return RedirectResponse(f"{ATTESTATION}?attestation={issued.attestation_id}",
                                    status_code=303)
        except UpstreamProblem as problem:
            # « Aucune dépense éligible en 2025. »
            status = problem.status
            errors.add_problem(problem, {"year": "annee"})
            if not errors:
                errors.top(t("billing.attestation.error.refused"))
    return await _attestation_page(request, session, errors=errors, year=values["annee"],
                                   status_code=status)


@router.get("/mon-compte/attestations/{attestation_id}/attestation.pdf")
async def attestation_pdf(request: Request, attestation_id: str,
                          session: Session = Depends(parent_session)) -> Response:
    attestation_id = checked_id(attestation_id)
    with page_errors(request):
        upstream = await billing_of(request).open_pdf(
            attestation_pdf_path(session.family_id, attestation_id), session.access_token)
    return _pdf(upstream, f"attestation-fiscale-{attestation_id}.pdf")

