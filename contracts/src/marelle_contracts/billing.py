"""Events published by billing on `marelle.billing.v1`.

All keyed by family id (a household's money in order). Amounts are integer cents (never floats).
Each event carries its aggregate's version in the envelope (`aggregate_version`): the invoice
(or credit note), the payment, the fiscal attestation, the financial profile
(`residency_changed`). Identity emails the family on `invoice_issued` and `payment_received`;
accounting systems read all of them; enrolment reads `residency_changed`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


_FAMILY_ID = "Household (family) id; the Kafka key. — Identifiant du foyer ; la clé Kafka."
_REGIE_CODE = "Code of the collection office (régie). — Code de la régie."
_REGIE_NAME = "Name of the collection office (régie). — Nom de la régie."
_ACCOUNTING_CODE = ("The régie's code in the city's accounting (treasury imputation), if set. — "
                    "Code comptable de la régie (imputation en trésorerie), s'il est renseigné.")
_BY_ACTIVITY = ("The amount split per activity (the lines summed per activity; « Reprise » for "
                "lines imported from the previous system); sums to the total. — Le montant "
                "ventilé par activité (les lignes additionnées par activité ; « Reprise » pour "
                "les lignes reprises de l'ancien système) ; la somme fait le total.")
_ALLOCATIONS = ("How the amount was applied to open invoices. — Comment le montant a été "
                "imputé sur les factures ouvertes.")


class PaymentMethod(StrEnum):
    """Means of payment: carte (card, online), especes (cash), cheque, cesu, cheque_vacances
    (holiday vouchers), prelevement (SEPA direct debit), avoir (a credit note). — Moyen de
    paiement : carte (en ligne), especes, cheque, cesu, cheque_vacances, prelevement
    (prélèvement SEPA), avoir."""

    CARD = "carte"              # online, through the régie's payment provider
    CASH = "especes"
    CHEQUE = "cheque"
    CESU = "cesu"
    HOLIDAY_VOUCHER = "cheque_vacances"
    DIRECT_DEBIT = "prelevement"  # SEPA direct debit
    CREDIT_NOTE = "avoir"        # a credit note used against an invoice


class Allocation(_Payload):
    """Part of a payment (or credit note) applied to one invoice."""

    invoice_id: uuid.UUID = Field(description="Invoice id. — Identifiant de la facture.")
    invoice_number: str = Field(description="Invoice number. — Numéro de la facture.")
    amount_cents: int = Field(description="Amount applied to that invoice, in euro cents. — "
                                          "Montant imputé sur cette facture, en centimes "
                                          "d'euro.")


class ActivityAmount(_Payload):
    """Part of an invoice's (or credit note's) amount for one activity. — Part du montant d'une
    facture (ou d'un avoir) pour une activité."""

    activity_name: str = Field(description="Activity name (« Reprise » for imported lines). — "
                                           "Nom de l'activité (« Reprise » pour les lignes "
                                           "reprises).")
    amount_cents: int = Field(description="Amount for that activity, in euro cents, with the "
                                          "sign of the document's total. — Montant pour cette "
                                          "activité, en centimes d'euro, du même signe que le "
                                          "total du document.")


class InvoiceIssued(_Payload):
    """A final invoice was issued by an invoicing run (or imported from the previous system)."""

    invoice_id: uuid.UUID = Field(description="Invoice id. — Identifiant de la facture.")
    number: str = Field(description="Invoice number: prefix + year + month + sequence, e.g. "
                                    "F1404000001. — Numéro de facture : préfixe + année + mois + "
                                    "séquence, ex. F1404000001.")
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    regie_code: str = Field(description=_REGIE_CODE)
    regie_name: str = Field(description=_REGIE_NAME)
    month: str | None = Field(description="Month invoiced, e.g. « 2026-10 », for a run's invoice; "
                                          "null for an imported one. — Mois facturé, ex. "
                                          "« 2026-10 », pour une facture de campagne ; null "
                                          "pour une facture importée.")
    issued_on: date = Field(description="Issue date. — Date d'émission.")
    due_on: date | None = Field(description="Due date; null when there is none. — Date "
                                            "d'échéance ; null s'il n'y en a pas.")
    total_cents: int = Field(description="Total, in euro cents. — Total, en centimes d'euro.")
    balance_cents: int = Field(description="Amount still due at issue, in euro cents. — Reste à "
                                           "payer à l'émission, en centimes d'euro.")
    imported: bool = Field(default=False, description="True when imported from the previous "
                                                      "system. — Vrai quand elle est importée de "
                                                      "l'ancien système.")
    regie_accounting_code: str | None = Field(default=None, description=_ACCOUNTING_CODE)
    by_activity: list[ActivityAmount] = Field(default=[], description=_BY_ACTIVITY)


class CreditNoteIssued(_Payload):
    """A credit note (avoir): what a run owes the family back (late cancellation, correction)."""

    credit_note_id: uuid.UUID = Field(description="Credit note id. — Identifiant de l'avoir.")
    number: str = Field(description="Credit note number. — Numéro de l'avoir.")
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    regie_code: str = Field(description=_REGIE_CODE)
    regie_name: str = Field(description=_REGIE_NAME)
    month: str | None = Field(description="Month of the run that issued it, e.g. « 2026-10 »; "
                                          "null otherwise. — Mois de la campagne qui l'a émis, "
                                          "ex. « 2026-10 » ; null sinon.")
    issued_on: date = Field(description="Issue date. — Date d'émission.")
    amount_cents: int = Field(description="Amount, in euro cents. — Montant, en centimes "
                                          "d'euro.")
    allocations: list[Allocation] = Field(default=[], description=_ALLOCATIONS)
    regie_accounting_code: str | None = Field(default=None, description=_ACCOUNTING_CODE)
    by_activity: list[ActivityAmount] = Field(default=[], description=_BY_ACTIVITY)


class PaymentReceived(_Payload):
    """Money received (online card payment accepted, or recorded by staff)."""

    payment_id: uuid.UUID = Field(description="Payment id. — Identifiant du paiement.")
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    regie_code: str = Field(description=_REGIE_CODE)
    method: PaymentMethod = Field(description="Means of payment. — Moyen de paiement.")
    amount_cents: int = Field(description="Amount received, in euro cents. — Montant reçu, en "
                                          "centimes d'euro.")
    received_at: datetime = Field(description="When it was received. — Date et heure de "
                                              "réception.")
    receipt_number: str = Field(description="Receipt number. — Numéro de quittance.")
    allocations: list[Allocation] = Field(default=[], description=_ALLOCATIONS)
    unallocated_cents: int = Field(default=0, description="Part not applied to any invoice, kept "
                                                          "as the family's credit, in euro "
                                                          "cents. — Part non imputée, gardée en "
                                                          "crédit de la famille, en centimes "
                                                          "d'euro.")
    regie_accounting_code: str | None = Field(default=None, description=_ACCOUNTING_CODE)


class InvoicePaid(_Payload):
    """An invoice's balance reached zero."""

    invoice_id: uuid.UUID = Field(description="Invoice id. — Identifiant de la facture.")
    number: str = Field(description="Invoice number. — Numéro de la facture.")
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    regie_code: str = Field(description=_REGIE_CODE)
    total_cents: int = Field(description="Invoice total, in euro cents. — Total de la facture, en "
                                         "centimes d'euro.")
    paid_at: datetime = Field(description="When the balance reached zero. — Date et heure où le "
                                          "reste à payer est arrivé à zéro.")


class AttestedChild(_Payload):
    """A child on a fiscal attestation, with the costs paid for them. — Un enfant de
    l'attestation fiscale, avec les frais payés pour lui."""

    child_id: uuid.UUID = Field(description="Child id. — Identifiant de l'enfant.")
    first_name: str = Field(description="First name. — Prénom.")
    last_name: str = Field(description="Last name. — Nom de famille.")
    birth_date: date = Field(description="Date of birth. — Date de naissance.")
    amount_cents: int = Field(description="Childcare costs paid for this child in the year, "
                                          "meals excluded, in euro cents. — Frais de garde payés "
                                          "pour cet enfant dans l'année, hors repas, en centimes "
                                          "d'euro.")


class FiscalAttestationIssued(_Payload):
    """The yearly statement of childcare costs paid for children under 6 on 1 January, meals
    excluded (French tax credit for childcare)."""

    attestation_id: uuid.UUID = Field(description="Attestation id. — Identifiant de "
                                                  "l'attestation.")
    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    year: int = Field(description="Calendar year attested, e.g. 2026. — Année civile attestée, "
                                  "ex. 2026.")
    total_cents: int = Field(description="Total for all children, in euro cents. — Total pour "
                                         "tous les enfants, en centimes d'euro.")
    children: list[AttestedChild] = Field(description="The children concerned. — Les enfants "
                                                      "concernés.")
    issued_at: datetime = Field(description="When it was issued. — Date et heure d'émission.")


class ResidencyChanged(_Payload):
    """Whether a household lives in the city and in which district, set by staff on its financial
    profile (published when a profile is created or its residency or district changes; the
    envelope's `aggregate_version` is the profile's version). Enrolment uses it for the
    residents' and the districts' priority openings."""

    family_id: uuid.UUID = Field(description=_FAMILY_ID)
    resident: bool = Field(description="True when the household lives in the city. — Vrai quand "
                                       "le foyer réside dans la commune.")
    district: str | None = Field(
        None, description="Code of the household's district, None when not set. — Code du "
                          "quartier du foyer, absent s'il n'est pas renseigné.")
    district_label: str | None = Field(
        None, description="The district's name when the event was published. — Nom du "
                          "quartier au moment de la publication.")
