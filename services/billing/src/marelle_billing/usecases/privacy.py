"""A household anonymised by identity (deletion request accepted, GDPR): the accounting records
stay (invoices, credit notes, payments, allocations, the billed-sources ledger, amounts, numbers,
dates: accounting law requires them) but no longer name anyone.

Invoice PDFs and fiscal attestations are rendered on demand from these rows and the family copy,
so nothing stored keeps a name once they are rewritten here. Idempotent: a replay writes the same
values.
"""

from __future__ import annotations

import json

from sqlalchemy import select, update

from marelle_billing.db import fiscal_attestation, invoice, invoice_line, sepa_mandate
from marelle_chassis.uow import UnitOfWork
from marelle_contracts.identity import HouseholdAnonymised


async def anonymise_household(uow: UnitOfWork, p: HouseholdAnonymised) -> None:
    name = p.name
    births = {str(c.child_id): c.birth_date.isoformat() for c in p.children}
    family_invoices = select(invoice.c.invoice_id).where(invoice.c.family_id == p.family_id)
    await uow.session.execute(
        update(invoice_line).where(invoice_line.c.invoice_id.in_(family_invoices),
                                   invoice_line.c.child_name.is_not(None))
        .values(child_name=f"{name} {name}"))
    for row in (await uow.session.execute(
            select(fiscal_attestation.c.attestation_id, fiscal_attestation.c.children)
            .where(fiscal_attestation.c.family_id == p.family_id))).all():
        children = json.loads(row.children)
        for c in children:
            c["first_name"] = c["last_name"] = name
            c["birth_date"] = births.get(str(c.get("child_id")), c.get("birth_date"))
        await uow.session.execute(
            update(fiscal_attestation)
            .where(fiscal_attestation.c.attestation_id == row.attestation_id)
            .values(children=json.dumps(children, ensure_ascii=False)))
    # A mandate names its debtor; the IBAN stays while a debt may still be collected.
    await uow.session.execute(update(sepa_mandate).where(sepa_mandate.c.family_id == p.family_id)
                              .values(debtor_name=name))
