"""Calls to billing (« Mon compte »: the financial summary, invoices, online payments and their
receipts, the detail per registration, fiscal attestations), as `services/billing/API.md` says.

Always with the parent's bearer token and the token's family: billing checks both again and
answers 404 (or 403) for anything outside that family. Bodies are the contract's models
(`marelle_contracts.http.billing`); an answer of another shape is an outage, not a crash.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from babel.numbers import format_currency
from fastapi import Request
from pydantic import BaseModel, ValidationError

from marelle_contracts.http.billing import (
    AccountSummary,
    AttestationIn,
    FiscalAttestation,
    FiscalAttestations,
    InvoiceDetail,
    InvoiceList,
    OnlinePaymentIn,
    OnlinePaymentStart,
    PaymentList,
    PaymentReturnIn,
    PaymentView,
    RegistrationMoneyList,
)

from marelle_gateway.upstream import ServiceClient, UpstreamUnavailable, family_path, problem_of

log = logging.getLogger(__name__)
Model = TypeVar("Model", bound=BaseModel)

BILLING_DOWN = ("Le service de facturation est momentanément indisponible. "
                "Réessayez dans quelques minutes.")
PDF = "application/pdf"
# The portal's page the payment provider sends the parent back to.
RETURN_PATH = "/mon-compte/paiement/retour"


def invoice_path(family_id: str, invoice_id: str, *parts: str) -> str:
    return family_path(family_id, "invoices", invoice_id, *parts)


def invoice_pdf_path(family_id: str, invoice_id: str) -> str:
    return invoice_path(family_id, invoice_id, "pdf")


def receipt_pdf_path(family_id: str, payment_id: str) -> str:
    return family_path(family_id, "payments", payment_id, "receipt.pdf")


def attestation_pdf_path(family_id: str, attestation_id: str) -> str:
    return family_path(family_id, "fiscal-attestations", attestation_id, "pdf")


def return_url(request: Request) -> str:
    """The portal's own return page, as the parent's browser reaches it (the public URL
    behind a proxy, else the request's)."""
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return base + RETURN_PATH


def euros(cents: int, lang: str = "fr") -> str:
    """« 1 234,50 € » in French (Babel's spaces: no line break inside an amount)."""
    locale = "fr_FR" if lang == "fr" else lang
    return format_currency(Decimal(cents) / 100, "EUR", locale=locale)


def is_web_url(url: str) -> bool:
    """Only an http(s) address may be where the parent is sent to pay."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class BillingClient(ServiceClient):
    name = "billing"
    down = BILLING_DOWN

    def _parse(self, model: type[Model], body: Any) -> Model:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            log.warning("unexpected %s from billing: %s", model.__name__, exc.error_count())
            raise UpstreamUnavailable(self.down) from exc

    async def account(self, family_id: str, token: str) -> AccountSummary:
        body = await self.fetch("GET", family_path(family_id, "account"), token=token)
        return self._parse(AccountSummary, body)

    async def invoices(self, family_id: str, token: str) -> InvoiceList:
        body = await self.fetch("GET", family_path(family_id, "invoices"), token=token)
        return self._parse(InvoiceList, body)

    async def invoice(self, family_id: str, invoice_id: str, token: str) -> InvoiceDetail:
        body = await self.fetch("GET", invoice_path(family_id, invoice_id), token=token)
        return self._parse(InvoiceDetail, body)

    async def registrations(self, family_id: str, token: str) -> RegistrationMoneyList:
        body = await self.fetch("GET", family_path(family_id, "registrations"), token=token)
        return self._parse(RegistrationMoneyList, body)

    async def start_payment(self, family_id: str, invoice_id: str, token: str,
                            payment: OnlinePaymentIn) -> OnlinePaymentStart:
        body = await self.fetch("POST", invoice_path(family_id, invoice_id, "payments"),
                                ok=(200, 201), token=token,
                                json=payment.model_dump(mode="json"))
        start = self._parse(OnlinePaymentStart, body)
        if not is_web_url(start.redirect_url):
            log.warning("billing gave a payment address that is not http(s)")
            raise UpstreamUnavailable(self.down)
        return start

    async def payment_return(self, family_id: str, token: str,
                             query_string: str) -> PaymentView:
        body = await self.fetch("POST", family_path(family_id, "payments", "return"),
                                token=token,
                                json=PaymentReturnIn(query_string=query_string).model_dump())
        return self._parse(PaymentView, body)

    async def payments(self, family_id: str, token: str) -> PaymentList:
        body = await self.fetch("GET", family_path(family_id, "payments"), token=token)
        return self._parse(PaymentList, body)

    async def payment(self, family_id: str, payment_id: str, token: str) -> PaymentView:
        body = await self.fetch("GET", family_path(family_id, "payments", payment_id),
                                token=token)
        return self._parse(PaymentView, body)

    async def attestations(self, family_id: str, token: str) -> FiscalAttestations:
        body = await self.fetch("GET", family_path(family_id, "fiscal-attestations"),
                                token=token)
        return self._parse(FiscalAttestations, body)

    async def request_attestation(self, family_id: str, token: str,
                                  year: int) -> FiscalAttestation:
        body = await self.fetch("POST", family_path(family_id, "fiscal-attestations"),
                                ok=(200, 201), token=token,
                                json=AttestationIn(year=year).model_dump())
        return self._parse(FiscalAttestation, body)

    async def open_pdf(self, path: str, token: str) -> httpx.Response:
        """A PDF answer, body not read yet (the caller streams it, then closes it).

        A 200 that is not a PDF is an outage: never relay an unexpected body to parents."""
        response = await self.send("GET", path, token=token, stream=True)
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        if response.status_code == 200 and media_type == PDF:
            return response
        await response.aread()
        await response.aclose()
        if 400 <= response.status_code < 500:
            raise problem_of(response)
        log.warning("billing answered %s (%s) for a PDF", response.status_code,
                    media_type or "no type")
        raise UpstreamUnavailable(self.down)
