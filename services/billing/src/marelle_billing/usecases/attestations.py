"""Fiscal attestations (« frais de garde des enfants de moins de 6 ans », article 200 quater B du
CGI): what the family PAID during a calendar year for the care of its children under 6 on
1 January of that year, meals excluded.

For each invoice, the money received during the year (allocations of payments whose
`allocated_at` falls in the year, Europe/Paris) pays each line in proportion. A credit note used
against an invoice is not money paid: it lowers what the care cost. So the invoice's due is its
total minus the credit notes applied to it, and each child's care on it is their non-meal lines
minus their share of those credit notes' non-meal lines (in proportion to the part of the credit
note applied there): an eligible child's care × (received in the year / due), rounded half up
per invoice and child.

One attestation per family and year: asked again, it is the same one while the amounts are
unchanged, else updated with its version + 1 (and published again).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.clock import PARIS
from marelle_chassis.domain_errors import InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import billing as events
from marelle_billing import pdf
from marelle_billing.db import (allocation, child_copy, family_copy, fiscal_attestation, invoice,
                                invoice_line, regie)
from marelle_billing.usecases.accounts import round_half_up

NOT_FOUND = "Cette attestation fiscale est introuvable."


def eligible(birth_date: date, year: int) -> bool:
    """Under 6 on 1 January of `year`: a child born on 1 January year − 6 is 6 that day."""
    return birth_date > date(year - 6, 1, 1)


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=PARIS), datetime(year + 1, 1, 1, tzinfo=PARIS)


def _view(row: Any) -> dict[str, Any]:
    return {"attestation_id": row.attestation_id, "family_id": row.family_id, "year": row.year,
            "total_cents": row.total_cents, "children": json.loads(row.children),
            "issued_at": row.issued_at}


async def _amounts(uow: UnitOfWork, family_id: uuid.UUID, year: int) -> list[dict[str, Any]]:
    """Per eligible child, what was paid in `year` (three queries, inside an open unit of work)."""
    start, end = _year_bounds(year)
    received = (await uow.session.execute(
        select(allocation.c.invoice_id, allocation.c.amount_cents, invoice.c.total_cents)
        .join(invoice, invoice.c.invoice_id == allocation.c.invoice_id)
        .where(invoice.c.family_id == family_id, invoice.c.kind == "facture",
               invoice.c.status.in_(("emise", "payee")), allocation.c.payment_id.is_not(None),
               allocation.c.allocated_at >= start, allocation.c.allocated_at < end))).all()
    paid: dict[uuid.UUID, int] = defaultdict(int)
    totals: dict[uuid.UUID, int] = {}
    for r in received:
        paid[r.invoice_id] += r.amount_cents
        totals[r.invoice_id] = r.total_cents
    children = {c.child_id: c for c in (await uow.session.execute(
        select(child_copy).where(child_copy.c.family_id == family_id))).all()
        if eligible(c.birth_date, year)}
    if not paid or not children:
        return []
    credit_note = invoice.alias("credit_note")
    credits = (await uow.session.execute(
        select(allocation.c.invoice_id, allocation.c.credit_note_id, allocation.c.amount_cents,
               credit_note.c.total_cents)
        .join(credit_note, credit_note.c.invoice_id == allocation.c.credit_note_id)
        .where(allocation.c.invoice_id.in_(list(paid))))).all()
    due = dict(totals)
    for c in credits:
        due[c.invoice_id] -= c.amount_cents
    lines = (await uow.session.execute(
        select(invoice_line.c.invoice_id, invoice_line.c.child_id, invoice_line.c.amount_cents)
        .where(invoice_line.c.invoice_id.in_(list(paid) + [c.credit_note_id for c in credits]),
               invoice_line.c.child_id.in_(list(children)),
               invoice_line.c.meal.is_(False)))).all()
    by_document: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
    for ln in lines:
        by_document[(ln.invoice_id, ln.child_id)] += ln.amount_cents
    care: dict[tuple[uuid.UUID, uuid.UUID], Fraction] = defaultdict(Fraction)
    for (document_id, child_id), amount in by_document.items():
        if document_id in paid:
            care[(document_id, child_id)] += amount
    for c in credits:  # credit-note lines are negative: the care they took back
        for child_id in children:
            taken = by_document.get((c.credit_note_id, child_id))
            if taken and c.total_cents:
                care[(c.invoice_id, child_id)] -= Fraction(abs(taken) * c.amount_cents,
                                                           c.total_cents)
    per_child: dict[uuid.UUID, int] = defaultdict(int)
    for (invoice_id, child_id), amount in care.items():
        if due[invoice_id] > 0 and amount > 0:
            per_child[child_id] += round_half_up(
                min(amount, amount * paid[invoice_id] / due[invoice_id]))
    out = []
    for child_id, amount in per_child.items():
        if amount <= 0:
            continue
        c = children[child_id]
        out.append({"child_id": str(child_id), "first_name": c.first_name,
                    "last_name": c.last_name, "birth_date": c.birth_date.isoformat(),
                    "amount_cents": amount})
    out.sort(key=lambda c: (c["birth_date"], c["first_name"]))
    return out


async def issue(uow: UnitOfWork, family_id: uuid.UUID, year: int,
                at: datetime) -> dict[str, Any]:
    """« Demande d'Attestation fiscale »: computed now, kept (and published) when new or
    changed."""
    if year > at.astimezone(PARIS).year:
        raise InvalidInput(f"L'année {year} n'est pas encore commencée : aucune attestation "
                           "fiscale ne peut être délivrée.")

    async def work() -> dict[str, Any]:
        async with uow:
            children = await _amounts(uow, family_id, year)
            total = sum(c["amount_cents"] for c in children)
            encoded = json.dumps(children, ensure_ascii=False)
            current = (await uow.session.execute(select(fiscal_attestation).where(
                fiscal_attestation.c.family_id == family_id,
                fiscal_attestation.c.year == year))).first()
            if current is not None and current.total_cents == total \
                    and json.loads(current.children) == children:
                return _view(current)
            if current is None:
                row = (await uow.session.execute(insert(fiscal_attestation).values(
                    attestation_id=uuid.uuid4(), family_id=family_id, year=year,
                    total_cents=total, children=encoded, version=1, issued_at=at)
                    .returning(*fiscal_attestation.c))).one()
            else:
                # Conditional on the version read: a simultaneous request that updated it first
                # makes this one run again (and find the amounts unchanged).
                row = (await uow.session.execute(
                    update(fiscal_attestation)
                    .where(fiscal_attestation.c.attestation_id == current.attestation_id,
                           fiscal_attestation.c.version == current.version)
                    .values(total_cents=total, children=encoded, issued_at=at,
                            version=fiscal_attestation.c.version + 1)
                    .returning(*fiscal_attestation.c))).first()
                if row is None:
                    raise _Retry
            uow.publish(events.FiscalAttestationIssued(
                attestation_id=row.attestation_id, family_id=family_id, year=year,
                total_cents=total, children=[events.AttestedChild(**c) for c in children],
                issued_at=at), version=row.version)
            await uow.commit()
        return _view(row)

    for _ in range(5):
        try:
            return await retry_transaction(work)
        except (IntegrityError, _Retry):
            continue  # a simultaneous request won: read its result again
    return await retry_transaction(work)


class _Retry(Exception):
    """Another request changed the attestation between our read and our write."""


async def list_attestations(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        rows = (await uow.session.execute(select(fiscal_attestation).where(
            fiscal_attestation.c.family_id == family_id)
            .order_by(fiscal_attestation.c.year.desc()))).all()
    return {"attestations": [_view(r) for r in rows]}


async def attestation_pdf(uow: UnitOfWork, family_id: uuid.UUID,
                          attestation_id: uuid.UUID) -> tuple[str, bytes]:
    async with uow:
        row = (await uow.session.execute(select(fiscal_attestation).where(
            fiscal_attestation.c.attestation_id == attestation_id,
            fiscal_attestation.c.family_id == family_id))).first()
        if row is None:
            raise NotFound(NOT_FOUND)
        family_name = await uow.session.scalar(select(family_copy.c.name).where(
            family_copy.c.family_id == family_id))
        # The régies the family was invoiced by (usually the town's one).
        regies = list((await uow.session.scalars(
            select(regie.c.name).join(invoice, invoice.c.regie_id == regie.c.regie_id)
            .where(invoice.c.family_id == family_id).distinct().order_by(regie.c.name))).all())
        if not regies:
            regies = list((await uow.session.scalars(
                select(regie.c.name).order_by(regie.c.name))).all())
    view = _view(row)
    for c in view["children"]:
        c["birth_date"] = date.fromisoformat(c["birth_date"])
    document = await pdf.render_pdf("fiscal_attestation.html", attestation=view,
                                    family_name=family_name, regies=regies,
                                    version=row.version)
    return f"attestation-fiscale-{row.year}.pdf", document
