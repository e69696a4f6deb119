"""GDPR: a family's data export (right of access), its deletion request and the anonymisation
that follows once staff accept it (right to erasure), and the log of staff reads of a household.

Anonymising keeps the rows (ids, dates, statuses: other services' accounting records point at
them) and erases what identifies a person: names become « Anonyme », birth dates keep only their
year (1 January), contact details, addresses and phones are erased, the account is disabled and
its sessions end. One `identity.household_anonymised` event, at the household's new version,
tells every copy to do the same.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, update

from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_identity.db import (
    account,
    deletion_request,
    email_message,
    household_read,
    one_time_token,
    refresh_token,
)
from marelle_identity.db import contact_change_request as ccr
from marelle_identity.db import family as family_t
from marelle_identity.db import person as person_t
from marelle_identity.usecases import sessions
from marelle_identity.usecases.common import (
    audit,
    bump_version,
    family_row,
    now,
    person_rows,
)

ANONYMOUS = "Anonyme"
PENDING, ACCEPTED, REFUSED = "en_attente", "acceptee", "refusee"
READS_SHOWN = 20

ALREADY_PENDING = ("Une demande de suppression de vos données est déjà en attente : la "
                   "structure vous répondra.")
ALREADY_ANONYMISED = "Les données de ce foyer ont déjà été effacées."
REASON_NEEDED = "Indiquez le motif du refus : il est communiqué à la famille."
ALREADY_DECIDED = "Cette demande a déjà été traitée."


# --- export -------------------------------------------------------------------------------------

def _sessions(tokens: list[Any], at: Any) -> list[dict[str, Any]]:
    """One entry per login (its refresh tokens' chain), dates only: never a token or a hash."""
    chains: dict[Any, list[Any]] = {}
    for t in tokens:
        chains.setdefault(t.session_id or t.token_hash, []).append(t)
    out = []
    for chain in chains.values():
        live = [t for t in chain if t.revoked_at is None and t.expires_at > at]
        out.append({"started_at": min(t.created_at for t in chain),
                    "last_renewed_at": max(t.created_at for t in chain),
                    "expires_at": max(t.expires_at for t in chain), "ended": not live})
    return sorted(out, key=lambda s: s["started_at"], reverse=True)


async def export(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    """Everything identity holds on the household, for the household itself."""
    at = now()
    async with uow:
        row = await family_row(uow, family_id)
        people = await person_rows(uow, family_id)
        accounts = (await uow.session.execute(
            select(account).where(account.c.family_id == family_id))).all()
        tokens = (await uow.session.execute(
            select(refresh_token.c.token_hash, refresh_token.c.session_id,
                   refresh_token.c.created_at, refresh_token.c.expires_at,
                   refresh_token.c.revoked_at)
            .where(refresh_token.c.account_id.in_([a.id for a in accounts])))).all()
        changes = (await uow.session.execute(select(ccr).where(ccr.c.family_id == family_id)
                                             .order_by(ccr.c.created_at))).all()
        deletions = (await uow.session.execute(
            select(deletion_request).where(deletion_request.c.family_id == family_id)
            .order_by(deletion_request.c.created_at))).all()
    requests = [{"kind": "coordonnees", "status": r.status, "created_at": r.created_at,
                 "decided_at": r.decided_at, "reason": r.reason,
                 "changes": json.loads(r.changes)} for r in changes]
    requests += [{"kind": "suppression", "status": d.status, "created_at": d.created_at,
                  "decided_at": d.decided_at, "reason": d.decision_reason or d.reason,
                  "changes": {}} for d in deletions]
    return {
        "exported_at": at,
        "household": {"id": row.id, "name": row.name, "email": row.email,
                      "home_phone": row.home_phone, "beneficiary_name": row.beneficiary_name,
                      "beneficiary_scheme": row.beneficiary_scheme,
                      "beneficiary_number": row.beneficiary_number,
                      "needs_review": row.needs_review, "created_at": row.created_at},
        "persons": [{"id": p.id, "role": p.role, "rank": p.rank, "first_name": p.first_name,
                     "last_name": p.last_name, "birth_date": p.birth_date, "sex": p.sex,
                     "mobile_phone": p.mobile_phone, "work_phone": p.work_phone,
                     "created_at": p.created_at, "updated_at": p.updated_at} for p in people],
        "accounts": [{"email": a.email, "role": "famille", "status": a.status,
                      "created_at": a.created_at, "activated_at": a.activated_at}
                     for a in accounts],
        "requests": sorted(requests, key=lambda r: r["created_at"]),
        "sessions": _sessions(tokens, at),
    }


# --- deletion requests --------------------------------------------------------------------------

def deletion_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "family_id": row.family_id, "status": row.status, "reason": row.reason,
            "created_at": row.created_at, "decided_at": row.decided_at,
            "decision_reason": row.decision_reason}


async def _deletion(uow: UnitOfWork, request_id: uuid.UUID) -> Any:
    return (await uow.session.execute(
        select(deletion_request).where(deletion_request.c.id == request_id))).first()


async def request_deletion(uow: UnitOfWork, family_id: uuid.UUID,
                           reason: str | None) -> dict[str, Any]:
    reason = (reason or "").strip() or None
    async with uow:
        # The household's row first, locked until the commit: two requests sent at once queue
        # here and the second sees the first (the partial unique index is the last guard).
        await bump_version(uow, family_id)
        if (await family_row(uow, family_id)).anonymised_at is not None:
            raise Conflict(ALREADY_ANONYMISED)
        pending = await uow.session.scalar(select(deletion_request.c.id).where(
            deletion_request.c.family_id == family_id, deletion_request.c.status == PENDING))
        if pending is not None:
            raise Conflict(ALREADY_PENDING)
        request_id = uuid.uuid4()
        await uow.session.execute(insert(deletion_request).values(
            id=request_id, family_id=family_id, status=PENDING, reason=reason,
            created_at=now()))
        row = await _deletion(uow, request_id)
        await uow.commit()
    return deletion_view(row)


async def family_deletions(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    async with uow:
        await family_row(uow, family_id)
        rows = (await uow.session.execute(
            select(deletion_request).where(deletion_request.c.family_id == family_id)
            .order_by(deletion_request.c.created_at.desc()))).all()
    return [deletion_view(r) for r in rows]


async def staff_deletions(uow: UnitOfWork, status: str = PENDING) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(
            select(deletion_request, family_t.c.name.label("family_name"))
            .join(family_t, family_t.c.id == deletion_request.c.family_id)
            .where(deletion_request.c.status == status)
            .order_by(deletion_request.c.created_at))).all()
    return [{**deletion_view(r), "family_name": r.family_name} for r in rows]


async def decide_deletion(uow: UnitOfWork, actor: Principal, request_id: uuid.UUID, accept: bool,
                          reason: str | None) -> dict[str, Any]:
    """Administrators only (the route checks it). Accepting anonymises the household in the
    same transaction; either way the decision is in the audit log."""
    reason = (reason or "").strip() or None
    if not accept and not reason:
        raise InvalidInput(REASON_NEEDED, erreurs=[{"champ": "reason", "message": REASON_NEEDED}])
    async with uow:
        row = await _deletion(uow, request_id)
        if row is None:
            raise NotFound("Cette demande de suppression est introuvable.")
        if row.status != PENDING:
            raise Conflict(ALREADY_DECIDED)
        decided_by = uuid.UUID(actor.subject)
        # Compare-and-set: of two administrators deciding at once, one wins.
        done = await uow.session.execute(update(deletion_request).where(
            deletion_request.c.id == request_id, deletion_request.c.status == PENDING).values(
            status=ACCEPTED if accept else REFUSED, decided_at=now(), decided_by=decided_by,
            decision_reason=reason))
        if done.rowcount != 1:
            raise Conflict(ALREADY_DECIDED)
        if accept:
            erased = await anonymise(uow, row.family_id)
            await audit(uow, actor, "foyer.anonymise", f"foyer:{row.family_id}",
                        request_id=request_id, reason=reason, **erased)
        else:
            await audit(uow, actor, "suppression.refusee", f"foyer:{row.family_id}",
                        request_id=request_id, reason=reason)
        result = await _deletion(uow, request_id)
        await uow.commit()
    return deletion_view(result)


def _year_only(born: date | None) -> date | None:
    return date(born.year, 1, 1) if born else None


async def anonymise(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    """Erases the household in the caller's transaction and publishes the event; returns what
    was done (for the audit log, without any of the erased values)."""
    version = await bump_version(uow, family_id)  # locks the household until the commit
    family = await family_row(uow, family_id)
    if family.anonymised_at is not None:
        raise Conflict(ALREADY_ANONYMISED)
    at = now()
    people = await person_rows(uow, family_id)
    for p in people:
        await uow.session.execute(update(person_t).where(person_t.c.id == p.id).values(
            first_name=ANONYMOUS, last_name=ANONYMOUS, birth_date=_year_only(p.birth_date),
            mobile_phone=None, work_phone=None, updated_at=at))
    await uow.session.execute(update(family_t).where(family_t.c.id == family_id).values(
        name=ANONYMOUS, email=None, home_phone=None, beneficiary_name=None,
        beneficiary_scheme=None, beneficiary_number=None, search_key=ANONYMOUS.casefold(),
        anonymised_at=at))
    # The contact requests kept their before/after values; the deletion requests the family's
    # own words; queued or sent emails the address and names.
    await uow.session.execute(update(ccr).where(ccr.c.family_id == family_id)
                              .values(changes="{}"))
    await uow.session.execute(update(ccr).where(ccr.c.family_id == family_id,
                                                ccr.c.status == PENDING)
                              .values(status=REFUSED, reason="Foyer anonymisé.", decided_at=at))
    await uow.session.execute(update(deletion_request).where(
        deletion_request.c.family_id == family_id).values(reason=None))
    accounts = (await uow.session.execute(
        select(account.c.id, account.c.email).where(account.c.family_id == family_id))).all()
    addresses = {a.email for a in accounts} | ({family.email} if family.email else set())
    if addresses:
        await uow.session.execute(delete(email_message).where(
            email_message.c.to_address.in_(addresses)))
    for a in accounts:
        # Sessions and pending links end first (the existing revocation event), then the login
        # goes: no password, an address that cannot receive mail, disabled.
        await sessions.revoke(uow, "parent", a.id, "account_disabled", links=True)
        await uow.session.execute(delete(one_time_token).where(
            one_time_token.c.account_id == a.id))
        await uow.session.execute(update(account).where(account.c.id == a.id).values(
            email=f"anonyme-{a.id}@anonyme.invalid", password_hash=None, status="disabled"))
    children = [p for p in people if p.role == "child"]
    uow.publish(events.HouseholdAnonymised(
        family_id=family_id, name=ANONYMOUS, anonymised_at=at,
        guardian_ids=[p.id for p in people if p.role == "guardian"],
        children=[events.ChildFacts(
            child_id=c.id, first_name=ANONYMOUS, last_name=ANONYMOUS,
            birth_date=_year_only(c.birth_date) or date(1900, 1, 1),
            sex=events.Sex(c.sex) if c.sex else None) for c in children]), version=version)
    return {"personnes": len(people), "comptes": len(accounts), "version": version}


# --- staff reads --------------------------------------------------------------------------------

async def record_read(uow: UnitOfWork, actor: Principal, family_id: uuid.UUID, what: str) -> None:
    """In the caller's transaction (the read and its trace commit together)."""
    await uow.session.execute(insert(household_read).values(
        family_id=family_id, at=now(), staff_id=uuid.UUID(actor.subject),
        staff_email=actor.email or "", what=what))


async def reads(uow: UnitOfWork, family_id: uuid.UUID, limit: int = READS_SHOWN
                ) -> list[dict[str, Any]]:
    """The latest reads of the household, in one query."""
    rows = (await uow.session.execute(
        select(household_read).where(household_read.c.family_id == family_id)
        .order_by(household_read.c.at.desc(), household_read.c.id.desc()).limit(limit))).all()
    return [{"at": r.at, "staff_id": r.staff_id, "staff_email": r.staff_email, "what": r.what}
            for r in rows]


async def household_reads(uow: UnitOfWork, family_id: uuid.UUID,
                          limit: int) -> list[dict[str, Any]]:
    async with uow:
        await family_row(uow, family_id)
        return await reads(uow, family_id, limit)

