"""The opening queue (docs/opening-rush.md): acknowledge a submission at once with a ticket and its
place in line; decide tickets later, in batches, in arrival order per group.

Acknowledging takes no lock but the group's counter row, for one INSERT and the COMMIT; deciding
takes the group row (as every staff transition does), re-reads the queued tickets after the lock
and decides a whole batch with a fixed number of statements.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Uuid,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from marelle_chassis.coalesce import Coalescer
from marelle_chassis.domain_errors import Conflict, DomainError, InvalidInput, NotFound
from marelle_chassis.queue_sql import (
    DuplicateKey,
    HotPath,
    json_rows,
    ticket_in_line,
    tickets_in_line,
)
from marelle_chassis.read_cache import ReadCache
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import enrolment as events
from marelle_enrolment.db import (
    activity_group,
    child_copy,
    family_review,
    period,
    queue_counter,
    queue_ticket,
    registration,
)
from marelle_enrolment.domain.queue import Ask, allocate
from marelle_enrolment.domain.rules import (
    ACTIVE,
    HOLDS_A_PLACE,
    AgeBounds,
    Status,
    ValidationMode,
    Window,
    age_on,
    district_openings_from_json,
    period_window,
)
from marelle_enrolment.residency import NOT_KNOWN, Residency, residency_among, residency_of
from marelle_enrolment.usecases.common import (
    group_row,
    now,
    period_query,
    period_row,
    registration_facts,
)
from marelle_enrolment.usecases.registrations import UNREVIEWED, _clean_week

UowFactory = Callable[[], UnitOfWork]
QUEUED, DECIDED = "en_file", "traite"
DOOMED = "Aucun de ces enfants ne peut être inscrit dans ce groupe : "


# --- Acknowledging ------------------------------------------------------------------------------

async def _existing(uow: UnitOfWork, family_id: uuid.UUID, key: str) -> Any:
    """The family's ticket of that key, with its group's label and the group's decided count."""
    return (await uow.session.execute(_with_labels().where(
        queue_ticket.c.family_id == family_id,
        queue_ticket.c.idempotency_key == key))).first()


class CatalogueCache(ReadCache[tuple[Any, Any]]):
    """The group and period rows a submission is checked against, kept `ttl` seconds per
    process (chassis/read_cache.py): reading them once a second instead of twice per submission
    is most of what separates acknowledging from the bare INSERT."""

    async def get(self, uow_factory: UowFactory, group_id: uuid.UUID  # type: ignore[override]
                  ) -> tuple[Any, Any]:
        async def read() -> tuple[Any, Any]:
            async with uow_factory() as uow:
                group = await group_row(uow, group_id)
                return group, await period_row(uow, group.period_id)

        return await super().get(group_id, read)


def _window(p: Any) -> Window:
    return period_window(p)


def _early_households(p: Any) -> bool:
    """The period opens earlier to residents or to some districts: a household's residency
    matters before `opens_at` (never after: the rush to all pays no extra query)."""
    return p.residents_open_at is not None or bool(p.district_openings)


def _precheck(group: Any, p: Any, children: dict[uuid.UUID, Any], child_ids: list[uuid.UUID],
              at: datetime, returning: set[uuid.UUID], resident: Residency = NOT_KNOWN) -> None:
    """What is refused at once: unknown children, a closed window, a group none of the children
    may join. An active registration of the child is judged at the decision (an outcome)."""
    if len(children) != len(set(child_ids)):
        raise NotFound("Un de ces enfants ne fait pas partie de votre foyer (ou n'est pas "
                       "encore connu du service des inscriptions ; réessayez dans un instant).")
    if p.closed or group.closed:
        raise InvalidInput(f"Les inscriptions au groupe « {group.label} » sont fermées.")
    _window(p).check_open(at, p.label, returning=bool(returning), resident=resident.resident,
                          district=resident.district)
    refusals = _refusals(group, p, [children[c] for c in child_ids], at, returning, set(),
                         {c.family_id: resident for c in children.values()})
    if all(refusals):
        raise InvalidInput(refusals[0] if len(refusals) == 1
                           else DOOMED + " ; ".join(refusals))


async def submit(uow_factory: UowFactory, family_id: uuid.UUID, key: str, body: Any, *,
                 cache: CatalogueCache | None = None, refuse_unreviewed: bool = False,
                 notify: Callable[[], None] | None = None,
                 batches: Acknowledgements | None = None) -> tuple[dict[str, Any], bool]:
    """(ticket, created): a repeat of the family's key returns its ticket, never a second one.

    The family's children (read), then the place in line: on PostgreSQL one statement, its own
    transaction, bumps the group's counter and inserts the ticket (the counter row locked for
    that statement only); on SQLite the same two writes in one transaction. The key's unique
    index answers a repeat: the write fails whole (no position consumed) and the ticket already
    given is read back.

    `batches` (PostgreSQL): the rush's submissions to a group coalesced, one statement for
    those that arrived while the previous one ran; what a batch did not write (a refusal, a key
    already given, a failed batch) goes the one-by-one way below, which words the answer."""
    child_ids = list(dict.fromkeys(body.child_ids))
    cache = cache or CatalogueCache(ttl=0)
    week = json.dumps(_clean_week([d.model_dump() for d in body.typical_week]))

    async def acknowledge() -> dict[str, Any] | None:
        at = now()
        group, p = await cache.get(uow_factory, body.group_id)
        # Families registered last time, residents and districts may come early: asked only
        # before the opening to all (the rush to all pays no extra query).
        returning: set[uuid.UUID] = set()
        resident = NOT_KNOWN
        if at < p.opens_at and (p.priority_opens_at or _early_households(p)):
            async with uow_factory() as uow:
                if p.priority_opens_at:
                    returning = await _returning_children(uow, child_ids, p.activity_id, p.id)
                if _early_households(p):
                    resident = await residency_of(uow, family_id)
        ticket = {
            "id": uuid.uuid4(), "family_id": family_id, "idempotency_key": key,
            "group_id": group.id, "period_id": group.period_id,
            "child_ids": json.dumps([str(c) for c in child_ids]), "typical_week": week,
            "memo": body.memo.strip()[:2000], "if_some_full": body.if_some_full,
            "status": QUEUED, "received_at": at, "decided_at": None, "outcomes": "[]",
        }
        values = {f"t_{k}": v for k, v in ticket.items()}
        rush = _open_to_all(group, p, at)
        born_after, born_until = AgeBounds(group.min_age, group.max_age).birth_dates(
            p.start_date)
        batch_key = (group.id, group.period_id, born_after, born_until, refuse_unreviewed)
        if rush and batches is not None:
            # The rush to all, on PostgreSQL: with the other submissions to the group that
            # arrived while its last statement ran, in one statement (`Acknowledgements`).
            written = await batches.submit(batch_key, (ticket, child_ids))
            if written is not None:
                return _acknowledged(ticket, written, group)
        async with HotPath(uow_factory()) as db:
            try:
                if db.postgres and rush:
                    # The rush to all: the household's checks and the ticket in ONE statement
                    # (each round trip cost the service more CPU than PostgreSQL's work,
                    # bench/rush.py), the batch's with this one row. Nothing written: a
                    # refusal or a repeat, answered by the path below.
                    [written] = await _write_if_allowed(db, batch_key, [(ticket, child_ids)])
                    if written is not None:
                        return _acknowledged(ticket, written, group)
                # Otherwise two reads, then the statement that writes the ticket, each its own
                # transaction on PostgreSQL (the counter row locked for that statement only).
                if refuse_unreviewed and any(r.needs_review for r in await db.rows(
                        _NEEDS_REVIEW, family_id=family_id)):
                    raise Conflict(UNREVIEWED, raison="foyer_a_verifier")
                children = {c.child_id: c for c in await db.rows(
                    _CHILDREN_PG if db.postgres else _CHILDREN, family_id=family_id,
                    child_ids=child_ids)}
                try:
                    _precheck(group, p, children, child_ids, at, returning, resident)
                except DomainError:
                    # A repeat of a key already given keeps its ticket, even after the window.
                    if await db.rows(_KEY_GIVEN, family_id=family_id, key=key):
                        return None
                    raise
                if db.postgres:
                    [counter] = await db.rows(_TICKET_IN_LINE, **values)
                else:
                    [counter] = await db.rows(_take_position(group.id))
                    await db.rows(insert(queue_ticket).values(**ticket, position=counter.issued))
                await db.commit()
            except DuplicateKey:
                return None  # the same key (a refresh, a double click): theirs is the ticket
        return _acknowledged(ticket, counter, group)

    ticket = await retry_transaction(acknowledge)
    if ticket is None:
        uow = uow_factory()
        async with uow:
            row = await _existing(uow, family_id, key)
        if row is None:  # pragma: no cover — the conflicting row is committed by then
            raise Conflict("Votre demande est en cours d'enregistrement : réessayez.")
        return _ticket_view(row, row.group_label, row.decided), False
    if notify:
        notify()
    return _ticket_view(SimpleNamespace(**ticket), ticket["group_label"], ticket["decided"]), True


_TICKET_COLUMNS = ("id", "family_id", "idempotency_key", "group_id", "period_id", "child_ids",
                   "typical_week", "memo", "if_some_full", "status", "received_at", "decided_at",
                   "outcomes")
_TICKET_IN_LINE = ticket_in_line(queue_counter, "group_id", queue_ticket, _TICKET_COLUMNS)
_CHILDREN = select(child_copy).where(
    child_copy.c.family_id == bindparam("family_id"),
    child_copy.c.child_id.in_(bindparam("child_ids", expanding=True)))
# The same on the driver directly (HotPath): one array parameter rather than one per child.
_CHILDREN_PG = select(child_copy).where(
    child_copy.c.family_id == bindparam("family_id"),
    child_copy.c.child_id == any_(bindparam("child_ids", type_=postgresql.ARRAY(Uuid))))
_KEY_GIVEN = select(queue_ticket.c.id).where(queue_ticket.c.family_id == bindparam("family_id"),
                                             queue_ticket.c.idempotency_key == bindparam("key"))
_NEEDS_REVIEW = select(family_review.c.needs_review).where(
    family_review.c.family_id == bindparam("family_id"))


# The rush's acknowledgement, for one submission or for those to one group that arrived while
# its last statement ran (`Acknowledgements`), with what `_precheck` asks of the household's
# rows, per row: every child asked is the family's, one of them at least is of the group's ages
# (born after `born_after`, until `born_until`) and, with `refuse_unreviewed`, the household is
# not awaiting review (the rest of `_precheck`, closed and the window, is judged before, in
# Python). The rows that pass get the next positions in their order of arrival, the counter
# bumped once (chassis/queue_sql.py).
_TICKETS_IF_ALLOWED = tickets_in_line(
    queue_counter, "group_id", queue_ticket,
    [c for c in _TICKET_COLUMNS if c != "group_id"], extra={"kids": "uuid[]"}, gate="""
    (SELECT count(*) FROM child_copy c
     WHERE c.family_id = a.family_id AND c.child_id = ANY(a.kids)) = cardinality(a.kids)
    AND EXISTS (SELECT 1 FROM child_copy c
                WHERE c.family_id = a.family_id AND c.child_id = ANY(a.kids)
                  AND c.birth_date > CAST(:born_after AS date)
                  AND c.birth_date <= CAST(:born_until AS date))
    AND NOT EXISTS (SELECT 1 FROM family_review f
                    WHERE f.family_id = a.family_id AND f.needs_review
                      AND CAST(:refuse_unreviewed AS boolean))""").bindparams(
    bindparam("born_after", type_=Date), bindparam("born_until", type_=Date),
    bindparam("refuse_unreviewed", type_=Boolean))

BatchKey = tuple[uuid.UUID, uuid.UUID, date, date, bool]  # group, period, ages, unreviewed


class Acknowledgements(Coalescer[BatchKey, tuple[dict[str, Any], list[uuid.UUID]], Any]):
    """The rush's acknowledgements coalesced per group (chassis/coalesce.py), on PostgreSQL: one
    `_TICKETS_IF_ALLOWED` for the submissions that arrived while the group's previous one ran,
    its own transaction. Each gets its row (position, decided) or None (not written)."""

    def __init__(self, uow_factory: UowFactory, *, max_batch: int = 200) -> None:
        super().__init__(self._write, max_batch=max_batch)
        self._uow_factory = uow_factory

    async def _write(self, key: BatchKey, items: list[tuple[dict[str, Any], list[uuid.UUID]]]
                     ) -> list[Any]:
        async with HotPath(self._uow_factory()) as db:
            return await _write_if_allowed(db, key, items)


async def _write_if_allowed(db: HotPath, key: BatchKey,
                            items: list[tuple[dict[str, Any], list[uuid.UUID]]]) -> list[Any]:
    """`_TICKETS_IF_ALLOWED` for these submissions (ticket, children asked): per submission its
    row (position, decided), or None when not written (refused by the checks, key given)."""
    group_id, _, born_after, born_until, refuse_unreviewed = key
    rows = json_rows([{**{k: v for k, v in t.items() if k != "group_id"}, "kids": kids}
                      for t, kids in items])
    written = {str(r.id): r for r in await db.rows(
        _TICKETS_IF_ALLOWED, rows=rows, resource=group_id, born_after=born_after,
        born_until=born_until, refuse_unreviewed=refuse_unreviewed)}
    return [written.get(str(t["id"])) for t, _ in items]


def _open_to_all(group: Any, p: Any, at: datetime) -> bool:
    """Submissions are open to every household at `at`: no priority to ask about."""
    return not (p.closed or group.closed) and _window(p).is_open(at)


def _acknowledged(ticket: dict[str, Any], counter: Any, group: Any) -> dict[str, Any]:
    return {**ticket, "position": counter.issued, "decided": counter.decided,
            "group_label": group.label}


def _take_position(group_id: uuid.UUID) -> Any:
    """SQLite: the group's counter, created on the first ticket, bumped by one."""
    return (sqlite.insert(queue_counter).values(group_id=group_id, issued=1, decided=0)
            .on_conflict_do_update(index_elements=[queue_counter.c.group_id],
                                   set_={"issued": queue_counter.c.issued + 1})
            .returning(queue_counter.c.issued, queue_counter.c.decided))


# --- Reading ------------------------------------------------------------------------------------

def _ticket_view(t: Any, group_label: str, decided: int) -> dict[str, Any]:
    queued = t.status == QUEUED
    return {
        "id": t.id, "kind": "inscription", "resource_label": group_label,
        "status": t.status, "position": t.position,
        "ahead": max(0, t.position - decided - 1) if queued else 0,
        "received_at": t.received_at, "decided_at": t.decided_at,
        "if_some_full": t.if_some_full, "outcomes": json.loads(t.outcomes or "[]"),
    }


def _with_labels() -> Any:
    return (select(queue_ticket, activity_group.c.label.label("group_label"),
                   func.coalesce(queue_counter.c.decided, 0).label("decided"))
            .join(activity_group, activity_group.c.id == queue_ticket.c.group_id)
            .outerjoin(queue_counter, queue_counter.c.group_id == queue_ticket.c.group_id))


async def get_ticket(uow: UnitOfWork, family_id: uuid.UUID, ticket_id: uuid.UUID
                     ) -> dict[str, Any]:
    async with uow:
        r = (await uow.session.execute(_with_labels().where(
            queue_ticket.c.id == ticket_id, queue_ticket.c.family_id == family_id))).first()
    if r is None:
        raise NotFound("Ce ticket est introuvable.")
    return _ticket_view(r, r.group_label, r.decided)


async def family_tickets(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(_with_labels().where(
            queue_ticket.c.family_id == family_id).order_by(
                queue_ticket.c.received_at.desc()).limit(100))).all()
    return [_ticket_view(r, r.group_label, r.decided) for r in rows]


async def opening_status(uow: UnitOfWork, period_id: uuid.UUID) -> dict[str, Any]:
    """Staff's live view of an opening: per group, tickets received and decided, places left,
    waiting list. Three queries whatever the number of groups."""
    async with uow:
        p = await period_row(uow, period_id)
        groups = (await uow.session.execute(
            select(activity_group, func.coalesce(queue_counter.c.issued, 0).label("issued"),
                   func.coalesce(queue_counter.c.decided, 0).label("decided"))
            .outerjoin(queue_counter, queue_counter.c.group_id == activity_group.c.id)
            .where(activity_group.c.period_id == period_id)
            .order_by(activity_group.c.min_age, activity_group.c.label))).all()
        counts = {(g, s): n for g, s, n in (await uow.session.execute(
            select(registration.c.group_id, registration.c.status, func.count())
            .where(registration.c.period_id == period_id)
            .group_by(registration.c.group_id, registration.c.status))).all()}
    resources = []
    for g in groups:
        taken = sum(counts.get((g.id, s.value), 0) for s in HOLDS_A_PLACE)
        resources.append({
            "id": g.id, "label": g.label, "capacity": g.capacity, "received": g.issued,
            "decided": g.decided, "places_left": max(0, g.capacity - taken),
            "waitlisted": counts.get((g.id, Status.WAITLISTED.value), 0)})
    return {"period_id": p.id, "label": p.label, "opens_at": p.opens_at,
            "priority_opens_at": p.priority_opens_at, "residents_open_at": p.residents_open_at,
            "resources": resources}


# --- Deciding -----------------------------------------------------------------------------------

async def _returning_children(uow: UnitOfWork, child_ids: list[uuid.UUID], activity_id: uuid.UUID,
                              period_id: uuid.UUID) -> set[uuid.UUID]:
    """Children with a validated registration on an earlier period of the same activity."""
    return set((await uow.session.scalars(
        select(registration.c.child_id).join(period, period.c.id == registration.c.period_id)
        .where(registration.c.child_id.in_(child_ids), period.c.activity_id == activity_id,
               period.c.id != period_id,
               registration.c.status == Status.VALIDATED.value).distinct())).all())


async def _active_children(uow: UnitOfWork, child_ids: list[uuid.UUID], period_id: uuid.UUID
                           ) -> set[uuid.UUID]:
    return set((await uow.session.scalars(select(registration.c.child_id).where(
        registration.c.child_id.in_(child_ids), registration.c.period_id == period_id,
        registration.c.status.in_([s.value for s in ACTIVE])))).all())


def _refusals(group: Any, p: Any, children: list[Any], at: datetime, returning: set[uuid.UUID],
              active: set[uuid.UUID], residency: dict[uuid.UUID, Residency] | None = None
              ) -> list[str | None]:
    """The rules' French reason per child (None: may take a place). `residency`: what billing
    told of the households (living in the city, district)."""
    window = _window(p)
    residency = residency or {}
    bounds = AgeBounds(group.min_age, group.max_age)
    out: list[str | None] = []
    for child in children:
        reason = None
        if child is None:
            reason = "Cet enfant ne fait plus partie du foyer."
        elif not window.is_open(at, child.child_id in returning,
                                (home := residency.get(child.family_id, NOT_KNOWN)).resident,
                                home.district):
            reason = (f"Les inscriptions pour « {p.label} » n'étaient pas ouvertes à "
                      f"{child.first_name} à l'heure de la demande.")
        elif not bounds.fits(child.birth_date, p.start_date):
            try:
                bounds.check(child.first_name, child.birth_date, p.start_date, group.label)
            except InvalidInput as exc:
                reason = exc.detail
        elif child.child_id in active:
            reason = (f"{child.first_name} a déjà une inscription en cours ou en attente sur "
                      "cette période.")
        out.append(reason)
    return out


def _outcome(child: Any, child_id: uuid.UUID, status: Status | None, reason: str | None,
             reg_id: uuid.UUID | None, waitlist_position: int | None) -> dict[str, Any]:
    name = child.first_name if child is not None else "?"
    detail = {
        Status.VALIDATED: f"Inscription de {name} validée.",
        Status.PENDING: f"Demande d'inscription de {name} transmise à la structure, "
                        "place réservée.",
        Status.WAITLISTED: f"Le groupe est complet : {name} est inscrit(e) sur la liste "
                           f"d'attente, en position {waitlist_position}.",
    }.get(status, reason or "") if status else (reason or "")
    return {"subject_id": str(child_id), "label": name, "ok": status is not None,
            "status": status.value if status else Status.REFUSED.value,
            "reference_id": str(reg_id) if reg_id else None, "detail": detail}


async def _group_with_work(uow: UnitOfWork) -> uuid.UUID | None:
    async with uow:
        return await uow.session.scalar(
            select(queue_ticket.c.group_id).where(queue_ticket.c.status == QUEUED)
            .order_by(queue_ticket.c.received_at).limit(1))


async def _decide_batch(uow: UnitOfWork, group_id: uuid.UUID, batch: int) -> int:
    async with uow:
        group = await group_row(uow, group_id, lock=True)
        tickets = (await uow.session.execute(
            select(queue_ticket).where(queue_ticket.c.group_id == group_id,
                                       queue_ticket.c.status == QUEUED)
            .order_by(queue_ticket.c.position).limit(batch))).all()
        if not tickets:
            return 0
        p = await period_row(uow, group.period_id)
        asked = {t.id: [uuid.UUID(c) for c in json.loads(t.child_ids)] for t in tickets}
        all_children = list({c for ids in asked.values() for c in ids})
        children = {c.child_id: c for c in (await uow.session.execute(select(child_copy).where(
            child_copy.c.child_id.in_(all_children)))).all()}
        returning = await _returning_children(uow, all_children, p.activity_id, p.id)
        # Residency and district matter only for tickets received before the opening to all.
        early = [t.family_id for t in tickets if t.received_at < p.opens_at]
        residency = (await residency_among(uow, list(set(early)))
                     if _early_households(p) and early else {})
        active = await _active_children(uow, all_children, p.id)
        taken = int(await uow.session.scalar(select(func.count()).where(
            registration.c.group_id == group_id,
            registration.c.status.in_([s.value for s in HOLDS_A_PLACE]))) or 0)
        last_rank = await uow.session.scalar(select(func.max(registration.c.waitlist_rank))
                                             .where(registration.c.group_id == group_id)) or 0
        waiting = int(await uow.session.scalar(select(func.count()).where(
            registration.c.group_id == group_id,
            registration.c.status == Status.WAITLISTED.value)) or 0)
        mode = ValidationMode(p.validation_mode)
        decided_at = now()
        new_regs: list[dict[str, Any]] = []
        ticket_updates: list[dict[str, Any]] = []
        for t in tickets:
            ids = asked[t.id]
            # A child of another household by now (moved out) is refused, never registered.
            kids = [children.get(c) if children.get(c) is not None
                    and children[c].family_id == t.family_id else None for c in ids]
            reasons = _refusals(group, p, kids, t.received_at, returning, active, residency)
            statuses = allocate([Ask(r) for r in reasons], max(0, group.capacity - taken),
                                mode, t.if_some_full)
            outcomes = []
            for child_id, kid, status, reason in zip(ids, kids, statuses, reasons, strict=True):
                if status is None:
                    outcomes.append(_outcome(kid, child_id, None, reason, None, None))
                    continue
                rank = position = None
                if status is Status.WAITLISTED:
                    last_rank += 1
                    waiting += 1
                    rank, position = last_rank, waiting
                else:
                    taken += 1
                reg_id = uuid.uuid4()
                active.add(child_id)
                new_regs.append({
                    "id": reg_id, "child_id": child_id, "family_id": t.family_id,
                    "period_id": p.id, "group_id": group_id, "status": status.value,
                    "typical_week": t.typical_week, "memo": t.memo, "requested_at": t.received_at,
                    "waitlist_rank": rank,
                    "decided_at": decided_at if status is Status.VALIDATED else None,
                    # requested, then validated / waitlisted; pending staff: requested only
                    "version": 1 if status is Status.PENDING else 2, "_position": position})
                outcomes.append(_outcome(kid, child_id, status, None, reg_id, position))
            ticket_updates.append({"t_id": t.id, "t_outcomes": json.dumps(outcomes,
                                                                            ensure_ascii=False)})
        if new_regs:
            await uow.session.execute(insert(registration), [
                {k: v for k, v in r.items() if not k.startswith("_")} for r in new_regs])
        for r in new_regs:
            row = SimpleNamespace(**r)
            facts = registration_facts(row, p, group.label)
            uow.publish(events.RegistrationRequested(**facts), version=1)
            if r["status"] == Status.VALIDATED.value:
                uow.publish(events.RegistrationValidated(**facts), version=2)
            elif r["status"] == Status.WAITLISTED.value:
                uow.publish(events.RegistrationWaitlisted(**facts, position=r["_position"]),
                            version=2)
        # Conditional on the status: a ticket is decided once, whatever another process did.
        done = await uow.session.execute(
            update(queue_ticket)
            .where(queue_ticket.c.id == bindparam("t_id"), queue_ticket.c.status == QUEUED)
            .values(status=DECIDED, decided_at=decided_at, outcomes=bindparam("t_outcomes")),
            ticket_updates)
        if done.rowcount not in (-1, len(ticket_updates)):
            raise Conflict("tickets decided concurrently")  # rolls the batch back; retried
        # Every acknowledgement updates the group's counter: locked by the last statement only.
        await uow.write_events()
        await uow.session.execute(update(queue_counter).where(
            queue_counter.c.group_id == group_id).values(
                decided=queue_counter.c.decided + len(tickets)))
        await uow.commit()
    return len(tickets)


async def decide_once(uow_factory: UowFactory, batch: int = 500) -> int:
    """Decide one batch of the group whose oldest ticket waits the longest; 0 when idle."""
    group_id = await _group_with_work(uow_factory())
    if group_id is None:
        return 0
    return await retry_transaction(lambda: _decide_batch(uow_factory(), group_id, batch))


# --- Preparing: the openings a family may prepare a request for ---------------------------------

async def family_openings(uow: UnitOfWork, family_id: uuid.UUID, *, horizon_days: int = 60
                          ) -> list[dict[str, Any]]:
    """Periods open now or opening within `horizon_days`, with the groups each child of the
    household fits (age at the period's start). Three queries whatever their number."""
    at = now()
    async with uow:
        periods = (await uow.session.execute(period_query().where(
            period.c.closed.is_(False), period.c.closes_at > at,
            period.c.opens_at <= at + timedelta(days=horizon_days))
            .order_by(period.c.opens_at, period.c.label))).all()
        groups = (await uow.session.execute(select(activity_group).where(
            activity_group.c.period_id.in_([p.id for p in periods]),
            activity_group.c.closed.is_(False))
            .order_by(activity_group.c.min_age, activity_group.c.label))).all()
        kids = (await uow.session.execute(select(child_copy).where(
            child_copy.c.family_id == family_id).order_by(child_copy.c.birth_date))).all()
        # The household's district: read only when some period opens earlier to districts.
        home = (await residency_of(uow, family_id)
                if any(p.district_openings for p in periods) else NOT_KNOWN)
    items = []
    for p in periods:
        own = next((d for d in district_openings_from_json(p.district_openings)
                    if d.district == home.district), None) if home.district else None
        opens = min(filter(None, [p.opens_at, p.priority_opens_at, p.residents_open_at,
                                  own.opens_at if own else None]))
        out_groups = []
        for g in (g for g in groups if g.period_id == p.id):
            fitting = [k.child_id for k in kids
                       if g.min_age <= age_on(k.birth_date, p.start_date) <= g.max_age]
            if fitting:
                out_groups.append({"group_id": g.id, "label": g.label, "min_age": g.min_age,
                                   "max_age": g.max_age, "capacity": g.capacity,
                                   "child_ids": fitting})
        if out_groups:
            items.append({"period_id": p.id, "facility_name": p.facility_name,
                          "activity_name": p.activity_name, "label": p.label,
                          "start_date": p.start_date, "end_date": p.end_date,
                          "opens_at": p.opens_at, "priority_opens_at": p.priority_opens_at,
                          "residents_open_at": p.residents_open_at,
                          "district_label": own.label if own else None,
                          "district_opens_at": own.opens_at if own else None,
                          "closes_at": p.closes_at, "open_now": opens <= at,
                          "groups": out_groups})
    return items
