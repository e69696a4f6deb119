"""A fake billing (staff part of services/billing/API.md) for the « Facturation » pages.

Every answer is built from billing's own models (`marelle_contracts.http.billing`) and dumped as
billing sends them; `test_contract_fakes.py` checks them against billing's real OpenAPI.
`with_billing(fake)` puts them on the shared `FakeServices` (which records what was sent).
"""

from __future__ import annotations

import httpx

from marelle_contracts.http import billing as B

from .conftest import problem
from .sample import FAMILY, FAMILY_ID, answer

REGIE_ID = "b1000000-0000-4000-8000-000000000001"
OTHER_REGIE_ID = "b1000000-0000-4000-8000-000000000002"
TARIFF_ID = "b2000000-0000-4000-8000-000000000001"
INVOICE_ID = "b3000000-0000-4000-8000-000000000001"
OLD_INVOICE_ID = "b3000000-0000-4000-8000-000000000002"
DRAFT_ID = "b3000000-0000-4000-8000-000000000003"
CREDIT_ID = "b3000000-0000-4000-8000-000000000004"
PAYMENT_ID = "b4000000-0000-4000-8000-000000000001"
CARD_PAYMENT_ID = "b4000000-0000-4000-8000-000000000002"
MANDATE_ID = "b5000000-0000-4000-8000-000000000001"
COLLECTION_ID = "b6000000-0000-4000-8000-000000000001"
RUN_ID = "b7000000-0000-4000-8000-000000000001"
DRAFT_RUN_ID = "b7000000-0000-4000-8000-000000000002"
STAFF_UUID = "70000000-0000-4000-8000-000000000009"
CHILD_LEA = "c0000000-0000-4000-8000-00000000000a"
MONTH = "2026-10"

REGIE = answer(B.Regie(
    regie_id=REGIE_ID, code="ENF", name="Régie enfance", invoice_prefix="F", credit_prefix="AV",
    partial_payment_allowed=True, due_days=30, payment_backend="dummy",
    creditor_name="Ville de Marelle", creditor_iban="FR7630006000011234567890189",
    creditor_bic="AGRIFRPP", creditor_id="FR12ZZZ123456", accounting_code="7066", version=2))
SPORT = answer(B.Regie(
    regie_id=OTHER_REGIE_ID, code="SPORT", name="Régie sports", invoice_prefix="S",
    credit_prefix="SAV", partial_payment_allowed=False, due_days=15, payment_backend="tipi",
    version=1))
REGIES = answer(B.Regies(regies=[B.Regie.model_validate(REGIE), B.Regie.model_validate(SPORT)]))

BRACKETS = answer(B.Brackets(brackets=[
    B.Bracket(code="A", label="Tranche A", qf_min=0, qf_max=650),
    B.Bracket(code="B", label="Tranche B", qf_min=651, qf_max=1200),
    B.Bracket(code="C", label="Tranche C", qf_min=1201)]))

TARIFF = answer(B.Tariff(
    tariff_id=TARIFF_ID, regie_code="ENF", activity_name="AUTOMNE", unit="repas", label="Repas",
    valid_from="2026-09-01", valid_to=None, meal=True,
    prices=[B.TariffPrice(bracket_code="A", price_cents=120),
            B.TariffPrice(bracket_code="B", price_cents=250),
            B.TariffPrice(bracket_code="C", price_cents=350),
            B.TariffPrice(bracket_code=None, price_cents=400),
            B.TariffPrice(bracket_code=None, resident=False, price_cents=500)],
    unbooked_presence=True, surcharge_cents=150, unjustified_absence_percent=50, version=1))
TARIFFS = answer(B.Tariffs(tariffs=[B.Tariff.model_validate(TARIFF)]))

PROFILE = answer(B.FinancialProfile(
    family_id=FAMILY_ID, qf=640, qf_date="2026-01-15", qf_source="caf", income_cents=3_200_000,
    income_year=2025, dependent_children=2, resident=True, bracket_code="A",
    bracket_label="Tranche A", version=3,
    history=[B.ProfileChange(changed_at="2026-01-15T09:30:00+00:00", changed_by=STAFF_UUID,
                             source="saisie", reason="Attestation CAF de janvier",
                             before={"qf": 820, "qf_date": "2025-01-10"},
                             after={"qf": 640, "qf_date": "2026-01-15"})]))

DISTRICTS = answer(B.Districts(districts=[
    B.District(code="nord", label="Nord", households=12),
    B.District(code="sud", label="Sud", households=0)]))

ACCOUNT = answer(B.AccountSummary(
    family_id=FAMILY_ID, balance_cents=123_450, open_invoices=2, credit_cents=0,
    dependent_children=2, income_cents=3_200_000, income_year=2025, qf=640,
    qf_date="2026-01-15", bracket_code="A", bracket_label="Tranche A",
    email="famille.martin@example.fr"))


def _invoice(invoice_id: str, number: str | None, *, total: int, balance: int,
             status: B.InvoiceStatus = "emise", kind: str = "facture", issued: str | None = None,
             due: str | None = None, month: str | None = MONTH,
             imported: bool = False) -> B.InvoiceSummary:
    return B.InvoiceSummary(
        invoice_id=invoice_id, number=number, kind=kind, family_id=FAMILY_ID,
        family_name="Martin", regie_code="ENF", regie_name="Régie enfance", month=month,
        issued_on=issued, due_on=due, total_cents=total, balance_cents=balance, status=status,
        imported=imported, payable=status == "emise" and balance > 0,
        partial_payment_allowed=True)


ISSUED = _invoice(INVOICE_ID, "F2026-000123", total=123_000, balance=121_000,
                  issued="2026-11-02", due="2026-12-02")
OLD = _invoice(OLD_INVOICE_ID, "ANC-40", total=4_000, balance=2_450, issued="2026-06-30",
               due="2026-07-30", month=None, imported=True)
FAMILY_INVOICES = answer(B.InvoiceList(invoices=[ISSUED, OLD], total_balance_cents=123_450))
UNPAID = FAMILY_INVOICES

RUN_INVOICES = answer(B.InvoiceList(invoices=[
    _invoice(DRAFT_ID, None, total=4_250, balance=4_250, status="brouillon"),
    _invoice(CREDIT_ID, None, total=500, balance=500, status="brouillon", kind="avoir")],
    total_balance_cents=3_750))

INVOICE_DETAIL = answer(B.InvoiceDetail(
    **ISSUED.model_dump(),
    lines=[B.InvoiceLineView(child_id=CHILD_LEA, child_name="Léa Martin", activity_name="AUTOMNE",
                             day="2026-10-20", unit="repas", label="Repas", kind="prestation",
                             quantity=1, unit_price_cents=120, amount_cents=120),
           B.InvoiceLineView(child_id=CHILD_LEA, child_name="Léa Martin", activity_name="AUTOMNE",
                             day="2026-10-21", unit="repas", label="Repas",
                             kind="absence_injustifiee", quantity=1, unit_price_cents=60,
                             amount_cents=60)],
    allocations=[B.AllocationView(payment_id=PAYMENT_ID, credit_note_id=None, method="cheque",
                                  amount_cents=2_000, allocated_at="2026-11-05T10:00:00+00:00",
                                  receipt_number="R2026-0042")]))


def _run(run_id: str, status: B.RunStatus, done: int, total: int, **extra) -> dict:
    return answer(B.Run(
        run_id=run_id, regie_code="ENF", month=MONTH, status=status, families_total=total,
        families_done=done, invoices=extra.get("invoices", 0),
        credit_notes=extra.get("credit_notes", 0), total_cents=extra.get("total_cents", 0),
        lines=extra.get("lines", 0), anomalies=extra.get("anomalies", []),
        started_at="2026-11-01T07:00:00+00:00", computed_at=extra.get("computed_at"),
        finalised_at=None, version=1))


RUNNING = _run(RUN_ID, "en_cours", 1200, 20000)
DRAFT_RUN = _run(DRAFT_RUN_ID, "brouillon", 3, 3, invoices=1, credit_notes=1, total_cents=3_750,
                 lines=12, computed_at="2026-11-01T07:05:00+00:00", anomalies=[
                     B.RunAnomaly(kind="sans_tarif", family_id=FAMILY_ID, child_id=CHILD_LEA,
                                  day="2026-10-22",
                                  detail="Aucun tarif pour l'unité « goûter » d'AUTOMNE."),
                     B.RunAnomaly(kind="qf_inconnu", family_id=FAMILY_ID,
                                  detail="Quotient familial inconnu : prix par défaut.")])
FINAL_RUN = {**DRAFT_RUN, "status": "finale", "finalised_at": "2026-11-01T08:00:00+00:00"}
RUNS = answer(B.Runs(runs=[B.Run.model_validate(RUNNING), B.Run.model_validate(DRAFT_RUN)]))

CHEQUE = answer(B.PaymentView(
    payment_id=PAYMENT_ID, family_id=FAMILY_ID, regie_code="ENF", regie_name="Régie enfance",
    method="cheque", status="acceptee", amount_cents=2_000, invoice_id=None, invoice_number=None,
    receipt_number="R2026-0042", created_at="2026-11-05T10:00:00+00:00",
    received_at="2026-11-05T10:00:00+00:00",
    details={"issuer": "Claire Martin", "bank": "Banque Postale", "number": "0001234"},
    allocations=[B.PaymentAllocation(invoice_id=INVOICE_ID, invoice_number="F2026-000123",
                                     amount_cents=2_000)]))
CARD = answer(B.PaymentView(
    payment_id=CARD_PAYMENT_ID, family_id=FAMILY_ID, regie_code="ENF", regie_name="Régie enfance",
    method="carte", status="acceptee", amount_cents=1_550, invoice_id=OLD_INVOICE_ID,
    invoice_number="ANC-40", receipt_number="R2026-0043", created_at="2026-11-06T18:00:00+00:00",
    received_at="2026-11-06T18:01:00+00:00", card_type="CB", card_last4="0003",
    authorisation="A1B2C3",
    allocations=[B.PaymentAllocation(invoice_id=OLD_INVOICE_ID, invoice_number="ANC-40",
                                     amount_cents=1_550)]))
PAYMENTS = answer(B.PaymentList(payments=[B.PaymentView.model_validate(CHEQUE),
                                          B.PaymentView.model_validate(CARD)]))

MANDATE = answer(B.Mandate(
    mandate_id=MANDATE_ID, family_id=FAMILY_ID, regie_code="ENF", reference="MARELLE-ENF-0001",
    debtor_name="Claire Martin", iban_masked="FR76 **** **** **** **** ***0 189", bic="AGRIFRPP",
    signed_on="2026-09-01", active=True))
MANDATES = answer(B.Mandates(mandates=[B.Mandate.model_validate(MANDATE)]))

COLLECTION = answer(B.SepaCollection(
    collection_id=COLLECTION_ID, regie_code="ENF", collection_date="2026-12-05", count=14,
    total_cents=123_450, created_at="2026-11-20T09:00:00+00:00"))
PAIN008 = (b'<?xml version="1.0" encoding="UTF-8"?>'
           b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"/>')

IMPORT_RESULT = answer(B.ImportResult(imported=2, already_present=1, errors=[
    B.ImportLineError(line=4, detail="Famille inconnue : 0000."),
    B.ImportLineError(line=6, detail="Montant illisible : « quarante »."),
]))

REPORT = answer(B.Report(
    regie_code="ENF", month=MONTH,
    rows=[B.ReportRow(activity_name="AUTOMNE", invoiced_cents=123_450, collected_cents=100_000,
                      outstanding_cents=23_450),
          B.ReportRow(activity_name="MERCREDIS", invoiced_cents=50_000, collected_cents=50_000,
                      outstanding_cents=0)],
    invoiced_cents=173_450, collected_cents=150_000, outstanding_cents=23_450))
REPORT_CSV = "activite;facture;encaisse;restant\nAUTOMNE;1234,50;1000,00;234,50\n".encode()
ACCOUNTING_CSV = ("\ufeffType;Numéro;Date;Famille;Régie;Code comptable;Activité;Montant;"
                  "Moyen de paiement\r\nFacture;F2610000001;05/10/2026;Famille Martin;ENF;"
                  "7067;AUTOMNE;1234,50;\r\n").encode()

RECEIPT = answer(B.PaymentView.model_validate(
    {**CHEQUE, "payment_id": "b4000000-0000-4000-8000-000000000003",
     "receipt_number": "R2026-0044"}))


def with_billing(fake, *, run=RUNNING, draft_run=DRAFT_RUN):
    """Billing's staff routes answering the samples above, and identity's family page."""
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", FAMILY)
    fake.on("GET", "billing", "/staff/regies", REGIES)
    fake.on("POST", "billing", "/staff/regies", httpx.Response(201, json=REGIE))
    fake.on("PUT", "billing", "/staff/regies/ENF", REGIE)
    fake.on("GET", "billing", "/staff/brackets", BRACKETS)
    fake.on("PUT", "billing", "/staff/brackets", BRACKETS)
    fake.on("GET", "billing", "/staff/tariffs", TARIFFS)
    fake.on("POST", "billing", "/staff/tariffs", httpx.Response(201, json=TARIFF))
    fake.on("PUT", "billing", f"/staff/tariffs/{TARIFF_ID}", TARIFF)
    fake.on("DELETE", "billing", f"/staff/tariffs/{TARIFF_ID}", httpx.Response(204))
    fake.on("GET", "billing", "/staff/districts", DISTRICTS)
    fake.on("GET", "billing", f"/staff/families/{FAMILY_ID}/profile", PROFILE)
    fake.on("PUT", "billing", f"/staff/families/{FAMILY_ID}/profile", PROFILE)
    fake.on("GET", "billing", f"/staff/families/{FAMILY_ID}/account", ACCOUNT)
    fake.on("GET", "billing", "/staff/invoices", FAMILY_INVOICES)
    fake.on("GET", "billing", f"/staff/invoices/{INVOICE_ID}", INVOICE_DETAIL)
    fake.on("POST", "billing", "/staff/payments", httpx.Response(201, json=RECEIPT))
    fake.on("GET", "billing", "/staff/payments", PAYMENTS)
    fake.on("GET", "billing", f"/staff/families/{FAMILY_ID}/mandates", MANDATES)
    fake.on("POST", "billing", f"/staff/families/{FAMILY_ID}/mandates",
            httpx.Response(201, json=MANDATE))
    fake.on("DELETE", "billing", f"/staff/mandates/{MANDATE_ID}", httpx.Response(204))
    fake.on("POST", "billing", "/staff/runs", httpx.Response(202, json=run))
    fake.on("GET", "billing", "/staff/runs", RUNS)
    fake.on("GET", "billing", f"/staff/runs/{RUN_ID}", run)
    fake.on("GET", "billing", f"/staff/runs/{RUN_ID}/invoices",
            answer(B.InvoiceList(invoices=[], total_balance_cents=0)))
    fake.on("GET", "billing", f"/staff/runs/{DRAFT_RUN_ID}", draft_run)
    fake.on("GET", "billing", f"/staff/runs/{DRAFT_RUN_ID}/invoices", RUN_INVOICES)
    fake.on("POST", "billing", f"/staff/runs/{DRAFT_RUN_ID}/recompute",
            httpx.Response(202, json=draft_run))
    fake.on("POST", "billing", f"/staff/runs/{DRAFT_RUN_ID}/finalise", FINAL_RUN)
    fake.on("DELETE", "billing", f"/staff/runs/{DRAFT_RUN_ID}", httpx.Response(204))
    fake.on("POST", "billing", "/staff/sepa/collections", httpx.Response(201, json=COLLECTION))
    fake.on("GET", "billing", f"/staff/sepa/collections/{COLLECTION_ID}/pain.008.xml",
            httpx.Response(200, content=PAIN008, headers={"content-type": "application/xml"}))
    fake.on("POST", "billing", "/staff/imports/invoices", IMPORT_RESULT)
    fake.on("GET", "billing", "/staff/reports", REPORT)
    fake.on("GET", "billing", "/staff/reports.csv",
            httpx.Response(200, content=REPORT_CSV,
                           headers={"content-type": "text/csv; charset=utf-8"}))
    fake.on("GET", "billing", "/staff/exports/accounting.csv",
            httpx.Response(200, content=ACCOUNTING_CSV,
                           headers={"content-type": "text/csv; charset=utf-8"}))
    return fake


def refusal(detail: str, errors: list[dict[str, str]] | None = None,
            status: int = 422) -> httpx.Response:
    """Billing's problem+json (French `detail`, 422 field `erreurs`)."""
    return problem(status, detail, errors)
