"""What several use cases share: the clock, loading a period with its place in the catalogue,
and the facts that events carry."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from marelle_chassis.domain_errors import NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import enrolment as events
from marelle_enrolment.db import activity, activity_group, activity_type, facility, period


def now() -> datetime:
    return datetime.now(UTC)


def period_query() -> Any:
    return (select(period, activity.c.name.label("activity_name"),
                   activity.c.pre_registration, activity.c.activity_type_id,
                   activity_type.c.name.label("activity_type_name"),
                   activity_type.c.facility_id, facility.c.name.label("facility_name"))
            .join(activity, activity.c.id == period.c.activity_id)
            .join(activity_type, activity_type.c.id == activity.c.activity_type_id)
            .join(facility, facility.c.id == activity_type.c.facility_id))


async def period_row(uow: UnitOfWork, period_id: uuid.UUID) -> Any:
    row = (await uow.session.execute(period_query().where(period.c.id == period_id))).first()
    if row is None:
        raise NotFound("Cette période est introuvable.")
    return row


async def group_row(uow: UnitOfWork, group_id: uuid.UUID, *, lock: bool = False) -> Any:
    stmt = select(activity_group).where(activity_group.c.id == group_id)
    if lock:
        # Serialises the capacity check on PostgreSQL (SQLite writers are serial already).
        stmt = stmt.with_for_update()
    row = (await uow.session.execute(stmt)).first()
    if row is None:
        raise NotFound("Ce groupe est introuvable.")
    return row


async def period_facts(uow: UnitOfWork, period_id: uuid.UUID) -> dict[str, Any]:
    p = await period_row(uow, period_id)
    groups = (await uow.session.execute(select(activity_group).where(
        activity_group.c.period_id == period_id).order_by(activity_group.c.min_age,
                                                          activity_group.c.label))).all()
    return {
        "period_id": p.id, "facility_id": p.facility_id, "facility_name": p.facility_name,
        "activity_type_id": p.activity_type_id, "activity_type_name": p.activity_type_name,
        "activity_id": p.activity_id, "activity_name": p.activity_name,
        "pre_registration": p.pre_registration, "label": p.label, "start_date": p.start_date,
        "end_date": p.end_date, "opens_at": p.opens_at, "closes_at": p.closes_at,
        "closed": p.closed,
        "groups": [{"group_id": g.id, "label": g.label, "min_age": g.min_age,
                    "max_age": g.max_age, "capacity": g.capacity, "closed": g.closed}
                   for g in groups],
    }


def registration_facts(reg: Any, p: Any, group_label: str) -> dict[str, Any]:
    return {
        "registration_id": reg.id, "child_id": reg.child_id, "family_id": reg.family_id,
        "period_id": reg.period_id, "group_id": reg.group_id, "facility_name": p.facility_name,
        "activity_name": p.activity_name, "period_label": p.label, "group_label": group_label,
        "start_date": p.start_date, "end_date": p.end_date, "status": reg.status,
        "typical_week": [events.WeekdayUnits(**d) for d in json.loads(reg.typical_week or "[]")],
        "memo": reg.memo or "",
    }
