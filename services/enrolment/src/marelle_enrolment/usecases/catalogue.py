"""The catalogue, kept by staff; what a child may ask for, shown to families."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.transactions import retry_transaction
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import enrolment as events
from marelle_enrolment.db import (
    activity,
    activity_group,
    activity_type,
    child_copy,
    facility,
    period,
    registration,
)
from marelle_enrolment.domain.rules import (
    HOLDS_A_PLACE,
    AgeBounds,
    DistrictOpening,
    Status,
    ValidationMode,
    Window,
    age_on,
    check_capacity,
    check_period_dates,
    district_openings_from_json,
    district_openings_to_json,
    period_window,
)
from marelle_enrolment.residency import NOT_KNOWN, residency_of
from marelle_enrolment.usecases.common import now, period_facts, period_query, period_row


def _name(value: str, label: str = "Le libellé") -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput(f"{label} est obligatoire.")
    if len(cleaned) > 120:
        raise InvalidInput(f"{label} ne doit pas dépasser 120 caractères.")
    return cleaned


async def _audit(uow: UnitOfWork, actor: Principal | None, action: str, target: str,
                 before: Any = None, after: Any = None) -> None:
    if actor is not None:  # the HTTP adapter always passes the staff member
        await audit(uow, actor, action, target, before, after)


async def _exists(uow: UnitOfWork, table: Any, row_id: uuid.UUID, what: str) -> None:
    if await uow.session.scalar(select(table.c.id).where(table.c.id == row_id)) is None:
        raise NotFound(f"{what} est introuvable.")


async def create_facility(uow: UnitOfWork, name: str, actor: Principal | None = None) -> uuid.UUID:
    name = _name(name, "Le nom de l'équipement")

    async def work() -> uuid.UUID:
        async with uow:
            if await uow.session.scalar(select(facility.c.id).where(facility.c.name == name)):
                raise Conflict("Un équipement porte déjà ce nom.")
            new_id = uuid.uuid4()
            await uow.session.execute(insert(facility).values(id=new_id, name=name,
                                                              created_at=now()))
            await _audit(uow, actor, "catalogue.equipement_cree", f"equipement:{new_id}",
                         after={"name": name})
            try:
                await uow.commit()
            except IntegrityError:
                raise Conflict("Un équipement porte déjà ce nom.") from None
        return new_id

    return await retry_transaction(work)


async def create_activity_type(uow: UnitOfWork, facility_id: uuid.UUID, name: str,
                               actor: Principal | None = None) -> uuid.UUID:
    name = _name(name)

    async def work() -> uuid.UUID:
        async with uow:
            await _exists(uow, facility, facility_id, "Cet équipement")
            new_id = uuid.uuid4()
            await uow.session.execute(insert(activity_type).values(
                id=new_id, facility_id=facility_id, name=name))
            await _audit(uow, actor, "catalogue.type_cree", f"type_activite:{new_id}",
                         after={"facility_id": facility_id, "name": name})
            await uow.commit()
        return new_id

    return await retry_transaction(work)


async def create_activity(uow: UnitOfWork, activity_type_id: uuid.UUID, name: str,
                          pre_registration: bool, actor: Principal | None = None) -> uuid.UUID:
    name = _name(name)

    async def work() -> uuid.UUID:
        async with uow:
            await _exists(uow, activity_type, activity_type_id, "Ce type d'activité")
            new_id = uuid.uuid4()
            await uow.session.execute(insert(activity).values(
                id=new_id, activity_type_id=activity_type_id, name=name,
                pre_registration=pre_registration))
            await _audit(uow, actor, "catalogue.activite_creee", f"activite:{new_id}",
                         after={"name": name, "pre_registration": pre_registration})
            await uow.commit()
        return new_id

    return await retry_transaction(work)


@dataclass(frozen=True)
class PeriodIn:
    label: str
    start_date: date
    end_date: date
    opens_at: datetime
    closes_at: datetime
    priority_opens_at: datetime | None = None
    memo: str = ""
    validation_mode: ValidationMode = ValidationMode.STAFF
    promotion_mode: ValidationMode = ValidationMode.AUTO
    residents_open_at: datetime | None = None
    district_openings: tuple[DistrictOpening, ...] = ()


def _period_values(data: PeriodIn) -> dict[str, Any]:
    check_period_dates(data.start_date, data.end_date)
    districts = tuple(DistrictOpening(d.district, " ".join(d.label.split()),
                                      d.opens_at.astimezone(UTC))
                      for d in data.district_openings)
    Window(data.opens_at, data.closes_at, data.priority_opens_at, data.residents_open_at,
           districts)
    if len(data.memo) > 5000:
        raise InvalidInput("Le mémo ne doit pas dépasser 5 000 caractères.")
    return {"label": _name(data.label), "start_date": data.start_date, "end_date": data.end_date,
            "opens_at": data.opens_at, "closes_at": data.closes_at,
            "priority_opens_at": data.priority_opens_at,
            "residents_open_at": data.residents_open_at,
            "district_openings": district_openings_to_json(districts), "memo": data.memo.strip(),
            "validation_mode": data.validation_mode.value,
            "promotion_mode": data.promotion_mode.value}


# A period's events carry its groups: any change to the period or to one of its groups takes one
# step of the period's version, in the UPDATE of the period row (`_change_period`). Lock order:
# a group row before its period row (and registrations only ever after their group).

async def _change_period(uow: UnitOfWork, period_id: uuid.UUID, **values: Any) -> int:
    """`UPDATE period SET …, version = version + 1 … RETURNING version`."""
    version = await uow.session.scalar(update(period).where(period.c.id == period_id).values(
        version=period.c.version + 1, **values).returning(period.c.version))
    if version is None:
        raise NotFound("Cette période est introuvable.")
    return int(version)


async def _announce(uow: UnitOfWork, period_id: uuid.UUID, version: int) -> None:
    facts = await period_facts(uow, period_id)
    model = events.PeriodPublished if version == 1 else events.PeriodChanged
    uow.publish(model(**facts), version=version)


async def create_period(uow: UnitOfWork, activity_id: uuid.UUID, data: PeriodIn,
                        actor: Principal | None = None) -> uuid.UUID:
    values = _period_values(data)

    async def work() -> uuid.UUID:
        async with uow:
            await _exists(uow, activity, activity_id, "Cette activité")
            new_id = uuid.uuid4()
            await uow.session.execute(insert(period).values(
                id=new_id, activity_id=activity_id, created_at=now(), version=1, **values))
            await _announce(uow, new_id, 1)
            await _audit(uow, actor, "catalogue.periode_creee", f"periode:{new_id}",
                         after={"activity_id": activity_id, **values})
            await uow.commit()
        return new_id

    return await retry_transaction(work)


async def update_period(uow: UnitOfWork, period_id: uuid.UUID, data: PeriodIn,
                        actor: Principal | None = None) -> None:
    values = _period_values(data)

    async def work() -> None:
        async with uow:
            before = (await period_row(uow, period_id))._asdict()
            await _announce(uow, period_id, await _change_period(uow, period_id, **values))
            await _audit(uow, actor, "catalogue.periode_modifiee", f"periode:{period_id}",
                         before={k: before.get(k) for k in values}, after=values)
            await uow.commit()

    await retry_transaction(work)


async def set_period_closed(uow: UnitOfWork, period_id: uuid.UUID, closed: bool,
                            actor: Principal | None = None) -> None:
    """Closed: no new request, whatever the window; reopening restores the window's rule."""
    async def work() -> None:
        async with uow:
            await _announce(uow, period_id, await _change_period(uow, period_id, closed=closed))
            await _audit(uow, actor, "catalogue.periode_" + ("fermee" if closed else "rouverte"),
                         f"periode:{period_id}", before={"closed": not closed},
                         after={"closed": closed})
            await uow.commit()

    await retry_transaction(work)


async def set_group_closed(uow: UnitOfWork, group_id: uuid.UUID, closed: bool,
                           actor: Principal | None = None) -> None:
    async def work() -> None:
        async with uow:
            period_id = await uow.session.scalar(
                update(activity_group).where(activity_group.c.id == group_id)
                .values(closed=closed).returning(activity_group.c.period_id))
            if period_id is None:
                raise NotFound("Ce groupe est introuvable.")
            await _announce(uow, period_id, await _change_period(uow, period_id))
            await _audit(uow, actor, "catalogue.groupe_" + ("ferme" if closed else "rouvert"),
                         f"groupe:{group_id}", before={"closed": not closed},
                         after={"closed": closed})
            await uow.commit()

    await retry_transaction(work)


@dataclass(frozen=True)
class GroupIn:
    label: str
    min_age: int
    max_age: int
    capacity: int


def _group_values(data: GroupIn) -> dict[str, Any]:
    AgeBounds(data.min_age, data.max_age)
    check_capacity(data.capacity)
    return {"label": _name(data.label), "min_age": data.min_age, "max_age": data.max_age,
            "capacity": data.capacity}


async def create_group(uow: UnitOfWork, period_id: uuid.UUID, data: GroupIn,
                       actor: Principal | None = None) -> uuid.UUID:
    values = _group_values(data)

    async def work() -> uuid.UUID:
        async with uow:
            await _exists(uow, period, period_id, "Cette période")
            new_id = uuid.uuid4()
            await uow.session.execute(insert(activity_group).values(id=new_id,
                                                                    period_id=period_id, **values))
            await _announce(uow, period_id, await _change_period(uow, period_id))
            await _audit(uow, actor, "catalogue.groupe_cree", f"groupe:{new_id}",
                         after={"period_id": period_id, **values})
            await uow.commit()
        return new_id

    return await retry_transaction(work)


async def update_group(uow: UnitOfWork, group_id: uuid.UUID, data: GroupIn,
                       on_capacity_raised: Any = None, actor: Principal | None = None) -> None:
    values = _group_values(data)

    async def work() -> None:
        async with uow:
            row = (await uow.session.execute(select(activity_group).where(
                activity_group.c.id == group_id).with_for_update())).first()
            if row is None:
                raise NotFound("Ce groupe est introuvable.")
            taken = await places_taken(uow, group_id)
            if data.capacity < taken:
                raise Conflict(f"Ce groupe compte déjà {taken} inscription(s) validée(s) ou en "
                               f"attente : la capacité ne peut pas descendre en dessous.")
            await uow.session.execute(update(activity_group).where(
                activity_group.c.id == group_id).values(**values))
            await _announce(uow, row.period_id, await _change_period(uow, row.period_id))
            if on_capacity_raised and data.capacity > row.capacity:
                await on_capacity_raised(uow, group_id)
            await _audit(uow, actor, "catalogue.groupe_modifie", f"groupe:{group_id}",
                         before={k: getattr(row, k) for k in values}, after=values)
            await uow.commit()

    await retry_transaction(work)


async def places_taken(uow: UnitOfWork, group_id: uuid.UUID) -> int:
    return int(await uow.session.scalar(select(func.count()).select_from(registration).where(
        registration.c.group_id == group_id,
        registration.c.status.in_([s.value for s in HOLDS_A_PLACE]))) or 0)


async def catalogue_tree(uow: UnitOfWork, *, child: Any = None,
                         at: datetime | None = None) -> list[dict[str, Any]]:
    """The whole catalogue (staff), or only what is open and fits the child (families)."""
    moment = at or now()
    async with uow:
        facilities = (await uow.session.execute(select(facility).order_by(facility.c.name))).all()
        types = (await uow.session.execute(select(activity_type).order_by(activity_type.c.name))).all()
        activities = (await uow.session.execute(select(activity).order_by(activity.c.name))).all()
        periods = (await uow.session.execute(period_query().order_by(period.c.start_date))).all()
        groups = (await uow.session.execute(select(activity_group).order_by(
            activity_group.c.min_age, activity_group.c.label))).all()
        taken = dict((await uow.session.execute(
            select(registration.c.group_id, func.count()).where(
                registration.c.status.in_([s.value for s in HOLDS_A_PLACE]))
            .group_by(registration.c.group_id))).all())
        waiting = dict((await uow.session.execute(
            select(registration.c.group_id, func.count()).where(
                registration.c.status == Status.WAITLISTED.value)
            .group_by(registration.c.group_id))).all())
        returning_activities: set[uuid.UUID] = set()
        residency = NOT_KNOWN
        if child is not None:
            if any((p.residents_open_at or p.district_openings) and moment < p.opens_at
                   for p in periods):
                residency = await residency_of(uow, child.family_id)
            returning_activities = set((await uow.session.scalars(
                select(period.c.activity_id).join(registration, registration.c.period_id == period.c.id)
                .where(registration.c.child_id == child.child_id,
                       registration.c.status == Status.VALIDATED.value))).all())

    def group_view(g: Any, p: Any) -> dict[str, Any] | None:
        if child is not None and (g.closed or not AgeBounds(g.min_age, g.max_age).fits(
                child.birth_date, p.start_date)):
            return None
        left = max(0, g.capacity - taken.get(g.id, 0))
        return {"id": g.id, "label": g.label, "min_age": g.min_age, "max_age": g.max_age,
                "capacity": g.capacity, "places_taken": taken.get(g.id, 0), "places_left": left,
                "waiting": waiting.get(g.id, 0), "full": left == 0, "closed": g.closed}

    def period_view(p: Any) -> dict[str, Any] | None:
        if child is not None:
            window = period_window(p)
            if p.closed or not window.is_open(moment, p.activity_id in returning_activities,
                                              residency.resident, residency.district):
                return None
        views = [v for g in groups if g.period_id == p.id and (v := group_view(g, p))]
        if child is not None and not views:
            return None
        return {"id": p.id, "label": p.label, "start_date": p.start_date, "end_date": p.end_date,
                "opens_at": p.opens_at, "closes_at": p.closes_at,
                "priority_opens_at": p.priority_opens_at,
                "residents_open_at": p.residents_open_at,
                "district_openings": [
                    {"district": d.district, "district_label": d.label, "opens_at": d.opens_at}
                    for d in district_openings_from_json(p.district_openings)],
                "memo": p.memo,
                "validation_mode": p.validation_mode, "promotion_mode": p.promotion_mode,
                "closed": p.closed, "groups": views}

    tree = []
    for f in facilities:
        type_views = []
        for t in (t for t in types if t.facility_id == f.id):
            activity_views = []
            for a in (a for a in activities if a.activity_type_id == t.id):
                period_views = [v for p in periods if p.activity_id == a.id and (v := period_view(p))]
                if period_views or child is None:
                    activity_views.append({"id": a.id, "name": a.name,
                                           "pre_registration": a.pre_registration,
                                           "periods": period_views})
            if activity_views or child is None:
                type_views.append({"id": t.id, "name": t.name, "activities": activity_views})
        if type_views or child is None:
            tree.append({"id": f.id, "name": f.name, "activity_types": type_views})
    return tree


async def child_of_family(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID) -> Any:
    """Only a guardian of the household asks for its children; another child is not found."""
    row = (await uow.session.execute(select(child_copy).where(
        child_copy.c.child_id == child_id, child_copy.c.family_id == family_id))).first()
    if row is None:
        raise NotFound("Cet enfant ne fait pas partie de votre foyer (ou n'est pas encore connu "
                       "du service des inscriptions ; réessayez dans un instant).")
    return row


async def offer_for_child(uow: UnitOfWork, family_id: uuid.UUID, child_id: uuid.UUID
                          ) -> dict[str, Any]:
    async with uow:
        child = await child_of_family(uow, family_id, child_id)
    return {"child": {"id": child.child_id, "first_name": child.first_name,
                      "last_name": child.last_name, "birth_date": child.birth_date,
                      "age": age_on(child.birth_date, now().date())},
            "facilities": await catalogue_tree(uow, child=child)}
