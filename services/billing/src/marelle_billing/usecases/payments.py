"""Payments: « Payer cette facture » (online, through the régie's provider), the provider's answer
settled idempotently, receipts, and the payments staff record (cash, cheque, CESU, vouchers).

Money reaches invoices only through `ledger.allocate`. A provider may answer through the browser
(the return) and server to server (the callback), in any order, late or several times: one
conditional UPDATE decides which of them settles the payment; the others read the result.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from marelle_chassis.clock import PARIS
from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import BadRequest, Conflict, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import billing as events
from marelle_billing import payment_provider as provider
from marelle_billing.config import BillingSettings
from marelle_billing.db import allocation, family_copy, invoice, number_sequence, payment, regie
from marelle_billing.domain.money import format_eur
from marelle_billing.usecases import ledger

UowFactory = Callable[[], UnitOfWork]

REFUSED = "Le paiement a été refusé par la banque. La facture reste à payer."
ABANDONED = "Paiement abandonné. La facture reste à payer."
PENDING = "Le paiement est en attente de la confirmation de la banque."
PAYMENT_NOT_FOUND = "Ce paiement est introuvable."
INVOICE_NOT_FOUND = "Cette facture est introuvable."
ALREADY_PAID = "Cette facture est déjà réglée."
RECEIPT_PREFIX = "R"


# --- numbering ------------------------------------------------------------------------------------

# Receipt numbers are unique across the whole database (payment.receipt_number is UNIQUE), so
# they come from one sequence shared by every régie (this owner id in number_sequence) rather
# than one per régie, which would give two régies the same R2611000001.
RECEIPT_SEQUENCE = uuid.UUID(int=0)


async def claim_receipt_number(uow: UnitOfWork, at: datetime) -> str:
    """R + YYMM (Paris) + 6-digit sequence: the month's row is created if absent (an insert that
    ignores a rival's row), then claimed by one conditional UPDATE … RETURNING — no gap, no
    duplicate, on SQLite and PostgreSQL alike."""
    yymm = at.astimezone(PARIS).strftime("%y%m")
    key = {"regie_id": RECEIPT_SEQUENCE, "prefix": RECEIPT_PREFIX, "yymm": yymm}
    dialect = postgresql if uow.session.bind.dialect.name == "postgresql" else sqlite
    await uow.session.execute(dialect.insert(number_sequence).values(**key, last=0)
                              .on_conflict_do_nothing())
    last = await uow.session.scalar(
        update(number_sequence)
        .where(number_sequence.c.regie_id == RECEIPT_SEQUENCE,
               number_sequence.c.prefix == RECEIPT_PREFIX, number_sequence.c.yymm == yymm)
        .values(last=number_sequence.c.last + 1).returning(number_sequence.c.last))
    return f"{RECEIPT_PREFIX}{yymm}{last:06d}"


# --- views ----------------------------------------------------------------------------------------

def _message(status: str, stored: str | None) -> str | None:
    if stored:
        return stored
    return {"refusee": REFUSED, "abandonnee": ABANDONED, "en_attente": PENDING}.get(status)


def _view(row: Any, allocations: list[dict[str, Any]]) -> dict[str, Any]:
    details = json.loads(row.details or "{}")
    return {
        "payment_id": row.payment_id, "family_id": row.family_id, "regie_code": row.regie_code,
        "regie_name": row.regie_name, "method": row.method, "status": row.status,
        "amount_cents": row.amount_cents, "invoice_id": row.invoice_id,
        "invoice_number": row.invoice_number, "receipt_number": row.receipt_number,
        "created_at": row.created_at, "received_at": row.received_at,
        "card_type": details.get("card_type"), "card_last4": details.get("card_last4"),
        "authorisation": details.get("authorisation"),
        "details": {str(k): str(v) for k, v in details.items()},
        "allocations": allocations, "unallocated_cents": row.unallocated_cents,
        "message": _message(row.status, row.message),
    }


def _payments_query(*where: Any) -> Any:
    started_for = invoice.alias("started_for")
    return (select(payment, regie.c.code.label("regie_code"), regie.c.name.label("regie_name"),
                   started_for.c.number.label("invoice_number"))
            .join(regie, regie.c.regie_id == payment.c.regie_id)
            .outerjoin(started_for, started_for.c.invoice_id == payment.c.invoice_id)
            .where(*where)
            .order_by(payment.c.created_at.desc(), payment.c.payment_id))


async def _views(uow: UnitOfWork, *where: Any) -> list[dict[str, Any]]:
    """Payments and their allocations: two queries whatever the number of rows."""
    rows = (await uow.session.execute(_payments_query(*where))).all()
    if not rows:
        return []
    by_payment: dict[uuid.UUID, list[dict[str, Any]]] = {r.payment_id: [] for r in rows}
    allocs = (await uow.session.execute(
        select(allocation.c.payment_id, allocation.c.invoice_id, allocation.c.amount_cents,
               invoice.c.number)
        .join(invoice, invoice.c.invoice_id == allocation.c.invoice_id)
        .where(allocation.c.payment_id.in_(list(by_payment)))
        .order_by(allocation.c.allocated_at, invoice.c.issued_on, invoice.c.number))).all()
    for a in allocs:
        by_payment[a.payment_id].append({"invoice_id": a.invoice_id, "invoice_number": a.number,
                                         "amount_cents": a.amount_cents})
    return [_view(r, by_payment[r.payment_id]) for r in rows]


async def family_payments(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    async with uow:
        return await _views(uow, payment.c.family_id == family_id)


async def family_payment(uow: UnitOfWork, family_id: uuid.UUID,
                         payment_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        found = await _views(uow, payment.c.family_id == family_id,
                             payment.c.payment_id == payment_id)
    if not found:
        raise NotFound(PAYMENT_NOT_FOUND)
    return found[0]


async def staff_payments(uow: UnitOfWork, *, regie_code: str | None = None,
                         family_id: uuid.UUID | None = None,
                         method: str | None = None) -> list[dict[str, Any]]:
    where = []
    if regie_code:
        where.append(regie.c.code == regie_code)
    if family_id:
        where.append(payment.c.family_id == family_id)
    if method:
        where.append(payment.c.method == method)
    async with uow:
        return await _views(uow, *where)


async def receipt_context(uow: UnitOfWork, family_id: uuid.UUID,
                          payment_id: uuid.UUID) -> dict[str, Any]:
    """What the receipt PDF shows (rendered by the caller, outside the transaction)."""
    async with uow:
        found = await _views(uow, payment.c.family_id == family_id,
                             payment.c.payment_id == payment_id)
        if not found:
            raise NotFound(PAYMENT_NOT_FOUND)
        family_name = await uow.session.scalar(select(family_copy.c.name).where(
            family_copy.c.family_id == family_id))
    view = found[0]
    if view["status"] != "acceptee":
        raise Conflict("Ce paiement n'a pas été accepté : il n'a pas de reçu.")
    return {"payment": view, "family_name": family_name or ""}


# --- online payments ------------------------------------------------------------------------------

async def start_online_payment(new: UowFactory, settings: BillingSettings, family_id: uuid.UUID,
                               invoice_id: uuid.UUID, amount_cents: int | None, return_url: str,
                               now: datetime) -> dict[str, Any]:
    """Step 2 of « Payer cette facture »: checks, asks the provider (outside any transaction: it
    may call a web service), then records the pending payment."""
    async with new() as uow:
        inv = (await uow.session.execute(
            select(invoice, regie.c.code.label("regie_code"), regie.c.name.label("regie_name"),
                   regie.c.partial_payment_allowed, regie.c.payment_backend,
                   regie.c.payment_options)
            .join(regie, regie.c.regie_id == invoice.c.regie_id)
            .where(invoice.c.invoice_id == invoice_id, invoice.c.family_id == family_id,
                   invoice.c.kind == "facture", invoice.c.status != "brouillon"))).first()
        if inv is None:
            raise NotFound(INVOICE_NOT_FOUND)
        email = await uow.session.scalar(select(family_copy.c.email).where(
            family_copy.c.family_id == family_id))
    balance = inv.total_cents - inv.settled_cents
    if inv.status == "payee" or (inv.status == "emise" and balance <= 0):
        raise Conflict(ALREADY_PAID)
    if inv.status != "emise":
        raise Conflict("Cette facture n'est plus à payer.")
    amount = balance if amount_cents is None else amount_cents
    if amount > balance:
        raise InvalidInput(f"Le montant dépasse le solde de la facture ({format_eur(balance)}).")
    if amount < balance and not inv.partial_payment_allowed:
        raise InvalidInput("Cette régie n'accepte pas les paiements partiels : réglez le solde "
                           f"de la facture ({format_eur(balance)}).")
    started = await asyncio.to_thread(
        provider.start, settings, regie_code=inv.regie_code, backend=inv.payment_backend,
        options_json=inv.payment_options, amount_cents=amount, email=email,
        orderid=inv.number, subject=f"Facture {inv.number}", return_url=return_url)
    payment_id = uuid.uuid4()
    async with new() as uow:
        await uow.session.execute(insert(payment).values(
            payment_id=payment_id, family_id=family_id, regie_id=inv.regie_id, method="carte",
            status="en_attente", amount_cents=amount, invoice_id=invoice_id,
            backend=inv.payment_backend, transaction_id=started.transaction_id,
            details=json.dumps({}), unallocated_cents=0, version=1, created_at=now))
        await uow.commit()
    return {"payment_id": payment_id, "invoice_number": inv.number, "amount_cents": amount,
            "email": email, "redirect_url": started.redirect_url, "method": started.method,
            "form_fields": started.form_fields}


def _card_details(outcome: provider.Outcome) -> dict[str, str]:
    data = outcome.bank_data
    details = {}
    if data.get("card"):
        details["card_type"] = data["card"][:20]
    if data.get("last4"):
        details["card_last4"] = data["last4"][-4:]
    if data.get("authorisation"):
        details["authorisation"] = data["authorisation"][:20]
    return details


async def _apply_paid(uow: UnitOfWork, transaction_id: str, outcome: provider.Outcome,
                      now: datetime) -> None:
    """The one conditional UPDATE that settles; only its winner allocates and publishes. A signed
    PAID after a refusal or an abandon is authoritative: the bank took the money."""
    details = _card_details(outcome)
    won = (await uow.session.execute(
        update(payment)
        .where(payment.c.transaction_id == transaction_id,
               payment.c.status.in_(("en_attente", "refusee", "abandonnee")))
        .values(status="acceptee", received_at=now, received_on=now.astimezone(PARIS).date(),
                details=json.dumps(details), message=None, version=payment.c.version + 1)
        .returning(payment.c.payment_id, payment.c.family_id, payment.c.regie_id,
                   payment.c.amount_cents, payment.c.invoice_id, payment.c.version))).first()
    if won is None:
        return  # already settled by the other channel (or a replay)
    receipt = await claim_receipt_number(uow, now)
    made = []
    if won.invoice_id is not None:
        inv = (await uow.session.execute(select(invoice.c.total_cents, invoice.c.settled_cents,
                                                invoice.c.status)
                                         .where(invoice.c.invoice_id == won.invoice_id))).first()
        # Two tabs may both have paid: the balance goes to the invoice, the rest is credit.
        part = min(won.amount_cents, inv.total_cents - inv.settled_cents) if inv else 0
        if inv is not None and inv.status == "emise" and part > 0:
            done = await ledger.allocate(uow, won.invoice_id, part, at=now,
                                         payment_id=won.payment_id)
            if done is not None:
                made.append(done)
    unallocated = won.amount_cents - sum(a.amount_cents for a in made)
    await uow.session.execute(update(payment).where(payment.c.payment_id == won.payment_id)
                              .values(receipt_number=receipt, unallocated_cents=unallocated))
    office = (await uow.session.execute(select(regie.c.code, regie.c.accounting_code).where(
        regie.c.regie_id == won.regie_id))).one()
    uow.publish(events.PaymentReceived(
        payment_id=won.payment_id, family_id=won.family_id, regie_code=office.code,
        regie_accounting_code=office.accounting_code,
        method=events.PaymentMethod.CARD, amount_cents=won.amount_cents, received_at=now,
        receipt_number=receipt, allocations=[a.event() for a in made],
        unallocated_cents=unallocated), version=won.version)


async def _apply_failed(uow: UnitOfWork, transaction_id: str, outcome: provider.Outcome) -> None:
    abandoned = outcome.result == "cancelled" or outcome.bank_status == "abandon"
    status, message = ("abandonnee", ABANDONED) if abandoned else ("refusee", REFUSED)
    await uow.session.execute(
        update(payment)
        .where(payment.c.transaction_id == transaction_id, payment.c.status == "en_attente")
        .values(status=status, message=message, version=payment.c.version + 1))


async def settle(new: UowFactory, settings: BillingSettings, query_string: str, now: datetime, *,
                 regie_code: str | None = None,
                 family_id: uuid.UUID | None = None) -> tuple[dict[str, Any], provider.Outcome]:
    """A provider's answer, from the callback (`regie_code` known) or from the parent's return
    (`family_id` known: the payment must be theirs). Idempotent; only signed answers change
    state."""
    query_string = query_string.lstrip("?")
    async with new() as uow:
        if regie_code is not None:
            reg = (await uow.session.execute(select(regie).where(regie.c.code == regie_code))
                   ).first()
            if reg is None:
                raise BadRequest("Cette régie est inconnue.")
        else:
            transaction_id = provider.guess_transaction(query_string)
            reg = (await uow.session.execute(
                select(regie).join(payment, payment.c.regie_id == regie.c.regie_id)
                .where(payment.c.transaction_id == transaction_id,
                       payment.c.family_id == family_id))).first()
            if reg is None:
                raise NotFound(PAYMENT_NOT_FOUND)
    outcome = await asyncio.to_thread(
        provider.read_answer, settings, regie_code=reg.code, backend=reg.payment_backend,
        options_json=reg.payment_options, query_string=query_string)
    owner = [payment.c.transaction_id == outcome.transaction_id,
             payment.c.regie_id == reg.regie_id]
    if family_id is not None:
        owner.append(payment.c.family_id == family_id)

    async def work() -> None:
        async with new() as uow:
            found = await uow.session.scalar(select(payment.c.payment_id).where(*owner))
            if found is None:
                if family_id is not None:
                    raise NotFound(PAYMENT_NOT_FOUND)
                raise BadRequest("Cette transaction est inconnue.")
            if not outcome.signed:
                return  # a forged or unverifiable answer changes nothing
            if outcome.result == "paid":
                await _apply_paid(uow, outcome.transaction_id, outcome, now)
            elif outcome.result in ("denied", "cancelled", "error"):
                await _apply_failed(uow, outcome.transaction_id, outcome)
            await uow.commit()

    await retry_transaction(work)
    async with new() as uow:
        view = (await _views(uow, *owner))[0]
    return view, outcome


# --- manual payments ------------------------------------------------------------------------------

def _staff_uuid(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


async def record_manual_payment(new: UowFactory, recorded_by: str, body: dict[str, Any],
                                now: datetime, actor: Principal | None = None
                                ) -> dict[str, Any]:
    """Cash, cheque, CESU or holiday vouchers received by staff: accepted at once, allocated to
    the invoices staff name (or the oldest open ones), the rest kept as the family's credit."""
    method, amount = body["method"], body["amount_cents"]
    details: dict[str, str] = {}
    if method == "cheque":
        cheque = body.get("cheque")
        if not cheque:
            raise InvalidInput("Pour un chèque, indiquez l'émetteur, la banque et le numéro du "
                               "chèque.")
        details = {"cheque_issuer": cheque["issuer"], "cheque_bank": cheque["bank"],
                   "cheque_number": cheque["number"]}
    if body.get("reference"):
        details["reference"] = body["reference"]
    wanted = body.get("allocations")
    if wanted is not None:
        ids = [a["invoice_id"] for a in wanted]
        if len(set(ids)) != len(ids):
            raise InvalidInput("Une même facture apparaît deux fois dans la répartition.")
        if sum(a["amount_cents"] for a in wanted) > amount:
            raise InvalidInput("La somme imputée sur les factures dépasse le montant du "
                               f"paiement ({format_eur(amount)}).")
    family_id = body["family_id"]
    payment_id = uuid.uuid4()

    async def work() -> dict[str, Any]:
        async with new() as uow:
            reg = (await uow.session.execute(select(regie).where(
                regie.c.code == body["regie_code"]))).first()
            if reg is None:
                raise NotFound("Cette régie est introuvable.")
            known = await uow.session.scalar(select(family_copy.c.family_id).where(
                family_copy.c.family_id == family_id))
            if known is None:
                raise NotFound("Ce foyer est introuvable.")
            receipt = await claim_receipt_number(uow, now)
            await uow.session.execute(insert(payment).values(
                payment_id=payment_id, family_id=family_id, regie_id=reg.regie_id,
                method=method, status="acceptee", amount_cents=amount, invoice_id=None,
                receipt_number=receipt, details=json.dumps(details), unallocated_cents=0,
                received_on=body["received_on"], received_at=now,
                recorded_by=_staff_uuid(recorded_by), version=1, created_at=now))
            if wanted is None:
                made, _rest = await ledger.allocate_oldest_first(
                    uow, family_id, reg.regie_id, amount, at=now, payment_id=payment_id)
            else:
                made = await _allocate_explicit(uow, family_id, reg.regie_id, wanted, now,
                                                payment_id)
            unallocated = amount - sum(a.amount_cents for a in made)
            await uow.session.execute(update(payment).where(payment.c.payment_id == payment_id)
                                      .values(unallocated_cents=unallocated))
            uow.publish(events.PaymentReceived(
                payment_id=payment_id, family_id=family_id, regie_code=reg.code,
                regie_accounting_code=reg.accounting_code, method=events.PaymentMethod(method),
                amount_cents=amount, received_at=now,
                receipt_number=receipt, allocations=[a.event() for a in made],
                unallocated_cents=unallocated), version=1)
            if actor:
                await audit(uow, actor, "paiement.enregistre", f"paiement:{payment_id}", after={
                    "family_id": family_id, "regie": reg.code, "method": method,
                    "amount_cents": amount, "receipt_number": receipt,
                    "allocations": {str(a.invoice_id): a.amount_cents for a in made},
                    "unallocated_cents": unallocated})
            await uow.commit()
            return (await _views(uow, payment.c.payment_id == payment_id))[0]

    return await retry_transaction(work)


async def _allocate_explicit(uow: UnitOfWork, family_id: uuid.UUID, regie_id: uuid.UUID,
                             wanted: list[dict[str, Any]], now: datetime,
                             payment_id: uuid.UUID) -> list[ledger.Allocated]:
    ids = [a["invoice_id"] for a in wanted]
    rows = {r.invoice_id: r for r in (await uow.session.execute(
        select(invoice).where(invoice.c.invoice_id.in_(ids)))).all()}
    made = []
    for a in wanted:
        inv = rows.get(a["invoice_id"])
        if inv is None or inv.family_id != family_id or inv.kind != "facture":
            raise InvalidInput("Une des factures à régler n'appartient pas à ce foyer.")
        label = inv.number or ""
        if inv.regie_id != regie_id:
            raise InvalidInput(f"La facture {label} n'est pas de cette régie.")
        balance = inv.total_cents - inv.settled_cents
        if inv.status != "emise" or balance <= 0:
            raise InvalidInput(f"La facture {label} n'est pas à payer.")
        if a["amount_cents"] > balance:
            raise InvalidInput(f"Le montant imputé sur la facture {label} dépasse son solde "
                               f"({format_eur(balance)}).")
        done = await ledger.allocate(uow, inv.invoice_id, a["amount_cents"], at=now,
                                     payment_id=payment_id)
        if done is None:  # paid meanwhile by someone else: nothing is written (rollback)
            raise Conflict(f"La facture {label} a changé entre-temps : recommencez.")
        made.append(done)
    return made


__all__ = ["claim_receipt_number", "family_payment", "family_payments",
           "receipt_context", "record_manual_payment", "settle", "staff_payments",
           "start_online_payment"]
