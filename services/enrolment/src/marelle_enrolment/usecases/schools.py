"""The schools' class assignments: kept per child and school year, listed per class with the
children's registrations and the age-group checks."""

from __future__ import annotations

import unicodedata
import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from marelle_chassis.domain_errors import NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_contracts.inbound import ChildAssignedToClass
from marelle_enrolment.db import (
    activity,
    activity_group,
    activity_type,
    child_copy,
    facility,
    period,
    registration,
    school_assignment,
)
from marelle_enrolment.domain.rules import ACTIVE, age_on, status_mark
from marelle_enrolment.domain.schools import SchoolYear, age_group_flags, sort_levels

_FACTS = ("school_id", "school_name", "class_name", "level")


def _sort_key(text: str | None) -> str:
    """« École » among the E, « élise » before « Emma »: accents and case aside."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


async def apply_assignment(session: AsyncSession, p: ChildAssignedToClass, event_id: uuid.UUID,
                           at: datetime) -> bool:
    """Keep the assignment unless the stored one for that child and year is newer: one
    conditional upsert, so rival deliveries cannot interleave a read and a write. A same-day
    assignment replaces the stored one only when it says something different (a correction),
    so a copy of the same fact sent again changes nothing. Returns whether the row changed."""
    t = school_assignment
    values = {"child_id": p.child_id, "school_year": p.school_year, "school_id": p.school_id,
              "school_name": p.school_name, "class_name": p.class_name, "level": p.level,
              "assigned_on": p.assigned_on, "source_event_id": event_id, "updated_at": at}
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(t).values(**values)
    new = stmt.excluded
    newer = or_(t.c.assigned_on < new.assigned_on,
                and_(t.c.assigned_on == new.assigned_on,
                     or_(*(t.c[name] != new[name] for name in _FACTS))))
    result = await session.execute(stmt.on_conflict_do_update(
        index_elements=[t.c.child_id, t.c.school_year],
        set_={name: new[name] for name in (*_FACTS, "assigned_on", "source_event_id",
                                            "updated_at")},
        where=newer))
    return result.rowcount == 1


async def classes(uow: UnitOfWork, school_year: str) -> dict[str, Any]:
    """The classes of a school year with their number of children: one grouped query."""
    year = SchoolYear.parse(school_year)
    t = school_assignment
    async with uow:
        rows = (await uow.session.execute(
            select(t.c.school_id, t.c.class_name, t.c.level, func.max(t.c.school_name),
                   func.count())
            .where(t.c.school_year == str(year))
            .group_by(t.c.school_id, t.c.class_name, t.c.level))).all()
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for school_id, class_name, level, school_name, count in rows:
        item = found.setdefault((school_id, class_name), {
            "school_id": school_id, "school_name": school_name, "class_name": class_name,
            "levels": [], "children": 0})
        item["levels"].append(level)
        item["children"] += int(count)
        # Names may differ between events (a renamed school): show one, always the same.
        item["school_name"] = max(item["school_name"], school_name)
    items = sorted(found.values(), key=lambda c: (_sort_key(c["school_name"]), c["school_id"],
                                                  _sort_key(c["class_name"])))
    for item in items:
        item["levels"] = sort_levels(item["levels"])
    return {"school_year": str(year), "items": items}


def _registrations_of_class(year: SchoolYear, members: Any) -> Any:
    """The active registrations of the class's children on periods within the school year."""
    return (select(registration.c.id, registration.c.child_id, registration.c.period_id,
                   registration.c.group_id, registration.c.status, activity.c.pre_registration,
                   facility.c.name.label("facility_name"), activity.c.name.label("activity_name"),
                   period.c.label.label("period_label"), period.c.start_date, period.c.end_date,
                   activity_group.c.label.label("group_label"), activity_group.c.min_age,
                   activity_group.c.max_age)
            .join(period, period.c.id == registration.c.period_id)
            .join(activity_group, activity_group.c.id == registration.c.group_id)
            .join(activity, activity.c.id == period.c.activity_id)
            .join(activity_type, activity_type.c.id == activity.c.activity_type_id)
            .join(facility, facility.c.id == activity_type.c.facility_id)
            .where(registration.c.child_id.in_(members),
                   registration.c.status.in_([s.value for s in ACTIVE]),
                   period.c.start_date <= year.end, period.c.end_date >= year.start)
            .order_by(period.c.start_date, facility.c.name, activity.c.name, period.c.label))


async def class_children(uow: UnitOfWork, school_year: str, school_id: str,
                         class_name: str) -> dict[str, Any]:
    """A class's children with their registrations of the school year and the age-group flags,
    in two queries whatever the number of children."""
    year = SchoolYear.parse(school_year)
    t = school_assignment
    of_class = and_(t.c.school_year == str(year), t.c.school_id == school_id,
                    t.c.class_name == class_name)
    async with uow:
        children = (await uow.session.execute(
            select(t, child_copy.c.first_name, child_copy.c.last_name, child_copy.c.birth_date,
                   child_copy.c.family_id)
            .outerjoin(child_copy, child_copy.c.child_id == t.c.child_id)
            .where(of_class))).all()
        if not children:
            raise NotFound(f"La classe « {class_name} » n'a aucun élève connu pour l'année "
                           f"scolaire {year} dans cette école.")
        regs = (await uow.session.execute(_registrations_of_class(
            year, select(t.c.child_id).where(of_class)))).all()
    by_child: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for r in regs:
        by_child[r.child_id].append(r)
    items = []
    for c in children:
        items.append({
            "child_id": c.child_id, "known": c.family_id is not None, "family_id": c.family_id,
            "first_name": c.first_name, "last_name": c.last_name, "birth_date": c.birth_date,
            "age": age_on(c.birth_date, year.start) if c.birth_date else None,
            "level": c.level, "assigned_on": c.assigned_on,
            "registrations": [{
                "id": r.id, "period_id": r.period_id, "group_id": r.group_id,
                "facility_name": r.facility_name, "activity_name": r.activity_name,
                "period_label": r.period_label, "group_label": r.group_label,
                "start_date": r.start_date, "end_date": r.end_date, "status": r.status,
                "mark": status_mark(r.status, r.pre_registration), "min_age": r.min_age,
                "max_age": r.max_age,
                "age_at_start": age_on(c.birth_date, r.start_date) if c.birth_date else None,
                "flags": [{"kind": f.kind, "message": f.message} for f in age_group_flags(
                    first_name=c.first_name, birth_date=c.birth_date, level=c.level, year=year,
                    group_label=r.group_label, min_age=r.min_age, max_age=r.max_age,
                    period_start=r.start_date)],
            } for r in by_child.get(c.child_id, [])],
        })
    # Known children by name; those identity has not told us about yet at the end.
    items.sort(key=lambda i: (not i["known"], _sort_key(i["last_name"]),
                              _sort_key(i["first_name"]), str(i["child_id"])))
    return {"school_year": str(year), "school_id": school_id,
            "school_name": max(c.school_name for c in children), "class_name": class_name,
            "levels": sort_levels({c.level for c in children}), "children": items}
