"""The opening queue for bookings (docs/opening-rush.md, issue « The opening rush »).

Acknowledging is one short transaction: the period's `queue_counter` row gives the ticket its
position (INSERT … ON CONFLICT DO UPDATE SET issued = issued + 1 RETURNING), then the ticket is
inserted; nothing else is locked and no rule runs inside it. A repeat of the family's
`Idempotency-Key` finds the same ticket.

Deciding is done by the process's `Decider` (main.py): per period, one transaction per batch of
tickets in `position` order, with a fixed number of statements whatever the batch's size. Two
processes serialise on the period's advisory lock (PostgreSQL; SQLite is serial already) and read
the queued tickets after taking it, so a ticket is decided once. Inside the batch the locks follow
booking's order (registration copies and calendar shared, then the day counters in (day, group,
unit) order, then the reservations): an ordinary « Valider » running at the same time waits on a
day counter or goes first, never books a place twice. The rules of `reservations` are judged at
the ticket's reception time; capacities at decision time, in arrival order.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from marelle_chassis import context
from marelle_chassis.coalesce import Coalescer
from marelle_chassis.domain_errors import Conflict, DomainError, InvalidInput, NotFound
from marelle_chassis.queue_sql import (
    DuplicateKey,
    HotPath,
    json_rows,
    ticket_in_line,
    tickets_in_line,
)
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import booking as events
from marelle_booking.db import (
    calendar,
    day_capacity,
    day_slot,
    queue_counter,
    queue_ticket,
    registration_copy,
    reservation,
    unit_capacity,
)
from marelle_booking.domain.calendar import long_day, short_day, week_of
from marelle_booking.domain.rules import (
    ALREADY_BOOKED,
    NO_PLACES,
    NOT_MODIFIABLE,
    implied_units,
    week_only_refusal,
)
from marelle_booking.usecases.common import (
    NO_CALENDAR,
    Calendar,
    calendar_from_row,
    checked_registration,
    first_name,
    groups_of,
    load_calendar,
    period_row,
    registration_query,
)
from marelle_booking.usecases.reservations import UNKNOWN_UNIT, booking_refusal
from marelle_booking.usecases.slots import BOOKED, WAITING

KIND = "reservation"
QUEUED, DECIDED = "en_file", "traite"
REFUSED = "refusee"
ACTIVE = (BOOKED, WAITING)
BATCH = 200
# A batch also stops at this many days asked (200 tickets of a whole summer each would make one
# very long transaction).
BATCH_DAYS = 5000

TICKET_UNKNOWN = "Ce ticket est introuvable."
NO_LONGER_VALIDATED = "Cette inscription n'est plus validée : réservation impossible."


# --- acknowledging ------------------------------------------------------------------------------

def _answer(row: Any, decided: int) -> dict[str, Any]:
    queued = row.status == QUEUED
    return {
        "id": row.id, "kind": KIND, "resource_label": row.resource_label, "status": row.status,
        "position": row.position,
        "ahead": max(0, row.position - decided - 1) if queued else 0,
        "received_at": row.received_at, "decided_at": row.decided_at,
        "if_some_full": row.if_some_full, "outcomes": json.loads(row.outcomes or "[]"),
    }


def _with_decided() -> Any:
    return (select(queue_ticket, func.coalesce(queue_counter.c.decided, 0).label("decided_n"))
            .outerjoin(queue_counter, queue_counter.c.resource_id == queue_ticket.c.resource_id))


async def _by_key(uow: UnitOfWork, family_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    row = (await uow.session.execute(_with_decided().where(
        queue_ticket.c.family_id == family_id, queue_ticket.c.idempotency_key == key))).first()
    return None if row is None else _answer(row, row.decided_n)


def _precheck(cal: Calendar, reg: Any, days: list[dict[str, Any]], now: datetime) -> None:
    """Refuse at once what can only be refused (no lock, no write): an unknown unit, a day
    outside the registration, the same day and unit twice, or nothing bookable at all now."""
    seen: set[tuple[date, str]] = set()
    for item in days:
        day, unit = item["date"], item["unit"]
        if unit not in cal.unit_codes:
            raise InvalidInput(f"{UNKNOWN_UNIT} (« {unit} »)")
        if not reg.start_date <= day <= reg.end_date:
            raise InvalidInput(f"Le {long_day(day)} n'appartient pas à la période de cette "
                               f"inscription ({reg.period_label}).")
        if (day, unit) in seen:
            raise InvalidInput(f"Le {long_day(day)} est demandé deux fois pour « "
                               f"{cal.label(unit)} ».")
        seen.add((day, unit))
    if not cal.families_may_modify:
        raise Conflict(NOT_MODIFIABLE)
    reasons = [booking_refusal(cal, item["date"], now) for item in days]
    if all(reasons):
        # Every day is refused by a rule that does not depend on the places: say why now.
        raise Conflict(reasons[0] if len(set(reasons)) == 1 else
                       f"Aucun des jours demandés n'est réservable : {reasons[0]}")


_TICKET_COLUMNS = ("id", "family_id", "idempotency_key", "resource_id", "resource_label",
                   "registration_id", "child_id", "status", "if_some_full", "days",
                   "received_at", "decided_at", "outcomes")


def _upsert_counter(dialect: str, resource_id: uuid.UUID) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(queue_counter).values(resource_id=resource_id, issued=1, decided=0)
    return stmt.on_conflict_do_update(
        index_elements=[queue_counter.c.resource_id],
        set_={"issued": queue_counter.c.issued + 1},
    ).returning(queue_counter.c.issued, queue_counter.c.decided)


async def submit(uow_factory: Any, family_id: uuid.UUID, key: str, body: dict[str, Any],
                 now: datetime, *, on_commit: Callable[[], None] | None = None,
                 batches: Acknowledgements | None = None) -> tuple[dict[str, Any], bool]:
    """The ticket of this submission and whether it is new (202) or a repeat of the key (200).

    A repeat is found by the key's unique index (the INSERT conflicts, nothing is written), or,
    when the submission would now be refused (the deadline passed since), by looking the key up:
    the ticket already given stays the family's either way. `batches` (PostgreSQL): the ticket
    written with the other submissions to the period that arrived while its last statement ran
    (`Acknowledgements`); what a batch did not write is written alone."""
    ticket_id = uuid.uuid4()

    async def once() -> dict[str, Any] | None:
        # PostgreSQL: one read (the registration with its period's calendar) and one write,
        # each its own transaction, on the driver directly (chassis/queue_sql.py HotPath; each
        # round trip cost the service more CPU than PostgreSQL's work); SQLite: one unit of work.
        async with HotPath(uow_factory()) as db:
            try:
                [reg] = await db.rows(_REGISTRATION_AND_CALENDAR, family_id=family_id,
                                      registration_id=body["registration_id"]) or [None]
                checked_registration(reg)
                if reg.cal_period_id is None:
                    raise Conflict(NO_CALENDAR)
                cal = calendar_from_row(SimpleNamespace(**{
                    name: getattr(reg, f"cal_{name}") for name in calendar.c.keys()}),
                    reg.start_date, reg.end_date)
                _precheck(cal, reg, body["days"], now)
            except DomainError:
                if await db.rows(_KEY_GIVEN, family_id=family_id, key=key):
                    return None
                raise
            days = [{"date": d["date"].isoformat(), "unit": d["unit"]} for d in body["days"]]
            ticket = {
                "id": ticket_id, "family_id": family_id, "idempotency_key": key,
                "resource_id": reg.period_id,
                "resource_label": f"{reg.activity_name} — {reg.period_label}"[:250],
                "registration_id": reg.registration_id, "child_id": reg.child_id,
                "status": QUEUED, "if_some_full": body["if_some_full"],
                "days": json.dumps(days), "received_at": now, "decided_at": None,
                "outcomes": "[]"}
            if batches is None or not db.postgres:
                return await _in_line(db, ticket)
        # The read's connection is back in the pool before waiting for a batch.
        written = await batches.submit(reg.period_id, ticket)
        if written is not None:
            return _answer(SimpleNamespace(**ticket, position=written.issued), written.decided)
        async with HotPath(uow_factory()) as db:
            return await _in_line(db, ticket)

    ticket = await retry_transaction(once)
    if ticket is None:
        async with uow_factory() as uow:
            existing = await _by_key(uow, family_id, key)
        if existing is None:  # pragma: no cover — the conflicting row is committed by then
            raise Conflict("Votre demande est en cours d'enregistrement : réessayez.")
        return existing, False
    if on_commit is not None:
        on_commit()
    return ticket, True


async def _in_line(db: HotPath, ticket: dict[str, Any]) -> dict[str, Any] | None:
    """The ticket written alone at the next position; None: its key is given already."""
    try:
        if db.postgres:
            [counter] = await db.rows(_TICKET_IN_LINE,
                                      **{f"t_{k}": v for k, v in ticket.items()})
        else:
            [counter] = await db.rows(_upsert_counter("sqlite", ticket["resource_id"]))
            await db.rows(insert(queue_ticket).values(**ticket, position=counter.issued))
        await db.commit()
    except DuplicateKey:
        return None  # the same key committed meanwhile (a double click)
    return _answer(SimpleNamespace(**ticket, position=counter.issued), counter.decided)


class Acknowledgements(Coalescer[uuid.UUID, dict[str, Any], Any]):
    """The rush's acknowledgements coalesced per period (chassis/coalesce.py), on PostgreSQL:
    one `_TICKETS_IN_LINE` for the submissions that arrived while the period's previous one
    ran, its own transaction. Each gets its row (position, decided) or None (not written: its
    key given already, or the batch failed)."""

    def __init__(self, uow_factory: Any, *, max_batch: int = 200) -> None:
        super().__init__(self._write, max_batch=max_batch)
        self._uow_factory = uow_factory

    async def _write(self, period_id: uuid.UUID, items: list[dict[str, Any]]) -> list[Any]:
        rows = json_rows([{k: v for k, v in t.items() if k != "resource_id"} for t in items])
        async with HotPath(self._uow_factory()) as db:
            written = {str(r.id): r for r in await db.rows(
                _TICKETS_IN_LINE, rows=rows, resource=period_id)}
        return [written.get(str(t["id"])) for t in items]


async def get_ticket(uow: UnitOfWork, family_id: uuid.UUID, ticket_id: uuid.UUID
                     ) -> dict[str, Any]:
    async with uow:
        row = (await uow.session.execute(_with_decided().where(
            queue_ticket.c.id == ticket_id, queue_ticket.c.family_id == family_id))).first()
    if row is None:
        raise NotFound(TICKET_UNKNOWN)
    return _answer(row, row.decided_n)


async def family_tickets(uow: UnitOfWork, family_id: uuid.UUID, limit: int = 100
                         ) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(_with_decided().where(
            queue_ticket.c.family_id == family_id)
            .order_by(queue_ticket.c.received_at.desc(), queue_ticket.c.position.desc())
            .limit(limit))).all()
    return [_answer(r, r.decided_n) for r in rows]


_TICKET_IN_LINE = ticket_in_line(queue_counter, "resource_id", queue_ticket, _TICKET_COLUMNS)
_TICKETS_IN_LINE = tickets_in_line(queue_counter, "resource_id", queue_ticket,
                                   [c for c in _TICKET_COLUMNS if c != "resource_id"])
# The family's registration and its period's calendar (columns `cal_<name>`, None without one).
_REGISTRATION_AND_CALENDAR = (
    registration_query().add_columns(*(c.label(f"cal_{c.name}") for c in calendar.c))
    .outerjoin(calendar, calendar.c.period_id == registration_copy.c.period_id)
    .where(registration_copy.c.registration_id == bindparam("registration_id"),
           registration_copy.c.family_id == bindparam("family_id")))
_KEY_GIVEN = select(queue_ticket.c.id).where(queue_ticket.c.family_id == bindparam("family_id"),
                                             queue_ticket.c.idempotency_key == bindparam("key"))


# --- deciding -----------------------------------------------------------------------------------

SlotKey = tuple[uuid.UUID, str, date]  # group, unit, day (of the batch's period)


@dataclass
class SlotState:
    capacity: int
    booked: int
    last_seq: int = 0
    waiting: int = 0
    taken: int = 0  # places taken by this batch (one UPDATE at the end)

    @property
    def free(self) -> int:
        return self.capacity - self.booked - self.taken


@dataclass
class Batch:
    """What one batch writes, in bulk, at its end (its events go through `uow.publish`: the
    unit of work writes them in one multi-row INSERT at commit)."""

    uow: UnitOfWork
    period_id: uuid.UUID
    now: datetime
    reservations: list[dict[str, Any]] = field(default_factory=list)
    decided: list[dict[str, Any]] = field(default_factory=list)

    def event(self, payload: Any, ticket_id: uuid.UUID) -> None:
        # The ticket is the events' correlation: its decisions can be followed in the logs.
        token = context.correlation_id.set(str(ticket_id))
        try:
            self.uow.publish(payload, version=1)
        finally:
            context.correlation_id.reset(token)


def _lock_key(period_id: uuid.UUID) -> int:
    # A stable signed 64-bit key per period for pg_advisory_xact_lock.
    return int.from_bytes(zlib.crc32(b"booking-queue").to_bytes(4, "big")
                          + period_id.bytes[:4], "big", signed=True)


async def pending_periods(uow: UnitOfWork) -> list[uuid.UUID]:
    async with uow:
        return list((await uow.session.scalars(select(queue_counter.c.resource_id).where(
            queue_counter.c.decided < queue_counter.c.issued))).all())


async def decide_pending(uow_factory: Any, now: Callable[[], datetime], *,
                         batch_size: int = BATCH) -> int:
    """One batch of every period with queued tickets; how many tickets were decided."""
    total = 0
    for period_id in await pending_periods(uow_factory()):
        total += await retry_transaction(lambda p=period_id: decide_batch(
            uow_factory, p, now(), batch_size=batch_size))
    return total


def _item_label(first: str, cal: Calendar, day: date, unit: str) -> str:
    return f"{first} — {short_day(day)}, {cal.label(unit).lower()}"


def _outcome(child_id: uuid.UUID, label: str, status: str, detail: str,
             reference: uuid.UUID | None = None) -> dict[str, Any]:
    return {"subject_id": str(child_id), "label": label, "ok": status != REFUSED,
            "status": status, "reference_id": str(reference) if reference else None,
            "detail": detail}


async def decide_batch(uow_factory: Any, period_id: uuid.UUID, now: datetime, *,
                       batch_size: int = BATCH) -> int:
    """Decide the period's next queued tickets, in position order, in one transaction."""
    async with uow_factory() as uow:
        s = uow.session
        if s.bind.dialect.name == "postgresql":
            await s.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                            {"k": _lock_key(period_id)})
        # Read after the lock: what another process decided meanwhile is no longer queued.
        rows = (await s.execute(select(queue_ticket).where(
            queue_ticket.c.resource_id == period_id, queue_ticket.c.status == QUEUED)
            .order_by(queue_ticket.c.position).limit(batch_size))).all()
        tickets, asked = [], 0
        for row in rows:
            days = [(date.fromisoformat(d["date"]), d["unit"]) for d in json.loads(row.days)]
            if tickets and asked + len(days) > BATCH_DAYS:
                break
            tickets.append((row, days))
            asked += len(days)
        if not tickets:
            return 0
        batch = Batch(uow, period_id, now)
        await _decide(uow, batch, tickets)
        await _write(uow, batch)
        await uow.commit()
    return len(tickets)


async def _decide(uow: UnitOfWork, batch: Batch, tickets: list[tuple[Any, list]]) -> None:
    s = uow.session
    # 1. The registrations (shared lock: a cancellation waits for the batch, or went first)
    #    and the calendar (shared: a capacity change waits), as every booking does.
    reg_ids = sorted({t.registration_id for t, _ in tickets})
    regs = {r.registration_id: r for r in (await s.execute(
        registration_query().where(registration_copy.c.registration_id.in_(reg_ids))
        .order_by(registration_copy.c.registration_id)
        .with_for_update(read=True, of=registration_copy))).all()}
    cal_row = (await s.execute(select(calendar).where(calendar.c.period_id == batch.period_id)
                               .with_for_update(read=True))).first()
    cals: dict[tuple[date, date], Calendar] = {}

    def cal_of(reg: Any) -> Calendar:
        key = (reg.start_date, reg.end_date)
        if key not in cals:
            cals[key] = calendar_from_row(cal_row, *key)
        return cals[key]

    # 2. The rules that need no database, at each ticket's reception time.
    refusals: list[dict[int, str]] = []
    for t, days in tickets:
        reg = regs.get(t.registration_id)
        mine: dict[int, str] = {}
        for j, (day, unit) in enumerate(days):
            if reg is None or reg.status != "validee":
                mine[j] = NO_LONGER_VALIDATED
            elif cal_row is None:
                mine[j] = NO_CALENDAR
            elif unit not in cal_of(reg).unit_codes:
                mine[j] = UNKNOWN_UNIT
            elif (reason := booking_refusal(cal_of(reg), day, t.received_at)) is not None:
                mine[j] = reason
        refusals.append(mine)

    # 3. Lock the day counters the batch may touch (created on demand with the capacity in
    #    force), in (day, group, unit) order; then read what the locks protect.
    wanted: set[SlotKey] = set()
    for i, (t, days) in enumerate(tickets):
        reg = regs.get(t.registration_id)
        for j, (day, unit) in enumerate(days):
            if j not in refusals[i]:
                for u in implied_units(cal_of(reg).implies, unit):
                    wanted.add((reg.group_id, u, day))
    slots = await _lock_slots(uow, batch.period_id, wanted) if wanted else {}
    children = {regs[t.registration_id].child_id for t, _ in tickets if t.registration_id in regs}
    week_days: set[date] = set()
    for t, days in tickets:
        reg = regs.get(t.registration_id)
        for day, _ in days:
            week_days.add(day)
            if reg is not None and cal_row is not None and cal_of(reg).week_only:
                if (week := week_of(cal_of(reg).weeks, day)) is not None:
                    week_days.update(week.days)
    active: set[tuple[uuid.UUID, date, str]] = set()
    if children:
        active = {(r.child_id, r.day, r.unit) for r in (await s.execute(
            select(reservation.c.child_id, reservation.c.day, reservation.c.unit).where(
                reservation.c.child_id.in_(sorted(children)),
                reservation.c.day.in_(sorted(week_days)),
                reservation.c.status.in_(ACTIVE)))).all()}

    # 4. Decide every ticket in position order, in Python.
    for i, (t, days) in enumerate(tickets):
        reg = regs.get(t.registration_id)
        valid = reg is not None and reg.status == "validee" and cal_row is not None
        outcomes = _decide_ticket(batch, t, reg, cal_of(reg) if valid else None, days,
                                  refusals[i], slots, active)
        batch.decided.append({"tid": t.id, "at": batch.now, "out": json.dumps(outcomes)})
        count = {s: sum(o["status"] == s for o in outcomes) for s in (BOOKED, WAITING, REFUSED)}
        # One event per ticket: identity emails the family one summary, not one per day.
        batch.event(events.TicketDecided(
            ticket_id=t.id, family_id=t.family_id, child_id=t.child_id,
            registration_id=t.registration_id, period_label=t.resource_label,
            position=t.position, booked=count[BOOKED], waitlisted=count[WAITING],
            refused=count[REFUSED],
            lines=[events.TicketLine(label=o["label"], status=o["status"], detail=o["detail"])
                   for o in outcomes[:250]]), t.id)


async def _lock_slots(uow: UnitOfWork, period_id: uuid.UUID, wanted: set[SlotKey]
                      ) -> dict[SlotKey, SlotState]:
    s = uow.session
    groups = sorted({g for g, _, _ in wanted})
    units = sorted({u for _, u, _ in wanted})
    days = sorted({d for _, _, d in wanted})
    unit_caps = {(r.group_id, r.unit): r.capacity for r in (await s.execute(
        select(unit_capacity).where(unit_capacity.c.period_id == period_id))).all()}
    day_caps = {(r.group_id, r.unit, r.day): r.capacity for r in (await s.execute(
        select(day_capacity).where(day_capacity.c.period_id == period_id,
                                   day_capacity.c.day.in_(days)))).all()}
    new = []
    for key in sorted(wanted, key=lambda k: (k[2], k[0], k[1])):
        group, unit, day = key
        capacity = day_caps.get(key, unit_caps.get((group, unit)))
        if capacity is not None:
            new.append({"period_id": period_id, "group_id": group, "unit": unit, "day": day,
                        "capacity": capacity, "booked": 0})
    if new:
        module = postgresql if s.bind.dialect.name == "postgresql" else sqlite
        await s.execute(module.insert(day_slot).on_conflict_do_nothing(), new)
    # A superset of the wanted slots (groups × units × days involved), locked in booking's order.
    found = (await s.execute(select(day_slot).where(
        day_slot.c.period_id == period_id, day_slot.c.group_id.in_(groups),
        day_slot.c.unit.in_(units), day_slot.c.day.in_(days))
        .order_by(day_slot.c.day, day_slot.c.group_id, day_slot.c.unit)
        .with_for_update())).all()
    slots = {(r.group_id, r.unit, r.day): SlotState(r.capacity, r.booked) for r in found
             if (r.group_id, r.unit, r.day) in wanted}
    waiting = func.sum(case((reservation.c.status == WAITING, 1), else_=0))
    for r in (await s.execute(select(
            reservation.c.group_id, reservation.c.unit, reservation.c.day,
            func.max(reservation.c.seq).label("last"), waiting.label("waiting")).where(
            reservation.c.period_id == period_id, reservation.c.group_id.in_(groups),
            reservation.c.unit.in_(units), reservation.c.day.in_(days))
            .group_by(reservation.c.group_id, reservation.c.unit, reservation.c.day))).all():
        if (state := slots.get((r.group_id, r.unit, r.day))) is not None:
            state.last_seq, state.waiting = int(r.last or 0), int(r.waiting or 0)
    return slots


def _decide_ticket(batch: Batch, t: Any, reg: Any, cal: Calendar | None,
                   days: list[tuple[date, str]], refused: dict[int, str],
                   slots: dict[SlotKey, SlotState],
                   active: set[tuple[uuid.UUID, date, str]]) -> list[dict[str, Any]]:
    first = first_name(reg) if reg is not None else "L'enfant"
    child = t.child_id

    def label(day: date, unit: str) -> str:
        return (_item_label(first, cal, day, unit) if cal is not None
                else f"{first} — {short_day(day)}, {unit}")

    if cal is None:
        return [_outcome(child, label(d, u), REFUSED, refused.get(j, NO_LONGER_VALIDATED))
                for j, (d, u) in enumerate(days)]
    refused = dict(refused)
    # Week-only: the ticket's days of a unit, with those already booked, cover the week.
    if cal.week_only:
        asked: dict[tuple[str, int], set[date]] = defaultdict(set)
        for j, (day, unit) in enumerate(days):
            if j not in refused and (week := week_of(cal.weeks, day)) is not None:
                asked[(unit, week.number)].add(day)
        for j, (day, unit) in enumerate(days):
            week = week_of(cal.weeks, day)
            if j in refused or week is None:
                continue
            covered = asked[(unit, week.number)] | {
                d for d in week.days if (child, d, unit) in active}
            if not set(week.days) <= covered:
                refused[j] = week_only_refusal(week)

    # What each day would take: the unit and the implied units not already booked.
    plans: dict[int, list[SlotKey]] = {}
    planned_active = set(active)
    for j, (day, unit) in enumerate(days):
        if j in refused:
            continue
        if (child, day, unit) in active:
            refused[j] = ALREADY_BOOKED
            continue
        units = implied_units(cal.implies, unit)
        keys = [(reg.group_id, unit, day)] + [(reg.group_id, u, day) for u in units[1:]
                                              if (child, day, u) not in planned_active]
        missing = next((k for k in keys if k not in slots), None)
        if missing is not None:
            refused[j] = (NO_PLACES if missing[1] == unit else
                          f"Aucune place n'est ouverte pour « {cal.label(missing[1])} », "
                          f"compris dans « {cal.label(unit)} ».")
            continue
        plans[j] = keys
        planned_active.update((child, day, k[1]) for k in keys)

    def fits(keys: list[SlotKey], used: dict[SlotKey, int]) -> bool:
        return all(slots[k].free - used.get(k, 0) > 0 for k in keys)

    all_wait = False
    if t.if_some_full == "tout_ou_rien" and plans:
        used: dict[SlotKey, int] = defaultdict(int)
        for keys in plans.values():
            if not fits(keys, used):
                all_wait = True
                break
            for k in keys:
                used[k] += 1

    outcomes = []
    for j, (day, unit) in enumerate(days):
        what = f"{cal.label(unit).lower()} du {long_day(day)}"
        if j in refused:
            outcomes.append(_outcome(child, label(day, unit), REFUSED, refused[j]))
            continue
        if (child, day, unit) in active:
            # Booked by an earlier day of this ticket (a « journée » books its meal).
            outcomes.append(_outcome(child, label(day, unit), REFUSED, ALREADY_BOOKED))
            continue
        # What is really taken now: a waiting « journée » booked nothing else.
        keys = [k for k in plans[j] if k[1] == unit or (child, day, k[1]) not in active]
        keys += [(reg.group_id, u, day) for u in implied_units(cal.implies, unit)[1:]
                 if (child, day, u) not in active and (reg.group_id, u, day) not in keys
                 and (reg.group_id, u, day) in slots]
        main = slots[keys[0]]
        if not all_wait and main.free > 0 and not fits(keys[1:], {}):
            k = next(k for k in keys[1:] if slots[k].free <= 0)
            outcomes.append(_outcome(child, label(day, unit), REFUSED,
                                     f"Plus de place pour « {cal.label(k[1])} » ce jour-là : « "
                                     f"{cal.label(unit)} » ne peut pas être réservé."))
            continue
        if all_wait or main.free <= 0:
            main.waiting += 1
            rid = _reservation(batch, t, reg, cal, keys[0], WAITING, main, position=main.waiting)
            active.add((child, day, unit))
            why = ("Tout ou rien : un autre jour demandé est complet, " if main.free > 0
                   else "Complet : ")
            outcomes.append(_outcome(child, label(day, unit), WAITING,
                                     f"{why}{what} sur liste d'attente, position "
                                     f"{main.waiting}.", rid))
            continue
        for k in keys[1:]:
            slots[k].taken += 1
            _reservation(batch, t, reg, cal, k, BOOKED, slots[k])
            active.add((child, day, k[1]))
        main.taken += 1
        rid = _reservation(batch, t, reg, cal, keys[0], BOOKED, main)
        active.add((child, day, unit))
        outcomes.append(_outcome(child, label(day, unit), BOOKED, f"Réservé : {what}.", rid))
    return outcomes


def _reservation(batch: Batch, t: Any, reg: Any, cal: Calendar, key: SlotKey, status: str,
                 state: SlotState, position: int | None = None) -> uuid.UUID:
    """A reservation row (version 1) and its event, written in bulk at the batch's end."""
    group, unit, day = key
    state.last_seq += 1
    rid = uuid.uuid4()
    row = {"id": rid, "registration_id": reg.registration_id, "child_id": reg.child_id,
           "family_id": reg.family_id, "period_id": batch.period_id, "group_id": group,
           "unit": unit, "day": day, "status": status, "requested_at": t.received_at,
           "seq": state.last_seq, "version": 1}
    batch.reservations.append(row)
    facts = {"reservation_id": rid, "registration_id": reg.registration_id,
             "child_id": reg.child_id, "family_id": reg.family_id, "period_id": batch.period_id,
             "group_id": group, "day": day, "unit": unit, "unit_label": cal.label(unit),
             "status": status}
    if status == BOOKED:
        batch.event(events.ReservationConfirmed(**facts), t.id)
    else:
        batch.event(events.ReservationWaitlisted(**facts, position=position), t.id)
    return rid


async def _write(uow: UnitOfWork, batch: Batch) -> None:
    """The batch's writes: a handful of statements whatever its size."""
    s = uow.session
    taken = [r for r in batch.reservations if r["status"] == BOOKED]
    if taken:
        counts: dict[tuple[uuid.UUID, str, date], int] = defaultdict(int)
        for r in taken:
            counts[(r["group_id"], r["unit"], r["day"])] += 1
        # The counters are locked since step 3 and their free places checked in Python.
        await s.execute(
            update(day_slot).where(
                day_slot.c.period_id == batch.period_id,
                day_slot.c.group_id == bindparam("g"), day_slot.c.unit == bindparam("u"),
                day_slot.c.day == bindparam("d"))
            .values(booked=day_slot.c.booked + bindparam("n")),
            [{"g": g, "u": u, "d": d, "n": n} for (g, u, d), n in counts.items()])
    if batch.reservations:
        await s.execute(insert(reservation), batch.reservations)
    result = await s.execute(
        update(queue_ticket).where(queue_ticket.c.id == bindparam("tid"),
                                   queue_ticket.c.status == QUEUED)
        .values(status=DECIDED, decided_at=bindparam("at"), outcomes=bindparam("out")),
        batch.decided)
    if result.rowcount not in (-1, len(batch.decided)):
        raise Conflict("Ces tickets ont déjà été traités.")  # rolls the whole batch back
    # Every acknowledgement updates the period's counter: locked by the last statement only.
    await uow.write_events()
    await s.execute(update(queue_counter).where(queue_counter.c.resource_id == batch.period_id)
                    .values(decided=queue_counter.c.decided + len(batch.decided)))


# --- staff: the opening, live -------------------------------------------------------------------

async def opening_status(uow: UnitOfWork, period_id: uuid.UUID) -> dict[str, Any]:
    """Per group: the period's tickets received and decided, places planned and left over the
    opening days and units, requests waiting. A fixed number of queries."""
    async with uow:
        s = uow.session
        period = await period_row(uow, period_id)
        cal = await load_calendar(uow, period_id, period.start_date, period.end_date)
        counter = (await s.execute(select(queue_counter).where(
            queue_counter.c.resource_id == period_id))).first()
        unit_caps = (await s.execute(select(unit_capacity).where(
            unit_capacity.c.period_id == period_id))).all()
        day_caps = {(r.group_id, r.unit, r.day): r.capacity for r in (await s.execute(
            select(day_capacity).where(day_capacity.c.period_id == period_id))).all()}
        counters = {(r.group_id, r.unit, r.day): r for r in (await s.execute(
            select(day_slot).where(day_slot.c.period_id == period_id))).all()}
        waiting = dict((await s.execute(select(reservation.c.group_id, func.count()).where(
            reservation.c.period_id == period_id, reservation.c.status == WAITING)
            .group_by(reservation.c.group_id))).all())
    capacity: dict[uuid.UUID, int] = defaultdict(int)
    left: dict[uuid.UUID, int] = defaultdict(int)
    opening = cal.opening_days
    for cap in unit_caps:
        for day in opening:
            key = (cap.group_id, cap.unit, day)
            if (slot := counters.get(key)) is not None:
                capacity[cap.group_id] += slot.capacity
                left[cap.group_id] += max(0, slot.capacity - slot.booked)
            else:
                places = day_caps.get(key, cap.capacity)
                capacity[cap.group_id] += places
                left[cap.group_id] += places
    received = counter.issued if counter else 0
    decided = counter.decided if counter else 0
    return {
        "period_id": period_id, "label": f"{period.activity_name} — {period.label}",
        "opens_at": cal.bookings_open_at if cal is not None else None,
        "priority_opens_at": None,
        "resources": [{"id": g["group_id"], "label": g["label"],
                       "capacity": capacity.get(g["group_id"], 0), "received": received,
                       "decided": decided, "places_left": left.get(g["group_id"], 0),
                       "waitlisted": int(waiting.get(g["group_id"], 0))}
                      for g in groups_of(period)],
    }

