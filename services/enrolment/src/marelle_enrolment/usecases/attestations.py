"""Attestations of registration: asked by families, issued by staff as a French PDF."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import enrolment as events
from marelle_enrolment.db import attestation, child_copy, registration
from marelle_enrolment.domain.rules import Status, french_date
from marelle_enrolment.usecases.common import now
from marelle_enrolment.usecases.registrations import get_registration

PARIS = ZoneInfo("Europe/Paris")
_env = Environment(loader=PackageLoader("marelle_enrolment", "templates"),
                   autoescape=select_autoescape(["html"]), undefined=StrictUndefined)


def render_pdf(**context: Any) -> bytes:
    from weasyprint import HTML  # heavy import, only when a PDF is made

    return HTML(string=_env.get_template("attestation.html").render(**context)).write_pdf()


def _view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "registration_id": row.registration_id, "status": row.status,
            "requested_at": row.requested_at, "issued_at": row.issued_at}


async def request_attestation(uow: UnitOfWork, family_id: uuid.UUID,
                              registration_id: uuid.UUID) -> dict[str, Any]:
    """The registration is read FOR SHARE (a cancellation waits for us, or we see it); at most
    one pending request per registration (checked, and a unique index for simultaneous ones)."""
    async def work() -> dict[str, Any]:
        async with uow:
            status = await uow.session.scalar(select(registration.c.status).where(
                registration.c.id == registration_id, registration.c.family_id == family_id)
                .with_for_update(read=True))
            if status is None:
                raise NotFound("Cette inscription est introuvable.")
            if status != Status.VALIDATED:
                raise Conflict("Une attestation ne peut être demandée que pour une inscription "
                               "validée.")
            pending = await uow.session.scalar(select(attestation.c.id).where(
                attestation.c.registration_id == registration_id,
                attestation.c.status == "demandee"))
            if pending:
                raise Conflict(ALREADY_PENDING)
            try:
                row = (await uow.session.execute(insert(attestation).values(
                    id=uuid.uuid4(), registration_id=registration_id, family_id=family_id,
                    status="demandee", requested_at=now(), version=1)
                    .returning(*attestation.c))).one()
                await uow.commit()
            except IntegrityError:
                raise Conflict(ALREADY_PENDING) from None
        return _view(row)

    return await retry_transaction(work)


ALREADY_PENDING = "Une demande d'attestation est déjà en cours pour cette inscription."
ALREADY_ISSUED = "Cette attestation a déjà été délivrée."


async def family_attestations(uow: UnitOfWork, family_id: uuid.UUID) -> list[dict[str, Any]]:
    async with uow:
        return await family_attestation_views(uow, family_id)


async def family_attestation_views(uow: UnitOfWork, family_id: uuid.UUID
                                   ) -> list[dict[str, Any]]:
    """`family_attestations` inside a unit of work the caller opened."""
    rows = (await uow.session.execute(select(attestation).where(
        attestation.c.family_id == family_id).order_by(attestation.c.requested_at.desc()))).all()
    return [_view(r) for r in rows]


async def staff_attestations(uow: UnitOfWork, status: str = "demandee") -> list[dict[str, Any]]:
    from marelle_enrolment.db import activity, activity_group, activity_type, facility, period

    async with uow:
        rows = (await uow.session.execute(
            select(attestation, child_copy.c.first_name, child_copy.c.last_name,
                   facility.c.name.label("facility_name"), activity.c.name.label("activity_name"),
                   period.c.label.label("period_label"), activity_group.c.label.label("group_label"))
            .join(registration, registration.c.id == attestation.c.registration_id)
            .join(child_copy, child_copy.c.child_id == registration.c.child_id)
            .join(period, period.c.id == registration.c.period_id)
            .join(activity_group, activity_group.c.id == registration.c.group_id)
            .join(activity, activity.c.id == period.c.activity_id)
            .join(activity_type, activity_type.c.id == activity.c.activity_type_id)
            .join(facility, facility.c.id == activity_type.c.facility_id)
            .where(attestation.c.status == status).order_by(attestation.c.requested_at))).all()
    return [{**_view(r), "family_id": r.family_id, "child_name": f"{r.first_name} {r.last_name}",
             "facility_name": r.facility_name, "activity_name": r.activity_name,
             "period_label": r.period_label, "group_label": r.group_label} for r in rows]


async def issue(uow: UnitOfWork, actor: Principal, structure_name: str,
                attestation_id: uuid.UUID) -> dict[str, Any]:
    """Read what the PDF needs and close that transaction; render in a worker thread (no
    transaction open, the event loop free); then write it in a new unit of work, only if the
    request is still pending (compare-and-set; the rival agent gets a 409)."""
    async with uow:
        row = (await uow.session.execute(select(attestation).where(
            attestation.c.id == attestation_id))).first()
    if row is None:
        raise NotFound("Cette demande d'attestation est introuvable.")
    if row.status != "demandee":
        raise Conflict(ALREADY_ISSUED)
    reg = await get_registration(uow, None, row.registration_id)
    async with uow:
        child = (await uow.session.execute(select(child_copy).where(
            child_copy.c.child_id == reg["child_id"]))).first()
    at = now()
    pdf = await asyncio.to_thread(
        render_pdf,
        structure_name=structure_name, attestation_id=attestation_id,
        child_first_name=reg["child_first_name"], child_last_name=reg["child_last_name"],
        birth_date=french_date(child.birth_date), facility_name=reg["facility_name"],
        activity_name=reg["activity_name"], period_label=reg["period_label"],
        start_date=french_date(reg["start_date"]), end_date=french_date(reg["end_date"]),
        group_label=reg["group_label"], issued_on=french_date(at.astimezone(PARIS).date()))

    async def write() -> dict[str, Any]:
        async with uow:
            done = (await uow.session.execute(
                update(attestation)
                .where(attestation.c.id == attestation_id, attestation.c.status == "demandee")
                .values(status="delivree", issued_at=at, issued_by=uuid.UUID(actor.subject),
                        pdf=pdf, version=attestation.c.version + 1)
                .returning(*attestation.c))).first()
            if done is None:
                raise Conflict(ALREADY_ISSUED)
            uow.publish(events.AttestationIssued(
                attestation_id=attestation_id, registration_id=row.registration_id,
                child_id=reg["child_id"], family_id=row.family_id,
                period_label=reg["period_label"]), version=done.version)
            await uow.commit()
        return _view(done)

    return await retry_transaction(write)


async def attestation_pdf(uow: UnitOfWork, family_id: uuid.UUID | None,
                          attestation_id: uuid.UUID) -> bytes:
    async with uow:
        stmt = select(attestation.c.pdf).where(attestation.c.id == attestation_id,
                                               attestation.c.status == "delivree")
        if family_id is not None:
            stmt = stmt.where(attestation.c.family_id == family_id)
        pdf = await uow.session.scalar(stmt)
    if pdf is None:
        raise NotFound("Cette attestation est introuvable ou n'a pas encore été délivrée.")
    return pdf


def dashboard_items(items: list[dict[str, Any]], registrations: dict[uuid.UUID, str]) -> list[dict[str, Any]]:
    return [{"kind": "attestation",
             "label": f"Attestation d'inscription : {registrations.get(a['registration_id'], '')}",
             "status": "acceptee" if a["status"] == "delivree" else "en_attente",
             "created_at": a["requested_at"], "decided_at": a["issued_at"], "reason": None}
            for a in items]
