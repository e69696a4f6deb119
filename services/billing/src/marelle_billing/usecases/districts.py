"""The city's districts (« quartiers »): a referential kept by staff next to residency. A
household's district is set on its financial profile (usecases/profiles.py) from the same proof
of address; enrolment opens a period earlier to some districts (issue #10)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict, InvalidInput, NotFound
from marelle_chassis.uow import UnitOfWork
from marelle_billing.db import district, financial_profile

UNKNOWN = "Ce quartier est inconnu."
TAKEN = "Un quartier porte déjà ce code ou ce nom."


def _label(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise InvalidInput("Le nom du quartier est obligatoire.",
                           erreurs=[{"champ": "label",
                                     "message": "Le nom du quartier est obligatoire."}])
    return cleaned


async def list_districts(uow: UnitOfWork) -> dict[str, Any]:
    """The districts by name, each with the number of households set in it (one query)."""
    async with uow:
        rows = (await uow.session.execute(
            select(district.c.code, district.c.label,
                   func.count(financial_profile.c.family_id).label("households"))
            .outerjoin(financial_profile, financial_profile.c.district == district.c.code)
            .group_by(district.c.code, district.c.label).order_by(district.c.label))).all()
    return {"districts": [r._asdict() for r in rows]}


async def district_label(uow: UnitOfWork, code: str | None) -> str | None:
    """The district's name (inside the caller's unit of work); an unknown code is the form's
    field error."""
    if code is None:
        return None
    label = await uow.session.scalar(select(district.c.label).where(district.c.code == code))
    if label is None:
        message = f"Le quartier « {code} » est inconnu : choisissez-en un de la liste."
        raise InvalidInput(message, erreurs=[{"champ": "district", "message": message}])
    return str(label)


async def create_district(uow: UnitOfWork, code: str, label: str,
                          actor: Principal) -> dict[str, Any]:
    label = _label(label)
    async with uow:
        try:
            await uow.session.execute(insert(district).values(code=code, label=label))
            await uow.session.flush()
        except IntegrityError:
            raise Conflict(TAKEN) from None
        await audit(uow, actor, "quartier.cree", f"quartier:{code}",
                    after={"code": code, "label": label})
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(TAKEN) from None
    return {"code": code, "label": label, "households": 0}


async def rename_district(uow: UnitOfWork, code: str, label: str,
                          actor: Principal) -> dict[str, Any]:
    """A new name; the code stays (households and periods name the district by it). Profiles
    are not republished: enrolment shows the name copied on each period's opening."""
    label = _label(label)
    async with uow:
        before = await uow.session.scalar(select(district.c.label).where(district.c.code == code))
        if before is None:
            raise NotFound(UNKNOWN)
        try:
            await uow.session.execute(update(district).where(district.c.code == code)
                                      .values(label=label))
            await uow.session.flush()
        except IntegrityError:
            raise Conflict(TAKEN) from None
        households = int(await uow.session.scalar(select(func.count()).where(
            financial_profile.c.district == code)) or 0)
        await audit(uow, actor, "quartier.renomme", f"quartier:{code}",
                    before={"label": before}, after={"label": label})
        await uow.commit()
    return {"code": code, "label": label, "households": households}


async def delete_district(uow: UnitOfWork, code: str, actor: Principal) -> None:
    """Refused while a household is set in it (the foreign key answers a racing assignment)."""
    in_use = Conflict("Des foyers sont rattachés à ce quartier : changez d'abord leur quartier "
                      "(profil financier) avant de le supprimer.")
    async with uow:
        row = (await uow.session.execute(select(district).where(district.c.code == code))).first()
        if row is None:
            raise NotFound(UNKNOWN)
        if await uow.session.scalar(select(financial_profile.c.family_id).where(
                financial_profile.c.district == code).limit(1)) is not None:
            raise in_use
        try:
            await uow.session.execute(delete(district).where(district.c.code == code))
            await audit(uow, actor, "quartier.supprime", f"quartier:{code}",
                        before={"code": code, "label": row.label})
            await uow.commit()
        except IntegrityError:
            raise in_use from None
