"""SEPA direct debit: mandates (« autorisations de prélèvement ») and pain.008 collections of the
open invoices of families with an active mandate.

A collection reads what to debit, builds and validates the XML in a worker thread (outside any
transaction), then records the payments in one transaction that fails as a whole when an invoice
changed meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import billing as events
from marelle_billing.db import (family_copy, invoice, payment, regie, sepa_collection,
                                sepa_mandate)
from marelle_billing.usecases import ledger
from marelle_billing.usecases.payments import claim_receipt_number

UowFactory = Callable[[], UnitOfWork]

_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
NOTHING_TO_COLLECT = "Aucune facture à prélever."


def clean_iban(raw: str) -> str:
    """The IBAN without spaces, upper case, its ISO 13616 check digits verified (mod 97)."""
    iban = re.sub(r"\s+", "", raw).upper()
    if not _IBAN.match(iban):
        raise InvalidInput("L'IBAN n'est pas valide.")
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        raise InvalidInput("L'IBAN n'est pas valide (clé de contrôle incorrecte).")
    return iban


def clean_bic(raw: str) -> str:
    bic = re.sub(r"\s+", "", raw).upper()
    if not _BIC.match(bic):
        raise InvalidInput("Le BIC n'est pas valide.")
    return bic


def mask_iban(iban: str) -> str:
    """Country, check digits and the last four characters only (« FR76 **** … 0189 »)."""
    return iban[:4] + "*" * (len(iban) - 8) + iban[-4:]


def _mandate_view(row: Any) -> dict[str, Any]:
    return {"mandate_id": row.mandate_id, "family_id": row.family_id,
            "regie_code": row.regie_code, "reference": row.reference,
            "debtor_name": row.debtor_name, "iban_masked": mask_iban(row.iban), "bic": row.bic,
            "signed_on": row.signed_on, "active": row.active}


def _mandates_query(*where: Any) -> Any:
    return (select(sepa_mandate, regie.c.code.label("regie_code"))
            .join(regie, regie.c.regie_id == sepa_mandate.c.regie_id).where(*where)
            .order_by(sepa_mandate.c.created_at.desc(), sepa_mandate.c.reference))


async def family_mandates(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(_mandates_query(
            sepa_mandate.c.family_id == family_id))).all()
    return [_mandate_view(r) for r in rows]


async def create_mandate(uow: UnitOfWork, family_id: uuid.UUID, body: dict[str, Any],
                         now: datetime, actor: Principal | None = None) -> dict[str, Any]:
    iban, bic = clean_iban(body["iban"]), clean_bic(body["bic"])
    mandate_id = uuid.uuid4()
    async with uow:
        regie_id = await uow.session.scalar(select(regie.c.regie_id).where(
            regie.c.code == body["regie_code"]))
        if regie_id is None:
            raise NotFound("Cette régie est introuvable.")
        if await uow.session.scalar(select(family_copy.c.family_id).where(
                family_copy.c.family_id == family_id)) is None:
            raise NotFound("Ce foyer est introuvable.")
        try:
            await uow.session.execute(insert(sepa_mandate).values(
                mandate_id=mandate_id, family_id=family_id, regie_id=regie_id,
                reference=body["reference"], debtor_name=body["debtor_name"], iban=iban,
                bic=bic, signed_on=body["signed_on"], first_collected=False, active=True,
                created_at=now))
            row = (await uow.session.execute(_mandates_query(
                sepa_mandate.c.mandate_id == mandate_id))).one()
            if actor:  # the IBAN masked: the audit log is read by every staff member
                await audit(uow, actor, "mandat.cree", f"mandat:{mandate_id}", after={
                    "family_id": family_id, "regie": body["regie_code"],
                    "reference": body["reference"], "iban": f"…{iban[-4:]}"})
            await uow.commit()
        except IntegrityError:
            raise Conflict("Un mandat porte déjà cette référence.") from None
    return _mandate_view(row)


async def revoke_mandate(uow: UnitOfWork, mandate_id: uuid.UUID,
                         actor: Principal | None = None) -> None:
    async with uow:
        done = await uow.session.scalar(
            update(sepa_mandate)
            .where(sepa_mandate.c.mandate_id == mandate_id, sepa_mandate.c.active.is_(True))
            .values(active=False).returning(sepa_mandate.c.mandate_id))
        if done is None:
            raise NotFound("Ce mandat est introuvable ou déjà révoqué.")
        if actor:
            await audit(uow, actor, "mandat.revoque", f"mandat:{mandate_id}",
                        before={"active": True}, after={"active": False})
        await uow.commit()


def build_pain008(creditor: dict[str, str], debits: list[dict[str, Any]]) -> str:
    """The pain.008.001.02 file, validated against its schema by sepaxml."""
    from sepaxml import SepaDD

    sepa = SepaDD({"name": creditor["name"], "IBAN": creditor["iban"], "BIC": creditor["bic"],
                   "batch": True, "creditor_id": creditor["creditor_id"], "currency": "EUR"},
                  schema="pain.008.001.02")
    for d in debits:
        sepa.add_payment({
            "name": d["debtor_name"], "IBAN": d["iban"], "BIC": d["bic"],
            "amount": d["amount_cents"], "type": d["sequence"],
            "collection_date": d["collection_date"], "mandate_id": d["mandate_reference"],
            "mandate_date": d["signed_on"], "description": f"Facture {d['invoice_number']}",
            "endtoend_id": d["invoice_number"]})
    return sepa.export(validate=True).decode("utf-8")


async def create_collection(new: UowFactory, started_by: str, regie_code: str,
                            collection_date: date, now: datetime,
                            actor: Principal | None = None) -> dict[str, Any]:
    async with new() as uow:
        reg = (await uow.session.execute(select(regie).where(regie.c.code == regie_code))).first()
        if reg is None:
            raise NotFound("Cette régie est introuvable.")
        if not all((reg.creditor_name, reg.creditor_iban, reg.creditor_bic, reg.creditor_id)):
            raise Conflict("Les coordonnées de créancier SEPA de la régie sont incomplètes "
                           "(nom, IBAN, BIC, ICS).")
        mandates = (await uow.session.execute(
            select(sepa_mandate).where(sepa_mandate.c.regie_id == reg.regie_id,
                                       sepa_mandate.c.active.is_(True))
            .order_by(sepa_mandate.c.signed_on, sepa_mandate.c.created_at))).all()
        # One mandate per family: the most recently signed one.
        by_family = {m.family_id: m for m in mandates}
        open_rows = (await uow.session.execute(
            select(invoice).where(invoice.c.regie_id == reg.regie_id,
                                  invoice.c.family_id.in_(list(by_family) or [uuid.uuid4()]),
                                  invoice.c.kind == "facture", invoice.c.status == "emise",
                                  invoice.c.settled_cents < invoice.c.total_cents)
            .order_by(invoice.c.issued_on, invoice.c.number))).all()
    if not open_rows:
        raise Conflict(NOTHING_TO_COLLECT)
    debits = []
    for inv in open_rows:
        m = by_family[inv.family_id]
        debits.append({"invoice_id": inv.invoice_id, "invoice_number": inv.number,
                       "family_id": inv.family_id,
                       "amount_cents": inv.total_cents - inv.settled_cents,
                       "debtor_name": m.debtor_name, "iban": m.iban, "bic": m.bic,
                       "mandate_id": m.mandate_id, "mandate_reference": m.reference,
                       "signed_on": m.signed_on, "collection_date": collection_date,
                       "sequence": "RCUR" if m.first_collected else "FRST"})
    creditor = {"name": reg.creditor_name, "iban": reg.creditor_iban, "bic": reg.creditor_bic,
                "creditor_id": reg.creditor_id}
    try:
        document = await asyncio.to_thread(build_pain008, creditor, [dict(d) for d in debits])
    except Exception as exc:  # sepaxml refuses a value (schema or its own checks)
        raise Conflict("Le fichier de prélèvement n'a pas pu être produit : vérifiez les "
                       "coordonnées bancaires de la régie et des mandats.") from exc
    collection_id = uuid.uuid4()
    total = sum(d["amount_cents"] for d in debits)

    async def work() -> dict[str, Any]:
        async with new() as uow:
            for d in debits:
                payment_id = uuid.uuid4()
                receipt = await claim_receipt_number(uow, now)
                await uow.session.execute(insert(payment).values(
                    payment_id=payment_id, family_id=d["family_id"], regie_id=reg.regie_id,
                    method="prelevement", status="acceptee", amount_cents=d["amount_cents"],
                    invoice_id=d["invoice_id"], receipt_number=receipt,
                    details=json.dumps({"mandate": d["mandate_reference"]}),
                    unallocated_cents=0, received_on=collection_date, received_at=now,
                    recorded_by=_uuid_or_none(started_by), collection_id=collection_id,
                    version=1, created_at=now))
                made = await ledger.allocate(uow, d["invoice_id"], d["amount_cents"], at=now,
                                             payment_id=payment_id)
                if made is None:  # paid meanwhile: the whole file is refused, nothing written
                    raise Conflict(f"La facture {d['invoice_number']} a changé pendant la "
                                   "préparation du prélèvement : recommencez.")
                uow.publish(events.PaymentReceived(
                    payment_id=payment_id, family_id=d["family_id"], regie_code=reg.code,
                    regie_accounting_code=reg.accounting_code,
                    method=events.PaymentMethod.DIRECT_DEBIT, amount_cents=d["amount_cents"],
                    received_at=now, receipt_number=receipt, allocations=[made.event()]),
                    version=1)
            await uow.session.execute(
                update(sepa_mandate)
                .where(sepa_mandate.c.mandate_id.in_({d["mandate_id"] for d in debits}),
                       sepa_mandate.c.first_collected.is_(False))
                .values(first_collected=True))
            await uow.session.execute(insert(sepa_collection).values(
                collection_id=collection_id, regie_id=reg.regie_id,
                collection_date=collection_date, count=len(debits), total_cents=total,
                document=document, created_by=_uuid_or_none(started_by), created_at=now))
            if actor:
                await audit(uow, actor, "prelevement.cree", f"prelevement:{collection_id}",
                            after={"regie": reg.code, "collection_date": collection_date,
                                   "count": len(debits), "total_cents": total})
            await uow.commit()
        return {"collection_id": collection_id, "regie_code": reg.code,
                "collection_date": collection_date, "count": len(debits), "total_cents": total,
                "created_at": now}

    return await retry_transaction(work)


async def collection_document(uow: UnitOfWork, collection_id: uuid.UUID) -> str:
    async with uow:
        document = await uow.session.scalar(select(sepa_collection.c.document).where(
            sepa_collection.c.collection_id == collection_id))
    if document is None:
        raise NotFound("Ce fichier de prélèvement est introuvable.")
    return document


def _uuid_or_none(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None
