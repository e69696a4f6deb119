"""A consuming service's copy of enrolment's catalogue (periods and their groups), fed by
`enrolment.period_published` / `enrolment.period_changed` (whole state each time), applied only
when newer than the copy (period version)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table, Text, Uuid, select

from marelle_chassis.copies import apply_if_newer, event_version
from marelle_chassis.auth import Principal, principal_dependency, require_staff, verifier_from_app
from marelle_chassis.db import UtcDateTime
from marelle_chassis.domain_errors import NotFound
from marelle_chassis.messaging import PayloadHandler
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.enrolment import PeriodFacts

PERIOD_COPY = "period_copy"


def add_period_copy_table(metadata: MetaData) -> Table:
    return Table(
        PERIOD_COPY, metadata,
        Column("period_id", Uuid, primary_key=True),
        Column("facility_name", String(120), nullable=False),
        Column("activity_type_name", String(120), nullable=False),
        Column("activity_name", String(120), nullable=False),
        Column("label", String(120), nullable=False),
        Column("start_date", Date, nullable=False),
        Column("end_date", Date, nullable=False),
        Column("closed", Boolean, nullable=False),
        Column("groups", Text, nullable=False),  # JSON, as in the event
        Column("revision", Integer, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        # The period version of the event that last set the row (see marelle_chassis.copies).
        Column("version", Integer, nullable=False, server_default="0"),
    )


def period_copy_handlers(table: Table) -> dict[str, PayloadHandler]:
    async def apply(p: PeriodFacts, e: Envelope, uow: UnitOfWork) -> None:
        values: dict[str, Any] = {
            "facility_name": p.facility_name, "activity_type_name": p.activity_type_name,
            "activity_name": p.activity_name, "label": p.label, "start_date": p.start_date,
            "end_date": p.end_date, "closed": p.closed,
            "groups": json.dumps([g.model_dump(mode="json") for g in p.groups]),
            "updated_at": datetime.now(UTC),
        }
        await apply_if_newer(uow.session, table, {"period_id": p.period_id}, event_version(e),
                             values)

    return {"enrolment.period_published": apply, "enrolment.period_changed": apply}


class PeriodCopy(BaseModel):
    period_id: uuid.UUID
    facility_name: str
    activity_type_name: str
    activity_name: str
    label: str
    start_date: date
    end_date: date
    closed: bool
    groups: list[dict[str, Any]]
    revision: int
    version: int


def period_copy_router(table: Table, sessions: Any) -> APIRouter:
    router = APIRouter(prefix="/staff/periods", tags=["catalogue (copy)"])
    staff = require_staff(principal_dependency(verifier_from_app))

    @router.get("/{period_id}", response_model=PeriodCopy)
    async def get_period(period_id: uuid.UUID, _: Principal = Depends(staff)) -> PeriodCopy:
        async with sessions() as session:
            row = (await session.execute(select(table).where(table.c.period_id == period_id))
                   ).mappings().first()
        if row is None:
            raise NotFound("Cette période est inconnue de ce service.")
        return PeriodCopy.model_validate({**row, "groups": json.loads(row["groups"])})

    return router
