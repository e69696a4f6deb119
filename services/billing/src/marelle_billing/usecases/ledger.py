"""The ledger's one rule: money reaches an invoice only through `allocate`, a conditional UPDATE
that never lets an invoice's settled amount pass its total (concurrent payments cannot overpay
it), bumps its version and publishes `invoice_paid` when it reaches zero.

Used by payments (online, manual, direct debit), credit notes (invoicing runs) and imports.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, insert, select, update

from marelle_chassis.uow import UnitOfWork
from marelle_contracts import billing as events
from marelle_billing.db import allocation, invoice, regie


@dataclass(frozen=True)
class Allocated:
    invoice_id: uuid.UUID
    invoice_number: str
    amount_cents: int

    def event(self) -> events.Allocation:
        return events.Allocation(invoice_id=self.invoice_id, invoice_number=self.invoice_number,
                                 amount_cents=self.amount_cents)


async def allocate(uow: UnitOfWork, invoice_id: uuid.UUID, amount_cents: int, *, at: datetime,
                   payment_id: uuid.UUID | None = None,
                   credit_note_id: uuid.UUID | None = None) -> Allocated | None:
    """Apply `amount_cents` to an issued invoice, all or nothing. None when the invoice is not
    issued or the amount is more than its balance (the caller says why)."""
    if amount_cents <= 0:
        return None
    settled = invoice.c.settled_cents + amount_cents
    row = (await uow.session.execute(
        update(invoice)
        .where(invoice.c.invoice_id == invoice_id, invoice.c.kind == "facture",
               invoice.c.status == "emise", settled <= invoice.c.total_cents)
        .values(settled_cents=settled, version=invoice.c.version + 1,
                status=case((settled >= invoice.c.total_cents, "payee"), else_=invoice.c.status))
        .returning(invoice.c.number, invoice.c.status, invoice.c.version, invoice.c.family_id,
                   invoice.c.total_cents, invoice.c.regie_id))).first()
    if row is None:
        return None
    await uow.session.execute(insert(allocation).values(
        allocation_id=uuid.uuid4(), invoice_id=invoice_id, payment_id=payment_id,
        credit_note_id=credit_note_id, amount_cents=amount_cents, allocated_at=at))
    if row.status == "payee":
        regie_code = await uow.session.scalar(select(regie.c.code).where(
            regie.c.regie_id == row.regie_id))
        uow.publish(events.InvoicePaid(
            invoice_id=invoice_id, number=row.number, family_id=row.family_id,
            regie_code=regie_code, total_cents=row.total_cents, paid_at=at), version=row.version)
    return Allocated(invoice_id, row.number, amount_cents)


async def open_invoices(uow: UnitOfWork, family_id: uuid.UUID,
                        regie_id: uuid.UUID | None = None) -> list:
    """The family's issued invoices with a balance, oldest first."""
    where = [invoice.c.family_id == family_id, invoice.c.kind == "facture",
             invoice.c.status == "emise", invoice.c.settled_cents < invoice.c.total_cents]
    if regie_id is not None:
        where.append(invoice.c.regie_id == regie_id)
    return list((await uow.session.execute(
        select(invoice).where(and_(*where))
        .order_by(invoice.c.issued_on, invoice.c.number))).all())


async def allocate_oldest_first(uow: UnitOfWork, family_id: uuid.UUID, regie_id: uuid.UUID,
                                amount_cents: int, *, at: datetime,
                                payment_id: uuid.UUID | None = None,
                                credit_note_id: uuid.UUID | None = None,
                                ) -> tuple[list[Allocated], int]:
    """Spread an amount over the family's open invoices of a régie, oldest first. Returns the
    allocations and what is left (kept as the family's credit)."""
    remaining, done = amount_cents, []
    for inv in await open_invoices(uow, family_id, regie_id):
        if remaining <= 0:
            break
        part = min(remaining, inv.total_cents - inv.settled_cents)
        made = await allocate(uow, inv.invoice_id, part, at=at, payment_id=payment_id,
                              credit_note_id=credit_note_id)
        if made is not None:
            done.append(made)
            remaining -= part
    return done, remaining
