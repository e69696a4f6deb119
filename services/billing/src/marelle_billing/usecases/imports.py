"""The import of the open invoices of the previous system (CSV from staff).

Each valid line becomes an issued invoice (`imported`, one `reprise` line with its wording) under
the number it had (numbers are unique per régie): importing the same file again adds nothing
(those lines count as `already_present`). A file with errors still imports its valid lines —
staff fix the refused lines (each error names its line number) and import the file again, the
lines already imported being recognised by their number. Everything is written in one
transaction, with one `billing.invoice_issued` (imported) per new invoice.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import billing as events
from marelle_billing.db import family_copy, invoice, invoice_line, regie
from marelle_billing.domain.accounting import IMPORTED_ACTIVITY
from marelle_billing.domain.money import parse_euros

COLUMNS = ("famille", "numero", "date", "montant", "solde", "libelle")
log = logging.getLogger(__name__)
REQUIRED = ("famille", "numero", "date", "montant")
MAX_CENTS = 100_000_000
_NUMBER = re.compile(r"^[A-Za-z0-9/_.-]{1,20}$")


@dataclass(frozen=True)
class _Line:
    line: int
    family_id: uuid.UUID
    number: str
    issued_on: date
    total_cents: int
    balance_cents: int
    label: str


def _header_key(text: str) -> str:
    """« Numéro » → « numero », « Libellé » → « libelle »."""
    plain = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in plain if not unicodedata.combining(c))


def _parse_date(text: str) -> date:
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def parse(text: str) -> tuple[list[_Line], list[dict[str, Any]]]:
    """The file's valid lines and its errors (French, with the line number in the file; the
    header is line 1). Pure: the database checks (family known, number taken) come after."""
    text = text.lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [_header_key(h) for h in next(reader)]
    except StopIteration:
        return [], [{"line": 1, "detail": "Le fichier est vide."}]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [{"line": 1, "detail": "Colonnes manquantes dans l'en-tête : "
                     + ", ".join(missing) + " (attendu : " + ";".join(COLUMNS) + ")."}]
    index = {name: header.index(name) for name in COLUMNS if name in header}
    lines: list[_Line] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        for row in reader:
            number_in_file = reader.line_num
            if not any(cell.strip() for cell in row):
                continue

            def cell(name: str) -> str:
                i = index.get(name)
                return row[i].strip() if i is not None and i < len(row) else ""

            problems = []
            try:
                family_id = uuid.UUID(cell("famille"))
            except ValueError:
                problems.append(f"identifiant de famille invalide « {cell('famille')} »")
            number = cell("numero")
            if not _NUMBER.match(number):
                problems.append(f"numéro de facture invalide « {number} »")
            elif number in seen:
                problems.append(f"numéro {number} en double dans le fichier")
            try:
                issued_on = _parse_date(cell("date"))
            except ValueError:
                problems.append(f"date invalide « {cell('date')} » (attendu JJ/MM/AAAA)")
            try:
                total = parse_euros(cell("montant"))
                if total <= 0:
                    problems.append("le montant doit être positif")
                elif total > MAX_CENTS:
                    problems.append("le montant dépasse 1 000 000 €")
            except ValueError:
                total = None
                problems.append(f"montant invalide « {cell('montant')} »")
            try:
                balance = parse_euros(cell("solde")) if cell("solde") else total
                if balance is not None and balance < 0:
                    problems.append("le solde ne peut pas être négatif")
                elif balance is not None and total is not None and balance > total:
                    problems.append("le solde est supérieur au montant")
            except ValueError:
                problems.append(f"solde invalide « {cell('solde')} »")
            if problems:
                errors.append({"line": number_in_file,
                               "detail": f"Ligne {number_in_file} : " + " ; ".join(problems) + "."})
                continue
            seen.add(number)
            label = cell("libelle")[:200] or f"Reprise de la facture {number}"
            lines.append(_Line(number_in_file, family_id, number, issued_on, total, balance,
                               label))
    except csv.Error as exc:
        errors.append({"line": reader.line_num,
                       "detail": f"Ligne {reader.line_num} : fichier CSV illisible ({exc})."})
    return lines, errors


async def import_invoices(uow: UnitOfWork, regie_code: str, text: str, at: datetime,
                          by: str | None = None, actor: Principal | None = None
                          ) -> dict[str, Any]:
    """`by`: the staff member importing (the invoice table has no author column: logged)."""
    parsed, parse_errors = parse(text)

    async def work() -> dict[str, Any]:
        errors = list(parse_errors)
        async with uow:
            office = (await uow.session.execute(select(regie).where(
                regie.c.code == regie_code))).first()
            if office is None:
                raise NotFound(f"La régie « {regie_code} » est introuvable.")
            families = set((await uow.session.scalars(select(family_copy.c.family_id).where(
                family_copy.c.family_id.in_({ln.family_id for ln in parsed})))).all()
                if parsed else set())
            taken = set((await uow.session.scalars(select(invoice.c.number).where(
                invoice.c.regie_id == office.regie_id,
                invoice.c.number.in_([ln.number for ln in parsed])))).all()) if parsed else set()
            invoices: list[dict[str, Any]] = []
            lines: list[dict[str, Any]] = []
            already = 0
            for ln in parsed:
                if ln.number in taken:
                    already += 1
                    continue
                if ln.family_id not in families:
                    errors.append({"line": ln.line, "detail": (
                        f"Ligne {ln.line} : famille inconnue « {ln.family_id} ».")})
                    continue
                invoice_id = uuid.uuid4()
                invoices.append({
                    "invoice_id": invoice_id, "regie_id": office.regie_id,
                    "family_id": ln.family_id, "run_id": None, "kind": "facture",
                    "number": ln.number, "month": None, "issued_on": ln.issued_on, "due_on": None,
                    "status": "payee" if ln.balance_cents == 0 else "emise",
                    "total_cents": ln.total_cents,
                    "settled_cents": ln.total_cents - ln.balance_cents, "imported": True,
                    "label": ln.label, "version": 1, "created_at": at})
                lines.append({
                    "line_id": uuid.uuid4(), "invoice_id": invoice_id, "child_id": None,
                    "child_name": None, "registration_id": None, "activity_name": None,
                    "day": None, "unit": None, "label": ln.label, "kind": "reprise",
                    "meal": False, "quantity": 1, "unit_price_cents": ln.total_cents,
                    "amount_cents": ln.total_cents, "source_key": None})
                uow.publish(events.InvoiceIssued(
                    invoice_id=invoice_id, number=ln.number, family_id=ln.family_id,
                    regie_code=office.code, regie_name=office.name, month=None,
                    issued_on=ln.issued_on, due_on=None, total_cents=ln.total_cents,
                    balance_cents=ln.balance_cents, imported=True,
                    regie_accounting_code=office.accounting_code,
                    by_activity=[events.ActivityAmount(activity_name=IMPORTED_ACTIVITY,
                                                       amount_cents=ln.total_cents)]),
                    version=1)
            if invoices:  # two statements for the whole file, not two per line
                await uow.session.execute(insert(invoice), invoices)
                await uow.session.execute(insert(invoice_line), lines)
            imported = len(invoices)
            if actor:
                await audit(uow, actor, "factures.importees", f"regie:{regie_code}",
                            after={"imported": imported, "already_present": already,
                                   "errors": len(errors)})
            await uow.commit()
        errors.sort(key=lambda e: e["line"])
        log.info("open invoices imported into %s by %s: %d new, %d already present, %d errors",
                 regie_code, by, imported, already, len(errors))
        return {"imported": imported, "already_present": already, "errors": errors}

    # Two simultaneous imports of the same file: the loser's unique number fails; run it again,
    # it then sees those numbers as already present.
    for _ in range(3):
        try:
            return await retry_transaction(work)
        except IntegrityError:
            continue
    return await retry_transaction(work)
