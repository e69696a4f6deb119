"""Invoicing runs: a régie's month computed into draft invoices and credit notes, reviewed,
recomputed or discarded, then finalised (numbered, issued, credit notes applied, published).

A run is computed from today's facts (booking's copies) in batches of families, each batch its
own transaction saving the progress with it: a crash resumes where it stopped without doubling a
line (`uq_invoice_run_family_kind`, and families that already have a draft are skipped). What a
source should cost minus what issued invoices billed for it (`billed_source`) is what a run adds:
a re-run adds nothing, a late change of an earlier month becomes a regularisation.

The computation itself runs in the background (`marelle_billing.runner`); these functions are the
steps it calls and the staff's requests.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from marelle_chassis.clock import PARIS
from marelle_chassis.copies import insert_if_missing
from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import billing as events
from marelle_billing.db import (
    allocation,
    attendance_copy,
    billed_source,
    child_copy,
    family_copy,
    financial_profile,
    invoice,
    invoice_line,
    invoicing_run,
    number_sequence,
    payment,
    period_copy,
    regie,
    reservation_copy,
)
from marelle_billing.domain import accounting, pricing
from marelle_billing.domain.numbering import invoice_number, yymm
from marelle_billing.usecases import ledger
from marelle_billing.usecases.catalogue import load_brackets, regie_by_code, regie_tariffs

log = logging.getLogger(__name__)

UowFactory = Callable[[], UnitOfWork]

UNKNOWN_RUN = "Cette facturation est introuvable."
UNKNOWN_INVOICE = "Cette facture est introuvable."
NOT_DRAFT = ("Cette facturation n'est pas (ou plus) un brouillon : elle ne peut être ni "
             "recalculée, ni finalisée, ni abandonnée.")
LIVE = ("en_cours", "brouillon", "finalisation", "finale", "echec")
# How far back a run looks for changed facts (late cancellations, corrected roll calls).
LOOKBACK_MONTHS = 12


class _Stopped(Exception):
    """The run changed status under the runner (discarded, recomputed): stop quietly."""


# --- months ---------------------------------------------------------------------------------------

def month_bounds(month: str) -> tuple[date, date]:
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def window(month: str) -> tuple[date, date, date]:
    """(first day looked at, first day of the month, last day of the month)."""
    first, last = month_bounds(month)
    year, mon = first.year, first.month - LOOKBACK_MONTHS
    while mon < 1:
        year, mon = year - 1, mon + 12
    return date(year, mon, 1), first, last


def _month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{mon}/{year}"


# --- views ----------------------------------------------------------------------------------------

def _run_view(row: Any) -> dict[str, Any]:
    return {
        "run_id": row.run_id, "regie_code": row.regie_code, "month": row.month,
        "status": row.status, "families_total": row.families_total,
        "families_done": row.families_done, "invoices": row.invoices,
        "credit_notes": row.credit_notes, "total_cents": row.total_cents, "lines": row.lines,
        "anomalies": json.loads(row.anomalies), "started_at": row.started_at,
        "computed_at": row.computed_at, "finalised_at": row.finalised_at,
        "version": row.version}


def _runs_query() -> Any:
    return (select(invoicing_run, regie.c.code.label("regie_code"))
            .join(regie, regie.c.regie_id == invoicing_run.c.regie_id))


async def _run_row(uow: UnitOfWork, run_id: uuid.UUID) -> Any:
    row = (await uow.session.execute(_runs_query().where(invoicing_run.c.run_id == run_id))
           ).first()
    if row is None:
        raise NotFound(UNKNOWN_RUN)
    return row


async def get_run(uow: UnitOfWork, run_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        return _run_view(await _run_row(uow, run_id))


async def list_runs(uow: UnitOfWork, regie_code: str | None) -> dict[str, Any]:
    stmt = _runs_query().order_by(invoicing_run.c.month.desc(), invoicing_run.c.started_at.desc())
    if regie_code:
        stmt = stmt.where(regie.c.code == regie_code)
    async with uow:
        return {"runs": [_run_view(r) for r in (await uow.session.execute(stmt)).all()]}


def _summary_query() -> Any:
    return (select(invoice, regie.c.code.label("regie_code"), regie.c.name.label("regie_name"),
                   regie.c.partial_payment_allowed, family_copy.c.name.label("family_name"))
            .join(regie, regie.c.regie_id == invoice.c.regie_id)
            .outerjoin(family_copy, family_copy.c.family_id == invoice.c.family_id))


def _summary(row: Any) -> dict[str, Any]:
    balance = row.total_cents - row.settled_cents
    return {
        "invoice_id": row.invoice_id, "number": row.number, "kind": row.kind,
        "family_id": row.family_id, "family_name": row.family_name or None,
        "regie_code": row.regie_code, "regie_name": row.regie_name, "month": row.month,
        "issued_on": row.issued_on, "due_on": row.due_on, "total_cents": row.total_cents,
        "balance_cents": balance, "status": row.status, "imported": row.imported,
        "payable": row.kind == "facture" and row.status == "emise" and balance > 0,
        "partial_payment_allowed": row.partial_payment_allowed}


def _total_balance(items: Sequence[dict[str, Any]]) -> int:
    return sum(i["balance_cents"] if i["kind"] == "facture" else -i["balance_cents"]
               for i in items)


async def run_invoices(uow: UnitOfWork, run_id: uuid.UUID) -> dict[str, Any]:
    """The run's invoices and credit notes (two queries whatever their number)."""
    async with uow:
        await _run_row(uow, run_id)
        rows = (await uow.session.execute(_summary_query().where(invoice.c.run_id == run_id)
                .order_by(invoice.c.kind.desc(), invoice.c.number, family_copy.c.name,
                          invoice.c.family_id))).all()
    items = [_summary(r) for r in rows]
    return {"invoices": items, "total_balance_cents": _total_balance(items)}


async def invoice_detail(uow: UnitOfWork, invoice_id: uuid.UUID) -> dict[str, Any]:
    """Any invoice or credit note, draft or issued, with its lines and allocations (three
    queries)."""
    async with uow:
        row = (await uow.session.execute(_summary_query().where(
            invoice.c.invoice_id == invoice_id))).first()
        if row is None:
            raise NotFound(UNKNOWN_INVOICE)
        lines = (await uow.session.execute(
            select(invoice_line).where(invoice_line.c.invoice_id == invoice_id)
            .order_by(invoice_line.c.day, invoice_line.c.child_name, invoice_line.c.unit,
                      invoice_line.c.kind))).all()
        # An invoice lists what paid it; a credit note, where it was used.
        side = (allocation.c.invoice_id if row.kind == "facture"
                else allocation.c.credit_note_id)
        allocs = (await uow.session.execute(
            select(allocation, payment.c.method, payment.c.receipt_number)
            .outerjoin(payment, payment.c.payment_id == allocation.c.payment_id)
            .where(side == invoice_id).order_by(allocation.c.allocated_at))).all()
    return {**_summary(row),
            "lines": [{"child_id": x.child_id, "child_name": x.child_name,
                       "activity_name": x.activity_name, "day": x.day, "unit": x.unit,
                       "label": x.label, "kind": x.kind, "quantity": x.quantity,
                       "unit_price_cents": x.unit_price_cents, "amount_cents": x.amount_cents}
                      for x in lines],
            "allocations": [{"payment_id": a.payment_id, "credit_note_id": a.credit_note_id,
                             "method": a.method or "avoir", "amount_cents": a.amount_cents,
                             "allocated_at": a.allocated_at,
                             "receipt_number": a.receipt_number} for a in allocs]}


# --- staff requests -------------------------------------------------------------------------------

async def start_run(uow_factory: UowFactory, regie_code: str, month: str, started_by: str,
                    now: datetime, actor: Principal | None = None
                    ) -> tuple[dict[str, Any], bool]:
    """The live run of the régie's month, or a new one. Returns (run, whether the runner must
    (re)start it)."""
    async with uow_factory() as uow:
        reg = await regie_by_code(uow, regie_code)
        live = (await uow.session.execute(_runs_query().where(
            invoicing_run.c.regie_id == reg.regie_id, invoicing_run.c.month == month,
            invoicing_run.c.status != "abandonnee"))).first()
        if live is not None:
            if live.status in ("finalisation", "finale"):
                raise Conflict(f"Le mois {_month_label(month)} de la régie {reg.name} est "
                               "clôturé : ses factures sont émises.")
            if live.status == "echec":
                # A failed computation is started again from scratch.
                await _reset_drafts(uow, live.run_id)
                row = await _transition(uow, live.run_id, "echec", "en_cours", now, reset=True)
                if actor:
                    await audit(uow, actor, "facturation.relancee", f"run:{live.run_id}",
                                before={"status": "echec"},
                                after={"status": "en_cours", "regie": regie_code,
                                       "month": month})
                await uow.commit()
                return _run_view(row), True
            return _run_view(live), live.status == "en_cours"
        # A draft of another month would bill the same sources a second time (a run bills what
        # issued invoices have not): one month in progress at a time per régie.
        other = (await uow.session.execute(select(invoicing_run.c.month).where(
            invoicing_run.c.regie_id == reg.regie_id, invoicing_run.c.month != month,
            invoicing_run.c.status.in_(("en_cours", "brouillon", "finalisation", "echec")))
            .limit(1))).scalar()
        if other is not None:
            raise Conflict(f"La facturation du mois {_month_label(other)} de la régie {reg.name} "
                           "n'est pas terminée : finalisez-la ou abandonnez-la avant de lancer "
                           f"celle du mois {_month_label(month)}.")
        run_id = uuid.uuid4()
        try:
            await uow.session.execute(insert(invoicing_run).values(
                run_id=run_id, regie_id=reg.regie_id, month=month, status="en_cours",
                families_total=0, families_done=0, invoices=0, credit_notes=0, lines=0,
                total_cents=0, anomalies="[]", started_by=_subject_id(started_by),
                started_at=now, version=1))
            if actor:
                await audit(uow, actor, "facturation.lancee", f"run:{run_id}",
                            after={"status": "en_cours", "regie": regie_code, "month": month})
            await uow.commit()
        except IntegrityError:
            # Another request started it a moment ago (uq_invoicing_run_live): that one.
            await uow.rollback()
            live = (await uow.session.execute(_runs_query().where(
                invoicing_run.c.regie_id == reg.regie_id, invoicing_run.c.month == month,
                invoicing_run.c.status != "abandonnee"))).first()
            if live is None:  # pragma: no cover - it was just there
                raise
            if live.status in ("finalisation", "finale"):
                raise Conflict(f"Le mois {_month_label(month)} de la régie {reg.name} est "
                               "clôturé : ses factures sont émises.") from None
            return _run_view(live), live.status == "en_cours"
    return await get_run(uow_factory(), run_id), True


def _subject_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


async def _transition(uow: UnitOfWork, run_id: uuid.UUID, status_from: str, status_to: str,
                      now: datetime, *, reset: bool = False, **values: Any) -> Any:
    """The conditional status change (None when the run was not in `status_from`)."""
    if reset:
        values.update(families_total=0, families_done=0, invoices=0, credit_notes=0, lines=0,
                      total_cents=0, anomalies="[]", computed_at=None, started_at=now)
    done = (await uow.session.execute(
        update(invoicing_run)
        .where(invoicing_run.c.run_id == run_id, invoicing_run.c.status == status_from)
        .values(status=status_to, version=invoicing_run.c.version + 1, **values)
        .returning(invoicing_run.c.run_id))).first()
    if done is None:
        return None
    return await _run_row(uow, run_id)


async def _reset_drafts(uow: UnitOfWork, run_id: uuid.UUID) -> None:
    drafts = select(invoice.c.invoice_id).where(invoice.c.run_id == run_id,
                                                invoice.c.status == "brouillon")
    await uow.session.execute(delete(invoice_line).where(invoice_line.c.invoice_id.in_(drafts)))
    await uow.session.execute(delete(invoice).where(invoice.c.run_id == run_id,
                                                    invoice.c.status == "brouillon"))


async def recompute(uow: UnitOfWork, run_id: uuid.UUID, now: datetime,
                    actor: Principal | None = None) -> dict[str, Any]:
    """A draft computed again from today's facts (its drafts are dropped, the runner redoes
    them)."""
    async with uow:
        await _run_row(uow, run_id)
        row = await _transition(uow, run_id, "brouillon", "en_cours", now, reset=True)
        if row is None:
            raise Conflict(NOT_DRAFT)
        await _reset_drafts(uow, run_id)
        if actor:
            await audit(uow, actor, "facturation.recalculee", f"run:{run_id}",
                        before={"status": "brouillon"}, after={"status": "en_cours"})
        await uow.commit()
    return _run_view(row)


async def discard(uow: UnitOfWork, run_id: uuid.UUID, now: datetime,
                  actor: Principal | None = None) -> None:
    async with uow:
        await _run_row(uow, run_id)
        if await _transition(uow, run_id, "brouillon", "abandonnee", now) is None:
            raise Conflict(NOT_DRAFT)
        await _reset_drafts(uow, run_id)
        if actor:
            await audit(uow, actor, "facturation.abandonnee", f"run:{run_id}",
                        before={"status": "brouillon"}, after={"status": "abandonnee"})
        await uow.commit()


async def request_finalise(uow: UnitOfWork, run_id: uuid.UUID, now: datetime,
                           actor: Principal | None = None) -> dict[str, Any]:
    """brouillon → finalisation; the runner then issues the drafts batch by batch."""
    async with uow:
        current = await _run_row(uow, run_id)
        if current.status == "finalisation":
            return _run_view(current)  # already under way: the runner carries on
        row = await _transition(uow, run_id, "brouillon", "finalisation", now)
        if row is None:
            raise Conflict(NOT_DRAFT)
        if actor:
            await audit(uow, actor, "facturation.finalisee", f"run:{run_id}",
                        before={"status": "brouillon"}, after={"status": "finalisation"})
        await uow.commit()
    return _run_view(row)


async def unfinished_runs(uow: UnitOfWork) -> list[uuid.UUID]:
    async with uow:
        return list((await uow.session.scalars(select(invoicing_run.c.run_id).where(
            invoicing_run.c.status.in_(("en_cours", "finalisation")))
            .order_by(invoicing_run.c.started_at))).all())


async def run_status(uow: UnitOfWork, run_id: uuid.UUID) -> str | None:
    async with uow:
        return await uow.session.scalar(select(invoicing_run.c.status).where(
            invoicing_run.c.run_id == run_id))


async def mark_failed(uow: UnitOfWork, run_id: uuid.UUID, now: datetime) -> None:
    async with uow:
        await _transition(uow, run_id, "en_cours", "echec", now)
        await uow.commit()


# --- computation ----------------------------------------------------------------------------------

async def compute(uow_factory: UowFactory, run_id: uuid.UUID, batch_size: int,
                  clock: Callable[[], datetime]) -> None:
    """Compute an `en_cours` run from where its progress stopped, then make it a draft."""
    async with uow_factory() as uow:
        run = (await uow.session.execute(select(invoicing_run).where(
            invoicing_run.c.run_id == run_id))).first()
        if run is None or run.status != "en_cours":
            return
        tariffs = await regie_tariffs(uow, run.regie_id)
        brackets = await load_brackets(uow)
        families = await _candidate_families(uow, run.regie_id, run.month, tariffs)
        await uow.session.execute(update(invoicing_run).where(
            invoicing_run.c.run_id == run_id, invoicing_run.c.status == "en_cours")
            .values(families_total=len(families)))
        await uow.commit()
    anomalies: list[dict[str, Any]] = json.loads(run.anomalies)
    done = min(run.families_done, len(families))
    try:
        while done < len(families):
            batch = families[done:done + batch_size]
            done += len(batch)
            found = await retry_transaction(lambda: _compute_batch(
                uow_factory(), run, batch, done, tariffs, brackets, list(anomalies), clock()))
            anomalies = found
        await retry_transaction(lambda: _finish_compute(uow_factory(), run_id, clock()))
    except _Stopped:
        log.info("run %s changed status while computed: stopped", run_id)


async def _candidate_families(uow: UnitOfWork, regie_id: uuid.UUID, month: str,
                              tariffs: Sequence[pricing.TariffDef]) -> list[uuid.UUID]:
    """Families with a fact of the window for an activity the régie prices, in a stable order
    (progress is an offset into it)."""
    since, _, last = window(month)
    activities = sorted({t.activity_name for t in tariffs})
    if not activities:
        return []
    ids: set[uuid.UUID] = set()
    for table in (reservation_copy, attendance_copy):
        ids.update((await uow.session.scalars(
            select(table.c.family_id).distinct()
            .join(period_copy, period_copy.c.period_id == table.c.period_id)
            .where(table.c.day >= since, table.c.day <= last,
                   period_copy.c.activity_name.in_(activities)))).all())
    return sorted(ids, key=str)


async def _compute_batch(uow: UnitOfWork, run: Any, families: list[uuid.UUID], done: int,
                         tariffs: Sequence[pricing.TariffDef],
                         brackets: Sequence[pricing.BracketDef], anomalies: list[dict[str, Any]],
                         now: datetime) -> list[dict[str, Any]]:
    since, month_start, last = window(run.month)
    activities = sorted({t.activity_name for t in tariffs})
    async with uow:
        s = uow.session
        # A resumed batch skips the families it already gave a draft to.
        already = set((await s.scalars(select(invoice.c.family_id).where(
            invoice.c.run_id == run.run_id, invoice.c.family_id.in_(families)))).all())
        todo = [f for f in families if f not in already]
        reservations: dict[uuid.UUID, list[pricing.ReservationFact]] = defaultdict(list)
        attendances: dict[uuid.UUID, list[pricing.AttendanceFact]] = defaultdict(list)
        names: dict[uuid.UUID, str] = {}
        profiles: dict[uuid.UUID, pricing.ProfileFacts] = {}
        billed: dict[str, int] = {}
        if todo:
            for r in (await s.execute(
                    select(reservation_copy, period_copy.c.activity_name)
                    .join(period_copy, period_copy.c.period_id == reservation_copy.c.period_id)
                    .where(reservation_copy.c.family_id.in_(todo),
                           reservation_copy.c.day >= since, reservation_copy.c.day <= last,
                           period_copy.c.activity_name.in_(activities)))).all():
                reservations[r.family_id].append(pricing.ReservationFact(
                    r.reservation_id, r.registration_id, r.child_id, r.period_id, r.group_id,
                    r.activity_name, r.day, r.unit, r.unit_label, r.status, r.cancelled_by,
                    r.within_deadline))
            for a in (await s.execute(
                    select(attendance_copy, period_copy.c.activity_name)
                    .join(period_copy, period_copy.c.period_id == attendance_copy.c.period_id)
                    .where(attendance_copy.c.family_id.in_(todo),
                           attendance_copy.c.day >= since, attendance_copy.c.day <= last,
                           period_copy.c.activity_name.in_(activities))
                    .order_by(attendance_copy.c.updated_at))).all():
                attendances[a.family_id].append(pricing.AttendanceFact(
                    a.attendance_id, a.child_id, a.period_id, a.group_id, a.activity_name, a.day,
                    a.status))
            for c in (await s.execute(select(child_copy).where(
                    child_copy.c.family_id.in_(todo)))).all():
                names[c.child_id] = f"{c.first_name} {c.last_name}"
            # The QF is the family's profile at run time, not at the date of the service: a
            # corrected QF applies to the month billed now (and to regularisations).
            for p in (await s.execute(select(financial_profile).where(
                    financial_profile.c.family_id.in_(todo)))).all():
                profiles[p.family_id] = pricing.ProfileFacts(p.qf, p.resident)
            for b in (await s.execute(select(billed_source).where(
                    billed_source.c.family_id.in_(todo),
                    billed_source.c.regie_id == run.regie_id))).all():
                billed[b.source_key] = b.amount_cents

        invoices, lines = [], []
        for family_id in todo:
            expected, found = pricing.expected_amounts(
                family_id, profiles.get(family_id), brackets, tariffs,
                reservations.get(family_id, []), attendances.get(family_id, []), names)
            drafted = pricing.draft_lines(expected, billed, month_start)
            found = pricing.concerning_the_run(found, drafted, month_start, last)
            found += pricing.regularisation_anomalies(family_id, drafted)
            if drafted:
                net = sum(x.amount_cents for x in drafted)
                invoice_id = uuid.uuid4()
                if net < 0:
                    found.append(pricing.Anomaly(
                        "avoir", family_id, "Avoir : les régularisations dépassent ce qui est "
                        "facturé ce mois ; il sera imputé sur les factures ouvertes."))
                invoices.append({
                    "invoice_id": invoice_id, "regie_id": run.regie_id, "family_id": family_id,
                    "run_id": run.run_id, "kind": "avoir" if net < 0 else "facture",
                    "number": None, "month": run.month, "issued_on": None, "due_on": None,
                    "status": "brouillon", "total_cents": abs(net), "settled_cents": 0,
                    "imported": False, "label": None, "version": 1, "created_at": now})
                lines += [{"line_id": uuid.uuid4(), "invoice_id": invoice_id,
                           "child_id": x.child_id, "child_name": x.child_name,
                           "registration_id": x.registration_id,
                           "activity_name": x.activity_name, "day": x.day, "unit": x.unit,
                           "label": x.label, "kind": x.kind, "meal": x.meal,
                           "quantity": x.quantity, "unit_price_cents": x.unit_price_cents,
                           "amount_cents": x.amount_cents, "source_key": x.source_key}
                          for x in drafted]
            anomalies += [_anomaly(a) for a in found]
        if invoices:
            await s.execute(insert(invoice), invoices)
            await s.execute(insert(invoice_line), lines)
        anomalies = _dedupe(anomalies)
        saved = (await s.execute(
            update(invoicing_run)
            .where(invoicing_run.c.run_id == run.run_id, invoicing_run.c.status == "en_cours")
            .values(families_done=done, anomalies=json.dumps(anomalies))
            .returning(invoicing_run.c.run_id))).first()
        if saved is None:
            raise _Stopped()
        await uow.commit()
    return anomalies


def _anomaly(a: pricing.Anomaly) -> dict[str, Any]:
    return {"kind": a.kind, "family_id": str(a.family_id) if a.family_id else None,
            "child_id": str(a.child_id) if a.child_id else None,
            "day": a.day.isoformat() if a.day else None, "detail": a.detail}


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for a in items:
        key = json.dumps(a, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


async def _finish_compute(uow: UnitOfWork, run_id: uuid.UUID, now: datetime) -> None:
    async with uow:
        totals = await _totals(uow, run_id)
        if await _transition(uow, run_id, "en_cours", "brouillon", now, computed_at=now,
                             **totals) is None:
            raise _Stopped()
        await uow.commit()


async def _totals(uow: UnitOfWork, run_id: uuid.UUID) -> dict[str, int]:
    row = (await uow.session.execute(select(
        func.coalesce(func.sum(case((invoice.c.kind == "facture", 1), else_=0)), 0),
        func.coalesce(func.sum(case((invoice.c.kind == "avoir", 1), else_=0)), 0),
        func.coalesce(func.sum(case((invoice.c.kind == "facture", invoice.c.total_cents),
                                    else_=-invoice.c.total_cents)), 0))
        .where(invoice.c.run_id == run_id))).one()
    lines = await uow.session.scalar(
        select(func.count()).select_from(invoice_line)
        .join(invoice, invoice.c.invoice_id == invoice_line.c.invoice_id)
        .where(invoice.c.run_id == run_id))
    return {"invoices": int(row[0]), "credit_notes": int(row[1]), "total_cents": int(row[2]),
            "lines": lines or 0}


# --- finalisation ---------------------------------------------------------------------------------

async def finalise(uow_factory: UowFactory, run_id: uuid.UUID, batch_size: int,
                   clock: Callable[[], datetime]) -> None:
    """Issue a `finalisation` run's drafts batch by batch (only those still drafts: resumable),
    then close it."""
    try:
        while await retry_transaction(lambda: _finalise_batch(uow_factory(), run_id, batch_size,
                                                              clock())):
            pass
        async with uow_factory() as uow:
            now = clock()
            if await _transition(uow, run_id, "finalisation", "finale", now,
                                 finalised_at=now) is not None:
                await uow.commit()
    except _Stopped:
        log.info("run %s changed status while finalised: stopped", run_id)


async def _claim_number(uow: UnitOfWork, regie_id: uuid.UUID, prefix: str, month: str) -> str:
    """The next number of the régie's prefix and month: one conditional UPDATE … RETURNING (the
    row is created on first use, losing quietly to a concurrent creation)."""
    key = (number_sequence.c.regie_id == regie_id, number_sequence.c.prefix == prefix,
           number_sequence.c.yymm == yymm(month))
    claim = (update(number_sequence).where(*key).values(last=number_sequence.c.last + 1)
             .returning(number_sequence.c.last))
    last = (await uow.session.execute(claim)).scalar()
    if last is None:
        await insert_if_missing(uow.session, number_sequence, {
            "regie_id": regie_id, "prefix": prefix, "yymm": yymm(month), "last": 0})
        last = (await uow.session.execute(claim)).scalar_one()
    return invoice_number(prefix, month, last)


async def _add_billed(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = uow.session.bind.dialect.name if uow.session.bind else "sqlite"
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(billed_source)
    await uow.session.execute(
        stmt.on_conflict_do_update(index_elements=[billed_source.c.source_key], set_={
            "amount_cents": billed_source.c.amount_cents + stmt.excluded.amount_cents,
            "updated_at": stmt.excluded.updated_at}), rows)


async def _finalise_batch(uow: UnitOfWork, run_id: uuid.UUID, batch_size: int,
                          now: datetime) -> bool:
    """Issue up to `batch_size` drafts; False when none was left."""
    today = now.astimezone(PARIS).date()
    async with uow:
        s = uow.session
        run = (await s.execute(select(invoicing_run).where(invoicing_run.c.run_id == run_id))
               ).first()
        if run is None or run.status != "finalisation":
            raise _Stopped()
        reg = (await s.execute(select(regie).where(regie.c.regie_id == run.regie_id))).one()
        # Invoices first, so that a credit note finds this month's invoices open too.
        drafts = (await s.execute(
            select(invoice).where(invoice.c.run_id == run_id, invoice.c.status == "brouillon")
            .order_by(invoice.c.kind.desc(), invoice.c.family_id).limit(batch_size))).all()
        if not drafts:
            return False
        by_invoice: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for x in (await s.execute(select(invoice_line.c.invoice_id, invoice_line.c.source_key,
                                         invoice_line.c.activity_name,
                                         invoice_line.c.amount_cents).where(
                invoice_line.c.invoice_id.in_([d.invoice_id for d in drafts])))).all():
            by_invoice[x.invoice_id].append(x)
        for d in drafts:
            split = activity_amounts(by_invoice[d.invoice_id], credit_note=d.kind != "facture")
            if d.kind == "facture":
                await _issue_invoice(uow, reg, d, today, now, split)
            else:
                await _issue_credit_note(uow, reg, d, today, now, split)
            await _add_billed(uow, [
                {"source_key": x.source_key, "family_id": d.family_id,
                 "regie_id": reg.regie_id, "amount_cents": x.amount_cents, "updated_at": now}
                for x in by_invoice[d.invoice_id] if x.source_key])
        await uow.commit()
    return True


def activity_amounts(lines: Sequence[Any], *,
                     credit_note: bool = False) -> list[events.ActivityAmount]:
    """The event's `by_activity` from invoice lines (rows with activity_name, amount_cents)."""
    return [events.ActivityAmount(activity_name=name, amount_cents=cents)
            for name, cents in accounting.by_activity(
                ((x.activity_name, x.amount_cents) for x in lines), credit_note=credit_note)]


async def _issue_invoice(uow: UnitOfWork, reg: Any, d: Any, today: date, now: datetime,
                         split: list[events.ActivityAmount]) -> None:
    number = await _claim_number(uow, reg.regie_id, reg.invoice_prefix, d.month)
    due_on = today + timedelta(days=reg.due_days)
    # An invoice of 0 (a month's changes cancel out) has nothing to pay.
    status = "payee" if d.total_cents == 0 else "emise"
    version = (await uow.session.execute(
        update(invoice).where(invoice.c.invoice_id == d.invoice_id,
                              invoice.c.status == "brouillon")
        .values(number=number, status=status, issued_on=today, due_on=due_on,
                version=invoice.c.version + 1)
        .returning(invoice.c.version))).scalar()
    if version is None:
        raise _Stopped()  # issued meanwhile by another runner: this batch is rolled back
    uow.publish(events.InvoiceIssued(
        invoice_id=d.invoice_id, number=number, family_id=d.family_id, regie_code=reg.code,
        regie_name=reg.name, month=d.month, issued_on=today, due_on=due_on,
        total_cents=d.total_cents, balance_cents=d.total_cents - d.settled_cents,
        regie_accounting_code=reg.accounting_code, by_activity=split),
        version=version)


async def _issue_credit_note(uow: UnitOfWork, reg: Any, d: Any, today: date,
                             now: datetime, split: list[events.ActivityAmount]) -> None:
    number = await _claim_number(uow, reg.regie_id, reg.credit_prefix, d.month)
    # Applied at once to the family's open invoices of the régie, oldest first; what is left
    # stays as the family's credit.
    made, left = await ledger.allocate_oldest_first(
        uow, d.family_id, reg.regie_id, d.total_cents, at=now, credit_note_id=d.invoice_id)
    version = (await uow.session.execute(
        update(invoice).where(invoice.c.invoice_id == d.invoice_id,
                              invoice.c.status == "brouillon")
        .values(number=number, status="emise", issued_on=today,
                settled_cents=d.total_cents - left, version=invoice.c.version + 1)
        .returning(invoice.c.version))).scalar()
    if version is None:
        raise _Stopped()
    uow.publish(events.CreditNoteIssued(
        credit_note_id=d.invoice_id, number=number, family_id=d.family_id, regie_code=reg.code,
        regie_name=reg.name, month=d.month, issued_on=today, amount_cents=d.total_cents,
        allocations=[a.event() for a in made], regie_accounting_code=reg.accounting_code,
        by_activity=split), version=version)
