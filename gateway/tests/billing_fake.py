"""A fake billing service (as `services/billing/API.md` describes it) for the Martin family: the
guide's nine invoices (« Détail financier », « Total : 210 »), their lines, online payments
through a pretend provider, receipts, the detail per registration and fiscal attestations.

Installed on a `FakeServices` with `FakeBilling(fake)`: it keeps its state in memory, answers
404 for another family's path or an invoice, payment or attestation that is not the family's,
409/422 (problem+json, French `detail`) where billing refuses, and records what it is sent.
`down = True` makes it unreachable.

The pretend provider: `redirect_url` is `https://paiement.example.test/payer?reference=<id>`;
the return query string is `reference=<id>&resultat=<accepte|refuse|abandon|attente>`.

Every answer is built from the contract's models (`marelle_contracts.http.billing`) and dumped
as the service would send it; `test_contract_fakes.py` checks them against billing's OpenAPI.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx

from marelle_contracts.http import billing as M

from gateway.tests.enrolment_fake import FAMILY_ID, LEA, R_VALID, TOM, YEAR, answer, problem

REGIE, REGIE_NAME = "alsh", "Régie enfance"
PROVIDER = "https://paiement.example.test/payer"
PDF_BYTES = b"%PDF-1.7\n% document de test\n%%EOF\n"
LAST_YEAR = date.today().year - 1  # the most recent full year (« Demande d'Attestation »)
T0 = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def _uuid(prefix: str, n: int) -> str:
    return f"{prefix}-0000-4000-8000-{n:012d}"


# The guide's table, in its order: (number, date, amount in cents).
GUIDE = [("F1404000001", date(2014, 4, 9), 4000),
         *((f"F1309{n:06d}", date(2013, 9, 6), 1000) for n in (1, 3, 5, 7, 2, 4, 6)),
         ("A1302000001", date(2013, 2, 19), 10000)]
INVOICES = [_uuid("f1000000", n) for n in range(1, len(GUIDE) + 1)]
FIRST = INVOICES[0]  # F1404000001: 40 €, partial payments allowed
SECOND = INVOICES[1]  # F1309000001: 10 €, whole balance only
CREDIT_NOTE = _uuid("f1000000", 90)  # added by `add_credit_note()`
OTHER_FAMILYS_INVOICE = _uuid("f1000000", 99)
ISSUED_ATTESTATION = _uuid("f3000000", 1)


def _lines(invoice_number: str) -> list[M.InvoiceLineView]:
    if invoice_number == "F1404000001":
        return [M.InvoiceLineView(child_id=LEA, child_name="Léa Martin", activity_name="AUTOMNE",
                                  day=date(2014, 4, 7), unit="journee",
                                  label="Journée complète", kind="prestation", quantity=1,
                                  unit_price_cents=1500, amount_cents=1500),
                M.InvoiceLineView(child_id=LEA, child_name="Léa Martin", activity_name="AUTOMNE",
                                  day=date(2014, 4, 8), unit="repas", label="Repas",
                                  kind="prestation", quantity=5, unit_price_cents=500,
                                  amount_cents=2500)]
    return []  # the other eight were carried over from the previous system


class FakeBilling:
    """billing's family endpoints over in-memory data; `fake.serve("billing", self)`."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.down = False
        self.invoices: dict[str, M.InvoiceDetail] = {}
        for invoice_id, (number, issued, cents) in zip(INVOICES, GUIDE, strict=True):
            self.invoices[invoice_id] = M.InvoiceDetail(
                invoice_id=invoice_id, number=number, kind="facture", family_id=FAMILY_ID,
                family_name="Martin", regie_code=REGIE, regie_name=REGIE_NAME,
                month=f"{issued:%Y-%m}", issued_on=issued, due_on=issued + timedelta(days=30),
                total_cents=cents, balance_cents=cents, status="emise",
                imported=number != "F1404000001", payable=True,
                partial_payment_allowed=invoice_id == FIRST, lines=_lines(number),
                allocations=[])
        self.payments: dict[str, M.PaymentView] = {}
        self.attestations: dict[str, M.FiscalAttestation] = {
            ISSUED_ATTESTATION: self._attestation(ISSUED_ATTESTATION, LAST_YEAR - 1, 9000)}
        self.email: str | None = "claire.martin@example.fr"
        # "GET" (a redirection) or "POST" (a form to post), as the régie's provider wants.
        self.provider_method = "GET"
        # What the gateway sent, by route name (« payments », « return », « attestations »).
        self.posted: dict[str, list[Any]] = {}
        # Set to an `httpx.Response` to answer the next POST with it.
        self.answer_next: httpx.Response | None = None
        self._receipts = 0
        fake.serve("billing", self)

    # --- what tests change ------------------------------------------------------------------

    def add_credit_note(self) -> None:
        """A credit note of 5 € not used yet (« Avoir AV1405000001 »)."""
        self.invoices[CREDIT_NOTE] = M.InvoiceDetail(
            invoice_id=CREDIT_NOTE, number="AV1405000001", kind="avoir", family_id=FAMILY_ID,
            family_name="Martin", regie_code=REGIE, regie_name=REGIE_NAME, month="2014-05",
            issued_on=date(2014, 5, 2), due_on=None, total_cents=500, balance_cents=500,
            status="emise", imported=False, payable=False, partial_payment_allowed=False,
            lines=[M.InvoiceLineView(child_id=LEA, child_name="Léa Martin",
                                     activity_name="AUTOMNE", day=date(2014, 4, 8),
                                     unit="repas", label="Repas", kind="regularisation",
                                     quantity=1, unit_price_cents=500, amount_cents=500)],
            allocations=[])

    # --- routing --------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        match = re.fullmatch(r"/families/([^/]+)(/.*)", request.url.path)
        if not match:
            return None
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return problem(401, "Authentification requise.")
        if match[1] != FAMILY_ID:
            return problem(404, "Ce foyer est introuvable.")
        if request.method == "POST" and self.answer_next is not None:
            answer_next, self.answer_next = self.answer_next, None
            self._record("answered", request)
            return answer_next
        return self.route(request, match[2].strip("/").split("/"))

    def _record(self, name: str, request: httpx.Request) -> Any:
        body = json.loads(request.content) if request.content else None
        self.posted.setdefault(name, []).append(body)
        return body

    def route(self, request: httpx.Request, parts: list[str]) -> httpx.Response | None:
        get, post = request.method == "GET", request.method == "POST"
        if parts == ["account"] and get:
            return self._ok(self.account())
        if parts == ["registrations"] and get:
            return self._ok(self.registration_money())
        if parts[0] == "invoices":
            if parts == ["invoices"] and get:
                return self._ok(self.listing())
            invoice = self.invoices.get(parts[1]) if len(parts) > 1 else None
            if invoice is None:
                return problem(404, "Cette facture est introuvable.")
            if parts[2:] == [] and get:
                return self._ok(invoice)
            if parts[2:] == ["pdf"] and get:
                return self._pdf()
            if parts[2:] == ["payments"] and post:
                return self.start(invoice, self._record("payments", request))
        if parts[0] == "payments":
            if parts == ["payments"] and get:
                return self._ok(M.PaymentList(payments=sorted(
                    self.payments.values(), key=lambda p: p.created_at, reverse=True)))
            if parts == ["payments", "return"] and post:
                return self.back_from_provider(self._record("return", request))
            payment = self.payments.get(parts[1]) if len(parts) > 1 else None
            if payment is None:
                return problem(404, "Ce paiement est introuvable.")
            if parts[2:] == [] and get:
                return self._ok(payment)
            if parts[2:] == ["receipt.pdf"] and get:
                if payment.status != "acceptee":
                    return problem(404, "Aucun ticket : ce paiement n'a pas été accepté.")
                return self._pdf()
        if parts[0] == "fiscal-attestations":
            if parts == ["fiscal-attestations"] and get:
                return self._ok(M.FiscalAttestations(attestations=list(
                    self.attestations.values())))
            if parts == ["fiscal-attestations"] and post:
                return self.attest(self._record("attestations", request))
            if len(parts) == 3 and parts[2] == "pdf" and get:
                if parts[1] not in self.attestations:
                    return problem(404, "Cette attestation est introuvable.")
                return self._pdf()
        return None

    @staticmethod
    def _ok(model: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=answer(model))

    @staticmethod
    def _pdf() -> httpx.Response:
        return httpx.Response(200, content=PDF_BYTES, headers={"content-type": "application/pdf"})

    # --- « Mon compte » -----------------------------------------------------------------------

    def _total(self) -> int:
        return sum(i.balance_cents if i.kind == "facture" else -i.balance_cents
                   for i in self.invoices.values())

    def account(self) -> M.AccountSummary:
        return M.AccountSummary(
            family_id=FAMILY_ID, balance_cents=self._total(),
            open_invoices=sum(1 for i in self.invoices.values()
                              if i.kind == "facture" and i.balance_cents),
            credit_cents=sum(i.balance_cents for i in self.invoices.values()
                             if i.kind == "avoir"),
            dependent_children=2, income_cents=3_250_000, income_year=2024, qf=650,
            qf_date=date(2025, 1, 15), bracket_code="T2",
            bracket_label="Tranche 2 (QF de 501 à 800)", email=self.email)

    def listing(self) -> M.InvoiceList:
        # Newest first, as billing sorts them; the guide's order within a day.
        ordered = sorted(self.invoices.values(), key=lambda i: i.issued_on, reverse=True)
        return M.InvoiceList(
            invoices=[M.InvoiceSummary.model_validate(
                i.model_dump(exclude={"lines", "allocations"})) for i in ordered],
            total_balance_cents=self._total())

    def registration_money(self) -> M.RegistrationMoneyList:
        return M.RegistrationMoneyList(registrations=[
            M.RegistrationMoney(registration_id=R_VALID, child_name="Léa Martin",
                                activity_name="AUTOMNE", period_label=f"Automne {YEAR}",
                                invoiced_cents=4000, paid_cents=1500, remaining_cents=2500),
            M.RegistrationMoney(registration_id=_uuid("d0000000", 7), child_name="Tom Martin",
                                activity_name="CANTINE", period_label=None,
                                invoiced_cents=12345, paid_cents=12345, remaining_cents=0)])

    # --- payments -----------------------------------------------------------------------------

    def start(self, invoice: M.InvoiceDetail, body: Any) -> httpx.Response:
        start = M.OnlinePaymentIn.model_validate(body)
        if not invoice.payable:
            return problem(409, "Cette facture est déjà réglée.")
        amount = start.amount_cents or invoice.balance_cents
        if start.amount_cents is not None and not invoice.partial_payment_allowed:
            return problem(422, "Le paiement partiel n'est pas autorisé pour cette facture.")
        if amount > invoice.balance_cents:
            return problem(422, "Le montant dépasse le solde de la facture.")
        payment_id = str(uuid.uuid4())
        self.payments[payment_id] = M.PaymentView(
            payment_id=payment_id, family_id=FAMILY_ID, regie_code=REGIE, regie_name=REGIE_NAME,
            method="carte", status="en_attente", amount_cents=amount,
            invoice_id=invoice.invoice_id, invoice_number=invoice.number, receipt_number=None,
            created_at=T0, received_at=None)
        fields = {"reference": payment_id, "montant": str(amount)} \
            if self.provider_method == "POST" else {}
        url = PROVIDER if fields else f"{PROVIDER}?reference={payment_id}"
        return self._ok(M.OnlinePaymentStart(
            payment_id=payment_id, invoice_number=invoice.number or "", amount_cents=amount,
            email=self.email, redirect_url=url, method=self.provider_method,
            form_fields=fields), 201)

    def back_from_provider(self, body: Any) -> httpx.Response:
        query = parse_qs(M.PaymentReturnIn.model_validate(body).query_string)
        payment = self.payments.get((query.get("reference") or [""])[0])
        if payment is None:
            return problem(400, "Retour de paiement illisible : paiement inconnu.")
        result = (query.get("resultat") or [""])[0]
        if payment.status == "en_attente" and result == "accepte":
            payment = self._accept(payment)
        elif payment.status == "en_attente" and result == "refuse":
            payment = payment.model_copy(update={
                "status": "refusee", "message": "Paiement refusé par la banque : carte refusée."})
        elif payment.status == "en_attente" and result == "abandon":
            payment = payment.model_copy(update={"status": "abandonnee",
                                                 "message": "Paiement abandonné."})
        self.payments[str(payment.payment_id)] = payment
        return self._ok(payment)

    def _accept(self, payment: M.PaymentView) -> M.PaymentView:
        self._receipts += 1
        at = T0 + timedelta(minutes=2)
        receipt = f"T{at:%Y}-{self._receipts:06d}"
        invoice = self.invoices[str(payment.invoice_id)]
        balance = invoice.balance_cents - payment.amount_cents
        self.invoices[str(invoice.invoice_id)] = invoice.model_copy(update={
            "balance_cents": balance, "payable": balance > 0,
            "status": "emise" if balance else "payee",
            "allocations": [*invoice.allocations, M.AllocationView(
                payment_id=payment.payment_id, credit_note_id=None, method="carte",
                amount_cents=payment.amount_cents, allocated_at=at, receipt_number=receipt)]})
        return payment.model_copy(update={
            "status": "acceptee", "receipt_number": receipt, "received_at": at,
            "card_type": "CB", "card_last4": "0003", "authorisation": "A12345",
            "allocations": [M.PaymentAllocation(invoice_id=invoice.invoice_id,
                                                invoice_number=invoice.number,
                                                amount_cents=payment.amount_cents)]})

    # --- fiscal attestations ----------------------------------------------------------------

    def _attestation(self, attestation_id: str, year: int, cents: int) -> M.FiscalAttestation:
        return M.FiscalAttestation(
            attestation_id=attestation_id, family_id=FAMILY_ID, year=year, total_cents=cents,
            children=[M.AttestationChild(child_id=TOM, first_name="Tom", last_name="Martin",
                                         birth_date=date(2023, 6, 30), amount_cents=cents)],
            issued_at=datetime(year + 1, 1, 20, 10, 0, tzinfo=timezone.utc))

    def attest(self, body: Any) -> httpx.Response:
        year = M.AttestationIn.model_validate(body).year
        if year != LAST_YEAR:
            return problem(409, f"Aucun frais de garde éligible en {year}.")
        attestation = self._attestation(_uuid("f3000000", 2), year, 18250)
        self.attestations[str(attestation.attestation_id)] = attestation
        return self._ok(attestation, 201)
