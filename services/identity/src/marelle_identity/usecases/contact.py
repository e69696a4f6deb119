"""« Mes coordonnées »: change requests by families, decisions by staff."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import insert, select, update

from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, DomainError, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import identity as events
from marelle_contracts.dashboard import RequestStatus
from marelle_identity.db import contact_change_request as ccr
from marelle_identity.db import family as family_t
from marelle_identity.db import person as person_t
from marelle_identity.domain.contact import display_phone, requested_changes
from marelle_identity.notifications import queue_email
from marelle_identity.usecases.common import (
    PARIS,
    audit,
    bump_version,
    contact_details,
    contact_event,
    contact_view,
    family_row,
    now,
)

LABELS = {
    "home_phone": "Tél domicile",
    "parent1_mobile": "Portable Parent 1",
    "parent1_work": "Tél travail parent 1",
    "parent2_mobile": "Portable Parent 2",
    "parent2_work": "Tél travail parent 2",
    "beneficiary_name": "Nom de l'allocataire",
    "beneficiary_scheme": "Régime allocataire",
    "beneficiary_number": "Numéro allocataire",
}
PENDING, ACCEPTED, REFUSED = (s.value for s in RequestStatus)


def _shown(field: str, value: str | None) -> str | None:
    return display_phone(value) if value and field.endswith(("_phone", "_mobile", "_work")) else value


def request_view(row: Any) -> dict[str, Any]:
    changes = json.loads(row.changes)
    return {
        "id": row.id, "family_id": row.family_id, "status": row.status, "reason": row.reason,
        "created_at": row.created_at, "decided_at": row.decided_at,
        "changes": {f: {**c, "label": LABELS.get(f, f),
                        "before_display": _shown(f, c["before"]),
                        "after_display": _shown(f, c["after"])} for f, c in changes.items()},
    }


async def _pending(uow: UnitOfWork, family_id: uuid.UUID) -> Any:
    return (await uow.session.execute(select(ccr).where(
        ccr.c.family_id == family_id, ccr.c.status == PENDING))).first()


async def get_contact(uow: UnitOfWork, family_id: uuid.UUID) -> dict[str, Any]:
    async with uow:
        view = await contact_view(uow, family_id)
        pending = await _pending(uow, family_id)
    return {**view, "pending_request": request_view(pending) if pending else None}


def flat_proposal(body: dict[str, Any], guardian_ranks: dict[uuid.UUID, int]) -> dict[str, Any]:
    """API shape (`guardian_phones` by person id) → flat fields (`parent1_mobile`…)."""
    flat = {k: v for k, v in body.items() if k != "guardian_phones"}
    for item in body.get("guardian_phones") or []:
        rank = guardian_ranks.get(item["person_id"])
        if rank is None:
            raise InvalidInput("Ce responsable légal ne fait pas partie du foyer.")
        for kind in ("mobile", "work"):
            if f"{kind}_phone" in item:
                flat[f"parent{rank}_{kind}"] = item[f"{kind}_phone"]
    return flat


async def request_change(uow: UnitOfWork, family_id: uuid.UUID, body: dict[str, Any]
                         ) -> dict[str, Any]:
    async with uow:
        # The household's row first (locked until the commit): two requests sent together
        # queue here, and the second one sees the first as pending.
        version = await bump_version(uow, family_id)
        current = await contact_details(uow, family_id)
        ranks = {g.person_id: g.rank for g in current.guardians}
        changes = requested_changes(current, flat_proposal(body, ranks))
        if await _pending(uow, family_id):
            raise Conflict("Une demande de modification est déjà en attente de validation par "
                           "la structure ; attendez sa réponse pour en faire une autre.")
        request_id = uuid.uuid4()
        await uow.session.execute(insert(ccr).values(
            id=request_id, family_id=family_id, changes=json.dumps(changes), status=PENDING,
            created_at=now()))
        uow.publish(events.ContactChangeRequested(
            family_id=family_id, request_id=request_id,
            changes={f: events.FieldChange(**c) for f, c in changes.items()}), version=version)
        row = (await uow.session.execute(select(ccr).where(ccr.c.id == request_id))).first()
        await uow.commit()
    return request_view(row)


async def family_requests(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    async with uow:
        await family_row(uow, family_id)
        rows = (await uow.session.execute(select(ccr).where(ccr.c.family_id == family_id)
                                          .order_by(ccr.c.created_at.desc()))).all()
    return [request_view(r) for r in rows]


def dashboard_items(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{
        "kind": "coordonnees",
        "label": "Modification de coordonnées : " + ", ".join(
            c["label"] for c in r["changes"].values()),
        "status": r["status"], "created_at": r["created_at"], "decided_at": r["decided_at"],
        "reason": r["reason"],
    } for r in requests]


async def pending_requests(uow: UnitOfWork, status: str = PENDING) -> list[dict[str, Any]]:
    async with uow:
        rows = (await uow.session.execute(
            select(ccr, family_t.c.name.label("family_name"))
            .join(family_t, family_t.c.id == ccr.c.family_id)
            .where(ccr.c.status == status).order_by(ccr.c.created_at))).all()
    return [{**request_view(r), "family_name": r.family_name} for r in rows]


async def _decide_one(uow: UnitOfWork, actor: Principal, settings: Any, request_id: uuid.UUID,
                      accept: bool, reason: str | None) -> None:
    row = (await uow.session.execute(select(ccr).where(ccr.c.id == request_id))).first()
    if row is None:
        raise NotFound("Cette demande est introuvable.")
    already_decided = Conflict("Cette demande a déjà été traitée.")
    if row.status != PENDING:
        raise already_decided
    reason = (reason or "").strip() or None
    if not accept and not reason:
        raise InvalidInput("Indiquez le motif du refus : il est communiqué à la famille.")
    version = await bump_version(uow, row.family_id)  # locks the household until the commit
    family = await family_row(uow, row.family_id)
    changes = json.loads(row.changes)
    decided_by = uuid.UUID(actor.subject)
    at = now()
    # Compare-and-set: of two staff members deciding the same request at once, one wins.
    decided = await uow.session.execute(update(ccr).where(
        ccr.c.id == request_id, ccr.c.status == PENDING).values(
        status=ACCEPTED if accept else REFUSED, reason=reason, decided_at=at,
        decided_by=decided_by))
    if decided.rowcount != 1:
        raise already_decided
    requested_on = row.created_at.astimezone(PARIS).strftime("%d/%m/%Y")
    settings_url = settings.portal_url
    if accept:
        current = await contact_details(uow, row.family_id)
        updated = current.with_changes({f: c["after"] for f, c in changes.items()})
        await uow.session.execute(update(family_t).where(family_t.c.id == row.family_id).values(
            home_phone=updated.home_phone, beneficiary_name=updated.beneficiary_name,
            beneficiary_scheme=updated.beneficiary_scheme,
            beneficiary_number=updated.beneficiary_number))
        for g in updated.guardians:
            await uow.session.execute(update(person_t).where(person_t.c.id == g.person_id).values(
                mobile_phone=g.mobile_phone, work_phone=g.work_phone, updated_at=at))
        uow.publish(events.ContactChangeAccepted(family_id=row.family_id, request_id=request_id,
                                                 decided_by=decided_by), version=version)
        # A second event about the same household: its own, higher version.
        uow.publish(contact_event(row.family_id, updated),
                    version=await bump_version(uow, row.family_id))
        template, extra = "contact_accepted", {}
    else:
        uow.publish(events.ContactChangeRefused(family_id=row.family_id, request_id=request_id,
                                                decided_by=decided_by, reason=reason or ""),
                    version=version)
        template, extra = "contact_refused", {"reason": reason}
    if family.email:
        await queue_email(uow, family.email, template, requested_on=requested_on,
                          portal_url=settings_url, changes=[
                              {"label": LABELS.get(f, f), "after": _shown(f, c["after"])}
                              for f, c in changes.items()], **extra)
    await audit(uow, actor, "coordonnees.acceptees" if accept else "coordonnees.refusees",
                f"foyer:{row.family_id}", request_id=request_id, reason=reason)


async def decide(uow_factory: Any, actor: Principal, settings: Any,
                 decisions: list[tuple[uuid.UUID, bool, str | None]]) -> list[dict[str, Any]]:
    """Each decision in its own transaction: one refused item does not undo the others."""
    results = []
    for request_id, accept, reason in decisions:
        try:
            async with uow_factory() as uow:
                await _decide_one(uow, actor, settings, request_id, accept, reason)
                await uow.commit()
            results.append({"request_id": request_id, "ok": True,
                            "detail": "Demande acceptée." if accept else "Demande refusée."})
        except DomainError as exc:
            results.append({"request_id": request_id, "ok": False, "detail": exc.detail})
    return results
