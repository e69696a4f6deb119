"""Events published by billing on `marelle.billing.v1`.

All keyed by family id (a household's money in order). Amounts are integer cents (never floats).
Each event carries its aggregate's version in the envelope (`aggregate_version`): the invoice
(or credit note), the payment, the fiscal attestation. Identity emails the family on
`invoice_issued` and `payment_received`; accounting systems read all of them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PaymentMethod(StrEnum):
    CARD = "carte"              # online, through the régie's payment provider
    CASH = "especes"
    CHEQUE = "cheque"
    CESU = "cesu"
    HOLIDAY_VOUCHER = "cheque_vacances"
    DIRECT_DEBIT = "prelevement"  # SEPA direct debit
    CREDIT_NOTE = "avoir"        # a credit note used against an invoice


class Allocation(_Payload):
    """Part of a payment (or credit note) applied to one invoice."""

    invoice_id: uuid.UUID
    invoice_number: str
    amount_cents: int


class InvoiceIssued(_Payload):
    """A final invoice was issued by an invoicing run (or imported from the previous system)."""

    invoice_id: uuid.UUID
    number: str  # prefix + year + month + sequence, e.g. F1404000001
    family_id: uuid.UUID
    regie_code: str
    regie_name: str
    month: str | None  # "2026-10" for a run's invoice; None for an imported one
    issued_on: date
    due_on: date | None
    total_cents: int
    balance_cents: int
    imported: bool = False


class CreditNoteIssued(_Payload):
    """A credit note (avoir): what a run owes the family back (late cancellation, correction)."""

    credit_note_id: uuid.UUID
    number: str
    family_id: uuid.UUID
    regie_code: str
    regie_name: str
    month: str | None
    issued_on: date
    amount_cents: int
    allocations: list[Allocation] = []


class PaymentReceived(_Payload):
    """Money received (online card payment accepted, or recorded by staff)."""

    payment_id: uuid.UUID
    family_id: uuid.UUID
    regie_code: str
    method: PaymentMethod
    amount_cents: int
    received_at: datetime
    receipt_number: str
    allocations: list[Allocation] = []
    unallocated_cents: int = 0  # kept as the family's credit


class InvoicePaid(_Payload):
    """An invoice's balance reached zero."""

    invoice_id: uuid.UUID
    number: str
    family_id: uuid.UUID
    regie_code: str
    total_cents: int
    paid_at: datetime


class AttestedChild(_Payload):
    child_id: uuid.UUID
    first_name: str
    last_name: str
    birth_date: date
    amount_cents: int


class FiscalAttestationIssued(_Payload):
    """The yearly statement of childcare costs paid for children under 6 on 1 January, meals
    excluded (French tax credit for childcare)."""

    attestation_id: uuid.UUID
    family_id: uuid.UUID
    year: int
    total_cents: int
    children: list[AttestedChild]
    issued_at: datetime
