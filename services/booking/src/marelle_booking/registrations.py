"""Booking's copy of the validated registrations: the event handlers and a staff read API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.copies import apply_if_newer, event_version
from marelle_chassis.messaging import PayloadHandler
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.enrolment import (
    RegistrationCancelled,
    RegistrationFacts,
    RegistrationRefused,
    RegistrationValidated,
)
from marelle_booking.db import registration_copy as table


async def _apply(uow: UnitOfWork, p: RegistrationFacts, e: Envelope) -> bool:
    """Whether the event changed the copy (only the newest version applies)."""
    return await apply_if_newer(uow.session, table, {"registration_id": p.registration_id},
                         event_version(e), {
        "child_id": p.child_id, "family_id": p.family_id, "period_id": p.period_id,
        "group_id": p.group_id, "facility_name": p.facility_name,
        "activity_name": p.activity_name, "period_label": p.period_label,
        "group_label": p.group_label, "start_date": p.start_date, "end_date": p.end_date,
        "status": p.status.value,
        "typical_week": json.dumps([d.model_dump() for d in p.typical_week]),
        "memo": p.memo or "",
        "updated_at": datetime.now(UTC),
    })


def handlers() -> dict[str, PayloadHandler]:
    """Only validated registrations are bookable. A cancellation (or a refusal) is kept as a
    tombstone even for a registration this copy never saw validated: a validation arriving late
    (older version) must not make it bookable. When it really changed the copy, the
    registration's reservations from the event's day on are cancelled (« inscription »), in the
    same transaction, freeing their places for the waiting lists."""
    from marelle_booking.usecases.reservations import cancel_for_registration

    async def validated(p: RegistrationValidated, e: Envelope, uow: UnitOfWork) -> None:
        await _apply(uow, p, e)

    async def closed(p: RegistrationCancelled | RegistrationRefused, e: Envelope,
                     uow: UnitOfWork) -> None:
        if await _apply(uow, p, e):
            await cancel_for_registration(uow, p.registration_id, e.occurred_at)

    return {"enrolment.registration_validated": validated,
            "enrolment.registration_cancelled": closed,
            "enrolment.registration_refused": closed}


class RegistrationCopy(BaseModel):
    registration_id: uuid.UUID
    child_id: uuid.UUID
    family_id: uuid.UUID
    period_id: uuid.UUID
    group_id: uuid.UUID
    facility_name: str
    activity_name: str
    period_label: str
    group_label: str
    start_date: date
    end_date: date
    status: str
    typical_week: list[dict[str, Any]]
    memo: str = ""
    revision: int
    version: int


def router(sessions: Any) -> APIRouter:
    api = APIRouter(prefix="/staff/registrations", tags=["registrations (copy)"])
    staff = require_staff(principal_dependency(verifier_from_app))

    @api.get("")
    async def list_registrations(child_id: uuid.UUID | None = None,
                                 _: Principal = Depends(staff)) -> dict[str, list[RegistrationCopy]]:
        stmt = select(table).order_by(table.c.start_date)
        if child_id:
            stmt = stmt.where(table.c.child_id == child_id)
        async with sessions() as session:
            rows = (await session.execute(stmt)).mappings().all()
        return {"items": [RegistrationCopy.model_validate(
            {**r, "typical_week": json.loads(r["typical_week"])}) for r in rows]}

    return api
