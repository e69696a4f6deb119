"""The staff's monthly report of a régie: invoiced, collected and outstanding per activity.

The month's invoices are a run's invoices of that month, and the imported ones issued during it
(their lines show under « Reprise »). Per activity:
- invoiced = the lines of the month's issued invoices − the month's credit notes (their lines);
- collected = what was collected on those invoices: their settled amount less what credit notes
  covered (the credit notes are already taken off `invoiced`), spread over the invoice's lines in
  proportion, rounded half up; for an imported invoice it includes what the previous system had
  already collected;
- outstanding = invoiced − collected.
Four queries whatever the size of the month.

And the accounting export (CSV): every issued invoice, credit note and accepted payment of a
régie over a date range, for cities that import a file rather than consume marelle.billing.v1.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, func, or_, select

from marelle_chassis.domain_errors import BadRequest, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_billing.db import allocation, family_copy, invoice, invoice_line, payment, regie
from marelle_billing.domain import accounting
from marelle_billing.domain.accounting import IMPORTED_ACTIVITY
from marelle_billing.usecases.accounts import METHOD_LABELS, round_half_up


def _month_bounds(month: str) -> tuple[date, date]:
    try:
        year, mon = (int(p) for p in month.split("-"))
        return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])
    except (ValueError, TypeError):
        raise InvalidInput(f"Mois invalide « {month} » (attendu AAAA-MM).") from None


async def monthly_report(uow: UnitOfWork, regie_code: str, month: str) -> dict[str, Any]:
    first, last = _month_bounds(month)
    async with uow:
        regie_id = await uow.session.scalar(select(regie.c.regie_id).where(
            regie.c.code == regie_code))
        if regie_id is None:
            raise NotFound(f"La régie « {regie_code} » est introuvable.")
        of_month = and_(
            invoice.c.regie_id == regie_id, invoice.c.status.in_(("emise", "payee")),
            or_(invoice.c.month == month,
                and_(invoice.c.month.is_(None), invoice.c.issued_on >= first,
                     invoice.c.issued_on <= last)))
        activity = func.coalesce(invoice_line.c.activity_name, IMPORTED_ACTIVITY)
        lines = (await uow.session.execute(
            select(invoice.c.invoice_id, invoice.c.kind, activity.label("activity"),
                   func.sum(invoice_line.c.amount_cents).label("amount"))
            .join(invoice_line, invoice_line.c.invoice_id == invoice.c.invoice_id)
            .where(of_month)
            .group_by(invoice.c.invoice_id, invoice.c.kind, activity))).all()
        invoices = {r.invoice_id: r for r in (await uow.session.execute(
            select(invoice.c.invoice_id, invoice.c.total_cents, invoice.c.settled_cents)
            .where(of_month, invoice.c.kind == "facture"))).all()}
        credited: dict[Any, int] = defaultdict(int)
        for r in (await uow.session.execute(
                select(allocation.c.invoice_id, func.sum(allocation.c.amount_cents).label("amount"))
                .join(invoice, invoice.c.invoice_id == allocation.c.invoice_id)
                .where(of_month, invoice.c.kind == "facture",
                       allocation.c.credit_note_id.is_not(None))
                .group_by(allocation.c.invoice_id))).all():
            credited[r.invoice_id] = int(r.amount)
    # A credit note's lines say what is given back (negative, as runs write them): whatever
    # the sign they were stored with, the credit note takes its total off.
    credit_sums: dict[Any, int] = defaultdict(int)
    for ln in lines:
        if ln.kind == "avoir":
            credit_sums[ln.invoice_id] += int(ln.amount)
    invoiced: dict[str, int] = defaultdict(int)
    collected: dict[str, Fraction] = defaultdict(Fraction)
    for ln in lines:
        amount = int(ln.amount)
        if ln.kind == "avoir":
            invoiced[ln.activity] += -amount if credit_sums[ln.invoice_id] > 0 else amount
            continue
        invoiced[ln.activity] += amount
        inv = invoices.get(ln.invoice_id)
        if inv is not None and inv.total_cents > 0:
            cash = inv.settled_cents - credited[ln.invoice_id]
            collected[ln.activity] += Fraction(amount * cash, inv.total_cents)
    rows = []
    for name in sorted(invoiced, key=lambda n: (n == IMPORTED_ACTIVITY, n)):
        got = round_half_up(collected[name])
        rows.append({"activity_name": name, "invoiced_cents": invoiced[name],
                     "collected_cents": got, "outstanding_cents": invoiced[name] - got})
    return {"regie_code": regie_code, "month": month, "rows": rows,
            "invoiced_cents": sum(r["invoiced_cents"] for r in rows),
            "collected_cents": sum(r["collected_cents"] for r in rows),
            "outstanding_cents": sum(r["outstanding_cents"] for r in rows)}


def _amount(cents: int) -> str:
    """« 1234,50 » (no thousands separator: spreadsheets read it as a number)."""
    return f"{Decimal(cents) / 100:.2f}".replace(".", ",")


def _cell(text: str) -> str:
    if text[:1] in ("=", "+", "-", "@"):  # a spreadsheet would run it as a formula
        text = "'" + text
    text = text.replace('"', '""')
    if any(c in text for c in ';"\r\n'):
        text = f'"{text}"'
    return text


def _csv(rows: list[str]) -> bytes:
    """`;`-separated, French headers, UTF-8 with a BOM (Excel then reads the accents)."""
    return ("\ufeff" + "\r\n".join(rows) + "\r\n").encode("utf-8")


def report_csv(report: dict[str, Any]) -> bytes:
    out = ["Activité;Facturé;Encaissé;Reste à recouvrer"]
    for r in report["rows"]:
        name = _cell(r["activity_name"])
        out.append(f"{name};{_amount(r['invoiced_cents'])};{_amount(r['collected_cents'])};"
                   f"{_amount(r['outstanding_cents'])}")
    out.append(f"Total;{_amount(report['invoiced_cents'])};{_amount(report['collected_cents'])};"
               f"{_amount(report['outstanding_cents'])}")
    return _csv(out)


# --- the accounting export (cities without a Kafka consumer of marelle.billing.v1) --------------

TYPE_LABELS = {"facture": "Facture", "avoir": "Avoir", "paiement": "Paiement"}
EXPORT_HEADER = ("Type;Numéro;Date;Famille;Régie;Code comptable;Activité;Montant;"
                 "Moyen de paiement")


def _export_range(first: date, last: date) -> None:
    if first > last:
        raise BadRequest(f"La date de début ({first:%d/%m/%Y}) est après la date de fin "
                         f"({last:%d/%m/%Y}).")
    try:
        year_later = first.replace(year=first.year + 1)
    except ValueError:  # 29 February
        year_later = date(first.year + 1, 3, 1)
    if last >= year_later:
        raise BadRequest("La période exportée ne peut pas dépasser un an.")


async def accounting_export(uow: UnitOfWork, regie_code: str, first: date,
                            last: date) -> bytes:
    """One row per issued invoice and credit note (one per activity of its lines) and per
    accepted payment of the régie whose date (issue, receipt) is within [first, last]: what the
    events of marelle.billing.v1 say, for a city that imports a file instead. Three queries."""
    _export_range(first, last)
    async with uow:
        office = (await uow.session.execute(select(regie).where(
            regie.c.code == regie_code))).first()
        if office is None:
            raise NotFound(f"La régie « {regie_code} » est introuvable.")
        activity = func.coalesce(invoice_line.c.activity_name, IMPORTED_ACTIVITY)
        lines = (await uow.session.execute(
            select(invoice.c.invoice_id, invoice.c.kind, invoice.c.number, invoice.c.issued_on,
                   family_copy.c.name, activity.label("activity"),
                   func.sum(invoice_line.c.amount_cents).label("amount"))
            .join(invoice_line, invoice_line.c.invoice_id == invoice.c.invoice_id)
            .outerjoin(family_copy, family_copy.c.family_id == invoice.c.family_id)
            .where(invoice.c.regie_id == office.regie_id,
                   invoice.c.status.in_(("emise", "payee")),
                   invoice.c.issued_on >= first, invoice.c.issued_on <= last)
            .group_by(invoice.c.invoice_id, invoice.c.kind, invoice.c.number,
                      invoice.c.issued_on, family_copy.c.name, activity))).all()
        payments = (await uow.session.execute(
            select(payment.c.receipt_number, payment.c.received_on, payment.c.method,
                   payment.c.amount_cents, family_copy.c.name)
            .outerjoin(family_copy, family_copy.c.family_id == payment.c.family_id)
            .where(payment.c.regie_id == office.regie_id, payment.c.status == "acceptee",
                   payment.c.received_on >= first, payment.c.received_on <= last))).all()
    documents: dict[Any, list[Any]] = defaultdict(list)
    for ln in lines:
        documents[ln.invoice_id].append(ln)
    rows: list[tuple[date, int, str, str, str, int, str]] = []
    for parts in documents.values():
        head = parts[0]
        credit = head.kind == "avoir"
        for name, cents in accounting.by_activity(((p.activity, int(p.amount)) for p in parts),
                                                  credit_note=credit):
            rows.append((head.issued_on, 0 if not credit else 1, head.number or "",
                         head.name or "", name, -cents if credit else cents, head.kind))
    for p in payments:
        rows.append((p.received_on, 2, p.receipt_number or "", p.name or "", "",
                     int(p.amount_cents), p.method))
    code = _cell(office.code)
    accounting_code = _cell(office.accounting_code or "")
    out = [EXPORT_HEADER]
    for day, order, number, family, name, cents, kind in sorted(
            rows, key=lambda r: (r[0], r[1], r[2], r[4])):
        label = TYPE_LABELS["paiement"] if order == 2 else TYPE_LABELS[kind]
        method = METHOD_LABELS.get(kind, kind) if order == 2 else ""
        out.append(";".join((label, _cell(number), f"{day:%d/%m/%Y}", _cell(family), code,
                             accounting_code, _cell(name), _amount(cents), _cell(method))))
    return _csv(out)
