"""Billing's tables (its own database; no other service reads it)."""

from sqlalchemy import (BigInteger, Boolean, Column, Date, ForeignKey, Index, Integer, String, Table,
                        Text, UniqueConstraint, Uuid, text)

from marelle_chassis.catalogue_copy import add_period_copy_table
from marelle_chassis.audit import add_audit_table
from marelle_chassis.db import UtcDateTime, new_metadata
from marelle_chassis.identity_copy import add_child_copy_table, add_family_copy_table

metadata = new_metadata()
# Every staff action: who, what, when, before/after (GET /staff/audit).
staff_audit = add_audit_table(metadata)

# Billing's own copy of the households and their children, fed by identity's events.
child_copy = add_child_copy_table(metadata)
family_copy = add_family_copy_table(metadata)
# Enrolment's periods and groups, fed by its catalogue events.
period_copy = add_period_copy_table(metadata)

# Booking's facts billing prices from, fed by marelle.booking.v1 (newest version wins, see
# marelle_chassis.copies): reservations (with who cancelled, when, within the deadline or not),
# attendance (justified absences are not billed), shuttle bookings.
reservation_copy = Table(
    "reservation_copy", metadata,
    Column("reservation_id", Uuid, primary_key=True),
    Column("registration_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("unit_label", String(120), nullable=False),
    Column("status", String(16), nullable=False),  # reservee | liste_attente | annulee
    Column("cancelled_by", String(16), nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("within_deadline", Boolean, nullable=True),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_reservation_copy_day", "day"),
)

attendance_copy = Table(
    "attendance_copy", metadata,
    Column("attendance_id", Uuid, primary_key=True),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False),
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(24), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_attendance_copy_day", "day"),
)

shuttle_copy = Table(
    "shuttle_copy", metadata,
    Column("shuttle_booking_id", Uuid, primary_key=True),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False),
    Column("line_name", String(120), nullable=False),
    Column("stop_name", String(120), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(16), nullable=False),  # reservee | annulee
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


# --- billing's own state ------------------------------------------------------------------------
# Amounts are integer cents everywhere. Rows that events describe carry a `version` bumped in the
# same UPDATE that changes them (conditional transitions, never read-then-write).

# QF brackets (« tranches »), shared by every tariff.
qf_bracket = Table(
    "qf_bracket", metadata,
    Column("code", String(20), primary_key=True),
    Column("label", String(120), nullable=False),
    Column("qf_min", Integer, nullable=False),
    Column("qf_max", Integer, nullable=True),
    Column("position", Integer, nullable=False),
)

regie = Table(
    "regie", metadata,
    Column("regie_id", Uuid, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("invoice_prefix", String(4), nullable=False),
    Column("credit_prefix", String(4), nullable=False),
    Column("partial_payment_allowed", Boolean, nullable=False),
    Column("due_days", Integer, nullable=False),
    Column("payment_backend", String(30), nullable=False),
    Column("payment_options", Text, nullable=False),  # JSON object of strings
    Column("creditor_name", String(120), nullable=True),
    Column("creditor_iban", String(34), nullable=True),
    Column("creditor_bic", String(11), nullable=True),
    Column("creditor_id", String(35), nullable=True),
    Column("accounting_code", String(40), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

tariff = Table(
    "tariff", metadata,
    Column("tariff_id", Uuid, primary_key=True),
    Column("regie_id", Uuid, ForeignKey("regie.regie_id"), nullable=False, index=True),
    Column("activity_name", String(120), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("label", String(120), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    Column("meal", Boolean, nullable=False),
    Column("unbooked_presence", Boolean, nullable=False),
    Column("surcharge_cents", Integer, nullable=False),
    Column("unjustified_absence_percent", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_tariff_activity_unit", "activity_name", "unit"),
)

tariff_price = Table(
    "tariff_price", metadata,
    Column("price_id", Uuid, primary_key=True),
    Column("tariff_id", Uuid, ForeignKey("tariff.tariff_id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("bracket_code", String(20), nullable=True),  # NULL: default price (QF unknown)
    Column("resident", Boolean, nullable=True),         # NULL: anyone
    Column("price_cents", Integer, nullable=False),
)

# The city's districts (« quartiers »): staff set a household's district from the same proof of
# address as its residency; enrolment may open a period to a district earlier (issue #10).
district = Table(
    "district", metadata,
    Column("code", String(30), primary_key=True),   # a short slug: « nord », « centre-ville »
    Column("label", String(120), nullable=False, unique=True),
)

financial_profile = Table(
    "financial_profile", metadata,
    Column("family_id", Uuid, primary_key=True),
    Column("qf", Integer, nullable=True),
    Column("qf_date", Date, nullable=True),
    Column("qf_source", String(20), nullable=True),
    Column("income_cents", BigInteger, nullable=True),
    Column("income_year", Integer, nullable=True),
    Column("dependent_children", Integer, nullable=True),
    Column("resident", Boolean, nullable=False),
    # The foreign key refuses the delete of a district still in use, even racing an assignment.
    Column("district", String(30), ForeignKey("district.code"), nullable=True, index=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

profile_change = Table(
    "profile_change", metadata,
    Column("change_id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("changed_by", Uuid, nullable=True),
    Column("source", String(20), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("before", Text, nullable=False),  # JSON
    Column("after", Text, nullable=False),   # JSON
)

invoicing_run = Table(
    "invoicing_run", metadata,
    Column("run_id", Uuid, primary_key=True),
    Column("regie_id", Uuid, ForeignKey("regie.regie_id"), nullable=False),
    Column("month", String(7), nullable=False),  # "2026-10"
    # en_cours → brouillon → finalisation → finale; abandonnee (discarded draft); echec
    Column("status", String(16), nullable=False),
    Column("families_total", Integer, nullable=False),
    Column("families_done", Integer, nullable=False),
    Column("invoices", Integer, nullable=False),
    Column("credit_notes", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("anomalies", Text, nullable=False),  # JSON list
    Column("started_by", Uuid, nullable=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("computed_at", UtcDateTime, nullable=True),
    Column("finalised_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    # One live run per régie and month (a discarded draft does not count).
    Index("uq_invoicing_run_live", "regie_id", "month", unique=True,
          postgresql_where=text("status <> 'abandonnee'"),
          sqlite_where=text("status <> 'abandonnee'")),
)

invoice = Table(
    "invoice", metadata,
    Column("invoice_id", Uuid, primary_key=True),
    Column("regie_id", Uuid, ForeignKey("regie.regie_id"), nullable=False),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("run_id", Uuid, nullable=True, index=True),
    Column("kind", String(8), nullable=False),  # facture | avoir
    Column("number", String(20), nullable=True),  # set when issued
    Column("month", String(7), nullable=True),
    Column("issued_on", Date, nullable=True),
    Column("due_on", Date, nullable=True),
    Column("status", String(12), nullable=False),  # brouillon | emise | payee | annulee
    Column("total_cents", BigInteger, nullable=False),
    # Invoice: paid so far (payments and credit notes allocated to it). Credit note: used so far.
    Column("settled_cents", BigInteger, nullable=False),
    Column("imported", Boolean, nullable=False),
    Column("label", String(200), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("regie_id", "number", name="uq_invoice_regie_number"),
    UniqueConstraint("run_id", "family_id", "kind", name="uq_invoice_run_family_kind"),
)

invoice_line = Table(
    "invoice_line", metadata,
    Column("line_id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, ForeignKey("invoice.invoice_id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("child_id", Uuid, nullable=True),
    Column("child_name", String(201), nullable=True),
    Column("registration_id", Uuid, nullable=True, index=True),
    Column("activity_name", String(120), nullable=True),
    Column("day", Date, nullable=True),
    Column("unit", String(40), nullable=True),
    Column("label", String(200), nullable=False),
    # prestation | absence_injustifiee | majoration | regularisation | reprise (imported)
    Column("kind", String(20), nullable=False),
    Column("meal", Boolean, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    # What the line prices ("r:<reservation_id>", "p:<attendance_id>:<unit>"): with
    # `billed_source`, how a re-run adds nothing and a late change becomes a regularisation.
    Column("source_key", String(80), nullable=True),
)

# The ledger of what issued invoices and credit notes have billed for each source.
billed_source = Table(
    "billed_source", metadata,
    Column("source_key", String(80), primary_key=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("regie_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Numbering per régie, prefix and month: F + 14 + 04 + 000001. Claimed by one conditional
# UPDATE … RETURNING (no gaps, no duplicates under concurrency).
number_sequence = Table(
    "number_sequence", metadata,
    Column("regie_id", Uuid, primary_key=True),
    Column("prefix", String(4), primary_key=True),
    Column("yymm", String(4), primary_key=True),
    Column("last", Integer, nullable=False),
)

payment = Table(
    "payment", metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("regie_id", Uuid, ForeignKey("regie.regie_id"), nullable=False),
    Column("method", String(16), nullable=False),
    Column("status", String(12), nullable=False),  # en_attente | acceptee | refusee | abandonnee
    Column("amount_cents", BigInteger, nullable=False),
    Column("invoice_id", Uuid, nullable=True),  # the invoice an online payment was started for
    Column("backend", String(30), nullable=True),
    Column("transaction_id", String(100), nullable=True, unique=True),
    Column("receipt_number", String(30), nullable=True, unique=True),
    Column("details", Text, nullable=False),  # JSON: cheque, card type, authorisation…
    Column("message", String(200), nullable=True),
    Column("unallocated_cents", BigInteger, nullable=False),
    Column("received_on", Date, nullable=True),
    Column("received_at", UtcDateTime, nullable=True),
    Column("recorded_by", Uuid, nullable=True),
    Column("collection_id", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

allocation = Table(
    "allocation", metadata,
    Column("allocation_id", Uuid, primary_key=True),
    Column("invoice_id", Uuid, ForeignKey("invoice.invoice_id"), nullable=False, index=True),
    Column("payment_id", Uuid, ForeignKey("payment.payment_id"), nullable=True, index=True),
    Column("credit_note_id", Uuid, ForeignKey("invoice.invoice_id"), nullable=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("allocated_at", UtcDateTime, nullable=False),
)

sepa_mandate = Table(
    "sepa_mandate", metadata,
    Column("mandate_id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("regie_id", Uuid, ForeignKey("regie.regie_id"), nullable=False),
    Column("reference", String(35), nullable=False, unique=True),
    Column("debtor_name", String(120), nullable=False),
    Column("iban", String(34), nullable=False),
    Column("bic", String(11), nullable=False),
    Column("signed_on", Date, nullable=False),
    Column("first_collected", Boolean, nullable=False),  # FRST then RCUR
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

sepa_collection = Table(
    "sepa_collection", metadata,
    Column("collection_id", Uuid, primary_key=True),
    Column("regie_id", Uuid, ForeignKey("regie.regie_id"), nullable=False),
    Column("collection_date", Date, nullable=False),
    Column("count", Integer, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("document", Text, nullable=False),  # the pain.008 XML
    Column("created_by", Uuid, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

fiscal_attestation = Table(
    "fiscal_attestation", metadata,
    Column("attestation_id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False),
    Column("year", Integer, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("children", Text, nullable=False),  # JSON list
    Column("version", Integer, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    UniqueConstraint("family_id", "year", name="uq_fiscal_attestation_family_year"),
)
