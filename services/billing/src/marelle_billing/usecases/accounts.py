"""« Mon compte » and the staff's view of a family's money: the summary (solde, credit, profile),
the invoices and credit notes, one invoice with its lines and allocations (and its PDF), and the
« Détail financier par inscription ».

Read-only. Every list makes a fixed number of queries whatever its rows. Parents never see drafts
(`brouillon`) nor discarded invoices (`annulee`): only issued ones (`emise`, `payee`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import func, or_, select

from marelle_chassis.domain_errors import NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_billing import pdf
from marelle_billing.db import (allocation, family_copy, invoice, invoice_line, payment,
                                period_copy, regie, reservation_copy)
from marelle_billing.usecases.profiles import profile_view

ISSUED = ("emise", "payee")
INVOICE_NOT_FOUND = "Cette facture est introuvable."
FAMILY_NOT_FOUND = "Ce foyer est introuvable."
METHOD_LABELS = {"carte": "Carte bancaire", "especes": "Espèces", "cheque": "Chèque",
                 "cesu": "CESU", "cheque_vacances": "Chèques vacances",
                 "prelevement": "Prélèvement", "avoir": "Avoir"}


def round_half_up(value: Fraction) -> int:
    """An exact fraction of cents → cents, half up (never a float)."""
    return int((Decimal(value.numerator) / Decimal(value.denominator))
               .quantize(Decimal("1"), rounding=ROUND_HALF_UP))


# --- the financial profile (QF, income, bracket) --------------------------------------------------

async def _profile(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    """The family's QF, income, dependent children and bracket (the profiles use case's view),
    inside the caller's open unit of work."""
    view = await profile_view(uow, family_id)
    return {k: getattr(view, k) for k in ("qf", "qf_date", "income_cents", "income_year",
                                          "dependent_children", "bracket_code", "bracket_label")}


# --- account summary ------------------------------------------------------------------------------

async def account_summary(uow: UnitOfWork, family_id: uuid.UUID, *,
                          must_exist: bool = False) -> dict[str, Any]:
    """« Solde » = what the issued invoices still ask − the unused credit (the unused part of
    issued credit notes and the unallocated part of accepted payments)."""
    async with uow:
        email_row = (await uow.session.execute(select(family_copy.c.email).where(
            family_copy.c.family_id == family_id))).first()
        if email_row is None and must_exist:
            raise NotFound(FAMILY_NOT_FOUND)
        remaining = invoice.c.total_cents - invoice.c.settled_cents
        mine = [invoice.c.family_id == family_id, invoice.c.status == "emise"]
        due, open_count = (await uow.session.execute(
            select(func.coalesce(func.sum(remaining), 0),
                   func.count().filter(remaining > 0))
            .where(*mine, invoice.c.kind == "facture"))).one()
        unused_credit_notes = await uow.session.scalar(
            select(func.coalesce(func.sum(remaining), 0)).where(*mine, invoice.c.kind == "avoir"))
        unallocated = await uow.session.scalar(
            select(func.coalesce(func.sum(payment.c.unallocated_cents), 0)).where(
                payment.c.family_id == family_id, payment.c.status == "acceptee"))
        profile = await _profile(uow, family_id)
    credit = int(unused_credit_notes) + int(unallocated)
    return {"family_id": family_id, "balance_cents": int(due) - credit,
            "open_invoices": int(open_count or 0), "credit_cents": credit,
            "email": email_row.email if email_row else None, **profile}


# --- invoices -------------------------------------------------------------------------------------

def _summary_select() -> Any:
    return (select(invoice, regie.c.code.label("regie_code"), regie.c.name.label("regie_name"),
                   regie.c.partial_payment_allowed, regie.c.payment_backend,
                   family_copy.c.name.label("family_name"))
            .join(regie, regie.c.regie_id == invoice.c.regie_id)
            .outerjoin(family_copy, family_copy.c.family_id == invoice.c.family_id))


def _summary(r: Any) -> dict[str, Any]:
    balance = r.total_cents - r.settled_cents
    return {"invoice_id": r.invoice_id, "number": r.number, "kind": r.kind,
            "family_id": r.family_id, "family_name": r.family_name, "regie_code": r.regie_code,
            "regie_name": r.regie_name, "month": r.month, "issued_on": r.issued_on,
            "due_on": r.due_on, "total_cents": r.total_cents, "balance_cents": balance,
            "status": r.status, "imported": r.imported,
            "payable": (r.kind == "facture" and r.status == "emise" and balance > 0
                        and bool(r.payment_backend)),
            "partial_payment_allowed": r.partial_payment_allowed}


def _invoice_list(rows: list[Any]) -> dict[str, Any]:
    invoices = [_summary(r) for r in rows]
    # « Total : » under the table: what the invoices still ask (credit notes are shown apart).
    total = sum(i["balance_cents"] for i in invoices if i["kind"] == "facture")
    return {"invoices": invoices, "total_balance_cents": total}


async def family_invoices(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    """Issued invoices and credit notes, newest first (one query)."""
    async with uow:
        rows = (await uow.session.execute(
            _summary_select()
            .where(invoice.c.family_id == family_id, invoice.c.status.in_(ISSUED))
            .order_by(invoice.c.issued_on.desc(), invoice.c.number.desc()))).all()
    return _invoice_list(rows)


async def staff_invoices(uow: UnitOfWork, *, regie_code: str | None = None,
                         family_id: uuid.UUID | None = None, unpaid: bool = False,
                         limit: int = 2000) -> dict[str, Any]:
    """Issued invoices and credit notes (with `unpaid`: the invoices with a balance), oldest
    first, as the staff chase them."""
    where = [invoice.c.status.in_(ISSUED)]
    if regie_code:
        where.append(regie.c.code == regie_code)
    if family_id:
        where.append(invoice.c.family_id == family_id)
    if unpaid:
        where += [invoice.c.kind == "facture", invoice.c.status == "emise",
                  invoice.c.settled_cents < invoice.c.total_cents]
    async with uow:
        rows = (await uow.session.execute(
            _summary_select().where(*where)
            .order_by(invoice.c.issued_on, invoice.c.number).limit(limit))).all()
    return _invoice_list(rows)


async def _detail(uow: UnitOfWork, invoice_id: uuid.UUID,
                  family_id: uuid.UUID | None) -> dict[str, Any]:
    """Inside an open unit of work: three queries (invoice, lines, allocations)."""
    stmt = _summary_select().where(invoice.c.invoice_id == invoice_id)
    if family_id is not None:
        stmt = stmt.where(invoice.c.family_id == family_id, invoice.c.status.in_(ISSUED))
    row = (await uow.session.execute(stmt)).first()
    if row is None:
        raise NotFound(INVOICE_NOT_FOUND)
    lines = (await uow.session.execute(
        select(invoice_line).where(invoice_line.c.invoice_id == invoice_id)
        .order_by(invoice_line.c.child_name, invoice_line.c.day, invoice_line.c.activity_name,
                  invoice_line.c.unit, invoice_line.c.label))).all()
    credit_note = invoice.alias("credit_note")
    allocations = (await uow.session.execute(
        select(allocation, payment.c.method, payment.c.receipt_number,
               credit_note.c.number.label("credit_note_number"))
        .outerjoin(payment, payment.c.payment_id == allocation.c.payment_id)
        .outerjoin(credit_note, credit_note.c.invoice_id == allocation.c.credit_note_id)
        # An invoice shows what paid it; a credit note, where it was used.
        .where(or_(allocation.c.invoice_id == invoice_id,
                   allocation.c.credit_note_id == invoice_id))
        .order_by(allocation.c.allocated_at))).all()
    return {**_summary(row),
            "lines": [{"child_id": ln.child_id, "child_name": ln.child_name,
                       "activity_name": ln.activity_name, "day": ln.day, "unit": ln.unit,
                       "label": ln.label, "kind": ln.kind, "quantity": ln.quantity,
                       "unit_price_cents": ln.unit_price_cents, "amount_cents": ln.amount_cents}
                      for ln in lines],
            "allocations": [{"payment_id": a.payment_id, "credit_note_id": a.credit_note_id,
                             "method": a.method or "avoir", "amount_cents": a.amount_cents,
                             "allocated_at": a.allocated_at,
                             "receipt_number": a.receipt_number or a.credit_note_number}
                            for a in allocations]}


async def invoice_detail(uow: UnitOfWork, invoice_id: uuid.UUID,
                         family_id: uuid.UUID | None = None) -> dict[str, Any]:
    """One invoice. With `family_id` (a parent): only that family's issued ones, else 404."""
    async with uow:
        return await _detail(uow, invoice_id, family_id)


async def invoice_pdf(uow: UnitOfWork, invoice_id: uuid.UUID,
                      family_id: uuid.UUID | None = None) -> tuple[str, bytes]:
    """(file name, PDF). Read in a short transaction, rendered in a worker thread after it."""
    async with uow:
        detail = await _detail(uow, invoice_id, family_id)
        family_name = detail["family_name"] or await uow.session.scalar(
            select(family_copy.c.name).where(family_copy.c.family_id == detail["family_id"]))
    if detail["number"] is None:  # a draft (staff only): not a document yet
        raise NotFound("Une facture en brouillon n'a pas encore de PDF.")
    document = await pdf.render_pdf("invoice.html", invoice=detail, family_name=family_name,
                                    title="Avoir" if detail["kind"] == "avoir" else "Facture",
                                    methods=METHOD_LABELS)
    return f"{detail['number']}.pdf", document


# --- « Détail financier par inscription » ---------------------------------------------------------

async def registrations_money(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    """Per registration: what its lines of issued invoices and credit notes add up to (a credit
    note's lines count negatively), and how much of that is settled: each line in the proportion
    its invoice is paid — or its credit note used, so that credit moved to another registration's
    invoice is counted once. Two queries."""
    async with uow:
        lines = (await uow.session.execute(
            select(invoice_line.c.invoice_id, invoice_line.c.registration_id,
                   invoice_line.c.child_name, invoice_line.c.activity_name,
                   invoice_line.c.amount_cents, invoice.c.kind, invoice.c.total_cents,
                   invoice.c.settled_cents, invoice.c.issued_on)
            .join(invoice, invoice.c.invoice_id == invoice_line.c.invoice_id)
            .where(invoice.c.family_id == family_id, invoice.c.status.in_(ISSUED),
                   invoice_line.c.registration_id.is_not(None))
            .order_by(invoice.c.issued_on, invoice.c.number, invoice_line.c.child_name))).all()
        ids = list(dict.fromkeys(ln.registration_id for ln in lines))
        labels: dict[uuid.UUID, str] = {}
        if ids:
            for r in (await uow.session.execute(
                    select(reservation_copy.c.registration_id, period_copy.c.label)
                    .join(period_copy, period_copy.c.period_id == reservation_copy.c.period_id)
                    .where(reservation_copy.c.registration_id.in_(ids)).distinct())).all():
                labels.setdefault(r.registration_id, r.label)
    # Runs write a credit note's lines negative; one stored with positive lines is turned round.
    credit_sums: dict[uuid.UUID, int] = defaultdict(int)
    for ln in lines:
        if ln.kind == "avoir":
            credit_sums[ln.invoice_id] += ln.amount_cents
    acc: dict[uuid.UUID, dict[str, Any]] = {}
    paid: dict[uuid.UUID, Fraction] = defaultdict(Fraction)
    for ln in lines:
        amount = ln.amount_cents
        if ln.kind == "avoir" and credit_sums[ln.invoice_id] > 0:
            amount = -amount
        row = acc.setdefault(ln.registration_id, {
            "registration_id": ln.registration_id, "child_name": ln.child_name or "",
            "activity_name": ln.activity_name or "", "period_label": labels.get(ln.registration_id),
            "invoiced_cents": 0})
        row["invoiced_cents"] += amount
        if ln.total_cents:
            paid[ln.registration_id] += Fraction(amount * ln.settled_cents, ln.total_cents)
    out = []
    for rid, row in acc.items():
        row["paid_cents"] = round_half_up(paid[rid])
        row["remaining_cents"] = row["invoiced_cents"] - row["paid_cents"]
        out.append(row)
    return {"registrations": out}
