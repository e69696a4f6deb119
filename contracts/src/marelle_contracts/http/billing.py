"""billing's HTTP bodies (`services/billing/API.md`): « Mon compte » (financial summary, invoices,
payments, receipts, fiscal attestations), the financial profile, QF brackets, régies, tariffs,
invoicing runs, manual payments, SEPA mandates and collections, the import of open invoices and
the staff reports.

Every amount is integer cents (`*_cents`); pages format them in French (« 1 234,50 € »).
Codes are English, values of enumerations French (they travel to the pages).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from marelle_contracts.billing import PaymentMethod
from marelle_contracts.http._base import Answer, Created, FreeText, SingleLine, Strict

__all__ = [
    "AccountSummary", "AllocationIn", "AllocationView", "AttestationChild", "AttestationIn",
    "Bracket", "BracketsIn", "Brackets", "CallbackAnswer", "ChequeDetails", "Created",
    "District", "DistrictIn", "DistrictRenameIn", "Districts",
    "FinancialProfile", "FinancialProfileIn", "FiscalAttestation", "FiscalAttestations",
    "ImportIn", "ImportLineError", "ImportResult", "InvoiceDetail", "InvoiceLineView",
    "InvoiceList", "InvoiceStatus", "InvoiceSummary", "ManualPaymentIn", "Mandate", "MandateIn",
    "Mandates", "MonthCode", "OnlinePaymentIn", "OnlinePaymentStart", "PaymentList",
    "PaymentAllocation", "PaymentMethod", "PaymentReturnIn", "PaymentStatus", "PaymentView", "ProfileChange",
    "RegistrationMoney", "RegistrationMoneyList", "Regie", "RegieIn", "Regies", "ReportRow",
    "Report", "Run", "RunAnomaly", "RunIn", "RunStatus", "Runs", "SepaCollection",
    "SepaCollectionIn", "Tariff", "TariffIn", "TariffPrice", "Tariffs",
]

Cents = Annotated[int, Field(ge=0, le=100_000_000)]
SignedCents = Annotated[int, Field(ge=-100_000_000, le=100_000_000)]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
Label = Annotated[str, Field(min_length=1, max_length=120), SingleLine]
ShortText = Annotated[str, Field(min_length=1, max_length=200), SingleLine]
UnitCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")]
# A district's code: a short lowercase slug (« nord », « centre-ville »).
DistrictCode = Annotated[str, Field(min_length=1, max_length=30,
                                    pattern=r"^[a-z0-9][a-z0-9-]*$")]
MonthCode = Annotated[str, Field(max_length=7, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]  # "2026-10"
InvoiceStatus = Literal["brouillon", "emise", "payee", "annulee"]
PaymentStatus = Literal["en_attente", "acceptee", "refusee", "abandonnee"]
RunStatus = Literal["en_cours", "brouillon", "finalisation", "finale", "abandonnee", "echec"]
QfSource = Literal["caf", "msa", "avis_imposition", "saisie", "import"]


# --- QF brackets, régies, tariffs (staff) ---------------------------------------------------------

class Bracket(Strict):
    """A QF bracket (« tranche »): qf_min ≤ QF ≤ qf_max (no qf_max: and above)."""

    code: Code
    label: Label
    qf_min: Annotated[int, Field(ge=0, le=100_000)]
    qf_max: Annotated[int, Field(ge=0, le=100_000)] | None = None


class BracketsIn(Strict):
    brackets: Annotated[list[Bracket], Field(min_length=1, max_length=30)]


class Brackets(Answer):
    brackets: list[Bracket]


class RegieIn(Strict):
    """A régie (collection office): its numbering, payment means and SEPA creditor."""

    code: Code
    name: Label
    invoice_prefix: Annotated[str, Field(min_length=1, max_length=4, pattern=r"^[A-Z]+$")] = "F"
    credit_prefix: Annotated[str, Field(min_length=1, max_length=4, pattern=r"^[A-Z]+$")] = "AV"
    partial_payment_allowed: bool = False
    due_days: Annotated[int, Field(ge=0, le=120)] = 30
    # An eopayment backend ("dummy" = the sandbox bank, refused in production; "tipi",
    # "payfip_ws", "payzen", …) and its options (strings, as eopayment documents them).
    payment_backend: Annotated[str, Field(min_length=1, max_length=30), SingleLine] = "dummy"
    payment_options: Annotated[dict[Annotated[str, Field(max_length=60), SingleLine],
                                    Annotated[str, Field(max_length=500), SingleLine]],
                               Field(max_length=20)] = {}
    creditor_name: Label | None = None
    creditor_iban: Annotated[str, Field(max_length=34), SingleLine] | None = None
    creditor_bic: Annotated[str, Field(max_length=11), SingleLine] | None = None
    creditor_id: Annotated[str, Field(max_length=35), SingleLine] | None = None  # ICS
    accounting_code: Annotated[str, Field(max_length=40), SingleLine] | None = None


class Regie(Answer):
    regie_id: uuid.UUID
    code: str
    name: str
    invoice_prefix: str
    credit_prefix: str
    partial_payment_allowed: bool
    due_days: int
    payment_backend: str
    creditor_name: str | None = None
    creditor_iban: str | None = None
    creditor_bic: str | None = None
    creditor_id: str | None = None
    accounting_code: str | None = None
    version: int


class Regies(Answer):
    regies: list[Regie]


class TariffPrice(Strict):
    """A price for a bracket (None: the default price when the QF is unknown) and a residency
    (None: anyone; True: residents; False: non-residents)."""

    bracket_code: Code | None = None
    resident: bool | None = None
    price_cents: Cents


class TariffIn(Strict):
    """The price of one unit (« repas », « matin »…) of an activity, from a date."""

    regie_code: Code
    activity_name: Label  # the activity as enrolment names it (period's activity_name)
    unit: UnitCode
    label: Label
    valid_from: date
    valid_to: date | None = None
    meal: bool = False  # meals are excluded from the fiscal attestation
    prices: Annotated[list[TariffPrice], Field(min_length=1, max_length=60)]
    # Present without booking: billed when this unit is the one a roll call implies, plus the
    # surcharge.
    unbooked_presence: bool = False
    surcharge_cents: Cents = 0
    # Unjustified absence: this share of the price is billed (justified: nothing).
    unjustified_absence_percent: Annotated[int, Field(ge=0, le=100)] = 100


class Tariff(Answer):
    tariff_id: uuid.UUID
    regie_code: str
    activity_name: str
    unit: str
    label: str
    valid_from: date
    valid_to: date | None
    meal: bool
    prices: list[TariffPrice]
    unbooked_presence: bool
    surcharge_cents: int
    unjustified_absence_percent: int
    version: int


class Tariffs(Answer):
    tariffs: list[Tariff]


# --- the city's districts (« quartiers »), a referential next to residency (staff) -------------

class DistrictIn(Strict):
    code: DistrictCode = Field(description="Short slug, e.g. « nord ». — Code court, ex. "
                                           "« nord ».")
    label: Label = Field(description="French name, e.g. « Nord ». — Nom, ex. « Nord ».")


class DistrictRenameIn(Strict):
    label: Label = Field(description="New French name. — Nouveau nom.")


class District(Answer):
    code: str = Field(description="Short slug. — Code court.")
    label: str = Field(description="French name. — Nom.")
    households: int = Field(0, description="Financial profiles in this district. — Foyers de ce "
                                           "quartier.")


class Districts(Answer):
    districts: list[District] = Field(description="By name. — Par nom.")


# --- financial profile ----------------------------------------------------------------------------

class FinancialProfileIn(Strict):
    qf: Annotated[int, Field(ge=0, le=100_000)] | None = None
    qf_date: date | None = None
    qf_source: QfSource | None = None
    income_cents: Cents | None = None  # « derniers revenus » (yearly)
    income_year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    dependent_children: Annotated[int, Field(ge=0, le=30)] | None = None
    resident: bool = True
    district: DistrictCode | None = Field(
        None, description="The household's district (a code of `GET /staff/districts`), none "
                          "when not set. — Quartier du foyer (un code de la liste des quartiers).")
    reason: FreeText(200) | None = None  # type: ignore[valid-type]


class ProfileChange(Answer):
    changed_at: datetime
    changed_by: uuid.UUID | None
    source: str
    reason: str | None
    before: dict
    after: dict


class FinancialProfile(Answer):
    family_id: uuid.UUID
    qf: int | None
    qf_date: date | None
    qf_source: str | None
    income_cents: int | None
    income_year: int | None
    dependent_children: int | None
    resident: bool
    district: str | None = Field(None, description="The household's district code. — Code du "
                                                   "quartier du foyer.")
    district_label: str | None = Field(None, description="Its name. — Son nom.")
    bracket_code: str | None  # the bracket the QF gives (None: unknown QF, default prices)
    bracket_label: str | None
    version: int
    history: list[ProfileChange] = []


# --- invoices -------------------------------------------------------------------------------------

class InvoiceSummary(Answer):
    """A row of « Détail financier par facture »."""

    invoice_id: uuid.UUID
    number: str | None  # None while a draft
    kind: Literal["facture", "avoir"]
    family_id: uuid.UUID
    family_name: str | None = None
    regie_code: str
    regie_name: str
    month: str | None
    issued_on: date | None
    due_on: date | None
    total_cents: int      # « Montant dû »
    balance_cents: int    # « Solde »: what remains to pay (for a credit note: what remains to use)
    status: InvoiceStatus
    imported: bool
    payable: bool         # an issued invoice with a balance, online payment possible
    partial_payment_allowed: bool


class InvoiceList(Answer):
    invoices: list[InvoiceSummary]
    total_balance_cents: int  # « Total : » under the table


class InvoiceLineView(Answer):
    child_id: uuid.UUID | None
    child_name: str | None
    activity_name: str | None
    day: date | None
    unit: str | None
    label: str  # the unit's label, or the imported invoice's wording
    kind: Literal["prestation", "absence_injustifiee", "majoration", "regularisation", "reprise"]
    quantity: int
    unit_price_cents: int
    amount_cents: int


class AllocationView(Answer):
    payment_id: uuid.UUID | None
    credit_note_id: uuid.UUID | None
    method: str
    amount_cents: int
    allocated_at: datetime
    receipt_number: str | None


class InvoiceDetail(InvoiceSummary):
    lines: list[InvoiceLineView]
    allocations: list[AllocationView]


class RegistrationMoney(Answer):
    """A row of « Détail financier par inscription »."""

    registration_id: uuid.UUID
    child_name: str
    activity_name: str
    period_label: str | None
    invoiced_cents: int
    paid_cents: int
    remaining_cents: int


class RegistrationMoneyList(Answer):
    registrations: list[RegistrationMoney]


class AccountSummary(Answer):
    """The top of « Mon compte »."""

    family_id: uuid.UUID
    balance_cents: int          # « Solde »: open invoices minus unused credit
    open_invoices: int
    credit_cents: int           # unused credit notes and unallocated payments
    dependent_children: int | None   # « Nombre d'enfants à charge »
    income_cents: int | None         # « Derniers revenus »
    income_year: int | None
    qf: int | None                   # « Quotient »
    qf_date: date | None
    bracket_code: str | None
    bracket_label: str | None        # « Tranche tarifaire »
    email: str | None


# --- payments -------------------------------------------------------------------------------------

class OnlinePaymentIn(Strict):
    """Step 2 of « Payer cette facture ». `amount_cents` defaults to the invoice's balance; a
    smaller amount only when the régie allows partial payments. `return_url` is where the provider
    sends the parent back (the portal's return page)."""

    amount_cents: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    return_url: Annotated[str, Field(min_length=1, max_length=500), SingleLine]


class OnlinePaymentStart(Answer):
    payment_id: uuid.UUID
    invoice_number: str
    amount_cents: int
    email: str | None
    # Where the browser goes next: a GET to `redirect_url`, or (some providers) a POST of
    # `form_fields` to it.
    redirect_url: str
    method: Literal["GET", "POST"] = "GET"
    form_fields: dict[str, str] = {}


class PaymentReturnIn(Strict):
    """What the provider appended to the parent's return URL, forwarded as is."""

    query_string: Annotated[str, Field(max_length=4000), SingleLine]


class PaymentView(Answer):
    """A payment and its receipt (« ticket »)."""

    payment_id: uuid.UUID
    family_id: uuid.UUID
    regie_code: str
    regie_name: str
    method: PaymentMethod
    status: PaymentStatus
    amount_cents: int
    invoice_id: uuid.UUID | None
    invoice_number: str | None
    receipt_number: str | None
    created_at: datetime
    received_at: datetime | None
    card_type: str | None = None
    card_last4: str | None = None
    authorisation: str | None = None
    details: dict[str, str] = {}
    allocations: list[PaymentAllocation] = []
    unallocated_cents: int = 0
    message: str | None = None  # French: why a payment was refused or abandoned


class PaymentAllocation(Answer):
    invoice_id: uuid.UUID
    invoice_number: str | None
    amount_cents: int


class PaymentList(Answer):
    payments: list[PaymentView]


class CallbackAnswer(Answer):
    ok: bool


class ChequeDetails(Strict):
    issuer: Label
    bank: Label
    number: Annotated[str, Field(min_length=1, max_length=30), SingleLine]


class AllocationIn(Strict):
    invoice_id: uuid.UUID
    amount_cents: Annotated[int, Field(ge=1, le=100_000_000)]


class ManualPaymentIn(Strict):
    """A payment staff record (cash, cheque, CESU, holiday vouchers). Without `allocations` it is
    applied to the family's oldest open invoices of the régie; what remains is kept as credit."""

    family_id: uuid.UUID
    regie_code: Code
    method: Literal["especes", "cheque", "cesu", "cheque_vacances"]
    amount_cents: Annotated[int, Field(ge=1, le=100_000_000)]
    received_on: date
    cheque: ChequeDetails | None = None
    reference: Annotated[str, Field(max_length=60), SingleLine] | None = None  # CESU / voucher numbers
    allocations: Annotated[list[AllocationIn], Field(max_length=100)] | None = None


class MandateIn(Strict):
    regie_code: Code
    reference: Annotated[str, Field(min_length=1, max_length=35, pattern=r"^[A-Za-z0-9+?/:().,' -]+$")]
    debtor_name: Label
    iban: Annotated[str, Field(min_length=15, max_length=34), SingleLine]
    bic: Annotated[str, Field(min_length=8, max_length=11), SingleLine]
    signed_on: date


class Mandate(Answer):
    mandate_id: uuid.UUID
    family_id: uuid.UUID
    regie_code: str
    reference: str
    debtor_name: str
    iban_masked: str
    bic: str
    signed_on: date
    active: bool


class Mandates(Answer):
    mandates: list[Mandate]


class SepaCollectionIn(Strict):
    regie_code: Code
    collection_date: date


class SepaCollection(Answer):
    """A pain.008 file: the open invoices of families with an active mandate, debited on
    `collection_date` (the payments are recorded as received on that date)."""

    collection_id: uuid.UUID
    regie_code: str
    collection_date: date
    count: int
    total_cents: int
    created_at: datetime


# --- invoicing runs -------------------------------------------------------------------------------

class RunIn(Strict):
    regie_code: Code
    month: MonthCode


class RunAnomaly(Answer):
    kind: Literal["sans_tarif", "qf_inconnu", "presence_sans_reservation", "avoir",
                  "famille_inconnue", "regularisation"]
    family_id: uuid.UUID | None
    child_id: uuid.UUID | None = None
    day: date | None = None
    detail: str  # French


class Run(Answer):
    run_id: uuid.UUID
    regie_code: str
    month: str
    status: RunStatus
    families_total: int
    families_done: int
    invoices: int
    credit_notes: int
    total_cents: int       # invoices minus credit notes
    lines: int
    anomalies: list[RunAnomaly]
    started_at: datetime
    computed_at: datetime | None
    finalised_at: datetime | None
    version: int


class Runs(Answer):
    runs: list[Run]


# --- import of open invoices ----------------------------------------------------------------------

class ImportIn(Strict):
    """CSV (`;` or `,`) with a header: `famille` (family id), `numero`, `date` (JJ/MM/AAAA or
    AAAA-MM-JJ), `montant`, `solde` (optional, defaults to montant), `libelle` (optional).
    Amounts in euros with a comma or a dot (« 40,00 »)."""

    regie_code: Code
    csv: FreeText(5_000_000, min_length=1)  # type: ignore[valid-type]


class ImportLineError(Answer):
    line: int
    detail: str


class ImportResult(Answer):
    imported: int
    already_present: int
    errors: list[ImportLineError]


# --- fiscal attestations --------------------------------------------------------------------------

class AttestationIn(Strict):
    year: Annotated[int, Field(ge=2000, le=2100)]


class AttestationChild(Answer):
    child_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    amount_cents: int


class FiscalAttestation(Answer):
    attestation_id: uuid.UUID
    family_id: uuid.UUID
    year: int
    total_cents: int
    children: list[AttestationChild]
    issued_at: datetime


class FiscalAttestations(Answer):
    attestations: list[FiscalAttestation]


# --- staff reports --------------------------------------------------------------------------------

class ReportRow(Answer):
    activity_name: str
    invoiced_cents: int
    collected_cents: int
    outstanding_cents: int


class Report(Answer):
    regie_code: str
    month: str
    rows: list[ReportRow]
    invoiced_cents: int
    collected_cents: int
    outstanding_cents: int
