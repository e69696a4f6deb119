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
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, func, or_, select

from marelle_chassis.domain_errors import InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_billing.db import allocation, invoice, invoice_line, regie
from marelle_billing.usecases.accounts import round_half_up

IMPORTED_ACTIVITY = "Reprise"


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


def report_csv(report: dict[str, Any]) -> bytes:
    """`;`-separated, French headers, UTF-8 with a BOM (Excel then reads the accents)."""
    out = ["Activité;Facturé;Encaissé;Reste à recouvrer"]
    for r in report["rows"]:
        name = r["activity_name"]
        if name[:1] in ("=", "+", "-", "@"):  # a spreadsheet would run it as a formula
            name = "'" + name
        name = name.replace('"', '""')
        if any(c in name for c in ';"\n'):
            name = f'"{name}"'
        out.append(f"{name};{_amount(r['invoiced_cents'])};{_amount(r['collected_cents'])};"
                   f"{_amount(r['outstanding_cents'])}")
    out.append(f"Total;{_amount(report['invoiced_cents'])};{_amount(report['collected_cents'])};"
               f"{_amount(report['outstanding_cents'])}")
    return ("\ufeff" + "\r\n".join(out) + "\r\n").encode("utf-8")
