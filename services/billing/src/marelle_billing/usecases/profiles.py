"""Families' financial profiles (QF, income, residency): read by « Mon compte » and pricing,
changed by staff, or by the CAF/MSA connector's quotient events, with an audit trail
(`profile_change`: before/after, who, from what source)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.audit import audit
from marelle_chassis.auth import Principal
from marelle_chassis.domain_errors import Conflict
from marelle_chassis.messaging import PermanentError
from marelle_chassis.uow import UnitOfWork
from marelle_contracts.billing import ResidencyChanged
from marelle_contracts.http.billing import FinancialProfile, ProfileChange
from marelle_contracts.inbound import FamilyQuotientUpdated
from marelle_billing.db import district, family_copy, financial_profile, profile_change
from marelle_billing.domain.pricing import bracket_for
from marelle_billing.usecases.catalogue import load_brackets
from marelle_billing.usecases.districts import district_label

FIELDS = ("qf", "qf_date", "qf_source", "income_cents", "income_year", "dependent_children",
          "resident", "district")
CHANGED_MEANWHILE = ("Ce profil vient d'être modifié par quelqu'un d'autre : rechargez-le avant "
                     "de l'enregistrer.")


def _state(row: Any | None) -> dict[str, Any]:
    if row is None:
        return {f: None for f in FIELDS} | {"resident": True}
    return {f: getattr(row, f) for f in FIELDS}


def _json(state: dict[str, Any]) -> str:
    return json.dumps({k: v.isoformat() if isinstance(v, date) else v for k, v in state.items()},
                      sort_keys=True)


async def profile_view(uow: UnitOfWork, family_id: uuid.UUID) -> FinancialProfile:
    """The family's profile and the bracket its QF gives (inside the caller's unit of work). A
    family without a profile: unknown values, resident, version 0."""
    row = (await uow.session.execute(
        select(financial_profile, district.c.label.label("district_label"))
        .outerjoin(district, district.c.code == financial_profile.c.district)
        .where(financial_profile.c.family_id == family_id))).first()
    state = _state(row)
    bracket = bracket_for(state["qf"], await load_brackets(uow))
    return FinancialProfile(family_id=family_id, **state,
                            district_label=row.district_label if row else None,
                            bracket_code=bracket.code if bracket else None,
                            bracket_label=bracket.label if bracket else None,
                            version=row.version if row else 0)


async def _with_history(uow: UnitOfWork, family_id: uuid.UUID) -> FinancialProfile:
    view = await profile_view(uow, family_id)
    changes = (await uow.session.execute(
        select(profile_change).where(profile_change.c.family_id == family_id)
        .order_by(profile_change.c.changed_at.desc()))).all()
    history = [{"changed_at": c.changed_at, "changed_by": c.changed_by, "source": c.source,
                "reason": c.reason, "before": json.loads(c.before), "after": json.loads(c.after)}
               for c in changes]
    return view.model_copy(update={"history": [ProfileChange.model_validate(h)
                                               for h in history]})


async def profile(uow: UnitOfWork, family_id: uuid.UUID) -> FinancialProfile:
    async with uow:
        return await _with_history(uow, family_id)


def _subject_id(subject: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


async def _write(uow: UnitOfWork, family_id: uuid.UUID, row: Any | None,
                 after: dict[str, Any], *, now: datetime, changed_by: uuid.UUID | None,
                 source: str, reason: str | None, only_if: Any = None) -> bool:
    """Write `after` over the profile `row` read in this unit of work (None: none yet) with its
    history row. The UPDATE is a compare-and-set on the version read (plus `only_if`): a
    concurrent change is not overwritten blindly (its history would lie about « before »). False
    when it matched no row. An insert racing another one raises IntegrityError."""
    if row is None:
        await uow.session.execute(insert(financial_profile).values(
            family_id=family_id, version=1, updated_at=now, **after))
        await uow.session.flush()
        version = 1
    else:
        conditions = [financial_profile.c.family_id == family_id,
                      financial_profile.c.version == row.version]
        if only_if is not None:
            conditions.append(only_if)
        done = (await uow.session.execute(
            update(financial_profile).where(*conditions)
            .values(**after, updated_at=now, version=financial_profile.c.version + 1)
            .returning(financial_profile.c.version))).first()
        if done is None:
            return False
        version = done.version
    # Enrolment's residents' and districts' openings read residency and district: published
    # when the profile is created (billing's « resident » default becomes a fact) or either
    # changes, not on every QF.
    if (row is None or bool(row.resident) != bool(after["resident"])
            or row.district != after["district"]):
        uow.publish(ResidencyChanged(
            family_id=family_id, resident=bool(after["resident"]), district=after["district"],
            district_label=await district_label(uow, after["district"])), version=version)
    await uow.session.execute(insert(profile_change).values(
        change_id=uuid.uuid4(), family_id=family_id, changed_at=now, changed_by=changed_by,
        source=source, reason=reason, before=_json(_state(row)), after=_json(after)))
    return True


async def set_profile(uow: UnitOfWork, family_id: uuid.UUID, body: dict[str, Any],
                      changed_by: str, now: datetime, actor: Principal | None = None
                      ) -> FinancialProfile:
    after = {f: body.get(f) for f in FIELDS}
    async with uow:
        row = (await uow.session.execute(select(financial_profile).where(
            financial_profile.c.family_id == family_id))).first()
        await district_label(uow, after["district"])  # an unknown code: the field's error
        try:
            written = await _write(uow, family_id, row, after, now=now,
                                   changed_by=_subject_id(changed_by),
                                   source=body.get("qf_source") or "saisie",
                                   reason=body.get("reason"))
        except IntegrityError:
            raise Conflict(CHANGED_MEANWHILE) from None
        if not written:
            raise Conflict(CHANGED_MEANWHILE)
        if actor:  # profile_change keeps the history per family; the audit log, per staff member
            await audit(uow, actor, "profil_financier.modifie", f"foyer:{family_id}",
                        before=_state(row), after=after)
        view = await _with_history(uow, family_id)
        await uow.commit()
    return view


# --- the quotient sent by the CAF/MSA data connector (marelle.inbound.quotient.v1) -------------

AUTOMATIC_REASON = "Mise à jour automatique (connecteur CAF/MSA)"


class UnknownFamily(PermanentError):
    """No household (or several) matches the connector's identifiers: retrying cannot help, the
    event is parked in the DLQ for an agent to look at (replayed once the household exists)."""


async def _family_for(uow: UnitOfWork, family_id: uuid.UUID | None,
                      beneficiary_number: str | None, source: str) -> uuid.UUID:
    if family_id is not None:
        if await uow.session.scalar(select(family_copy.c.family_id).where(
                family_copy.c.family_id == family_id)) is None:
            raise UnknownFamily(f"Foyer inconnu « {family_id} » (unknown household).")
        return family_id
    # Identity stores the scheme in capitals (CAF, MSA, AUTRE); a household without a scheme
    # matches on its number alone.
    found = (await uow.session.scalars(select(family_copy.c.family_id).where(
        family_copy.c.beneficiary_number == (beneficiary_number or "").strip(),
        or_(family_copy.c.beneficiary_scheme.is_(None),
            family_copy.c.beneficiary_scheme == source.upper())).limit(2))).all()
    if len(found) != 1:
        what = "aucun foyer" if not found else "plusieurs foyers"
        english = "no household" if not found else "several households"
        raise UnknownFamily(
            f"Numéro d'allocataire {source.upper()} « {beneficiary_number} » : {what} "
            f"correspondant ({english} with that {source.upper()} beneficiary number).")
    return found[0]


async def apply_quotient(uow: UnitOfWork, update_: FamilyQuotientUpdated,
                         now: datetime) -> bool:
    """Apply the connector's QF inside the caller's unit of work (the event consumer's, which
    claims the event id first: a redelivery changes nothing). Only a newer `qf_date` (or the same
    date with another value) replaces the stored one; False when nothing changed. Raises
    `UnknownFamily` (to the DLQ) when no single household matches."""
    source = update_.source.value
    family_id = await _family_for(uow, update_.family_id, update_.beneficiary_number, source)
    new = {"qf": update_.qf, "qf_date": update_.qf_date, "qf_source": source}
    newer = or_(financial_profile.c.qf_date.is_(None),
                financial_profile.c.qf_date < update_.qf_date,
                and_(financial_profile.c.qf_date == update_.qf_date,
                     or_(financial_profile.c.qf.is_(None), financial_profile.c.qf != update_.qf,
                         financial_profile.c.qf_source.is_(None),
                         financial_profile.c.qf_source != source)))
    # The UPDATE checks « newer » itself; the version compare-and-set keeps « before » true. A
    # staff change committed between the read and the UPDATE: read again (bounded).
    for _ in range(3):
        row = (await uow.session.execute(select(financial_profile).where(
            financial_profile.c.family_id == family_id))).first()
        if row is not None and not _is_newer(row, new):
            return False
        if await _write(uow, family_id, row, _state(row) | new, now=now, changed_by=None,
                        source=source, reason=AUTOMATIC_REASON, only_if=newer):
            return True
    raise Conflict(CHANGED_MEANWHILE)  # retried by the consumer


def _is_newer(row: Any, new: dict[str, Any]) -> bool:
    if row.qf_date is None or row.qf_date < new["qf_date"]:
        return True
    return row.qf_date == new["qf_date"] and (row.qf, row.qf_source) != (new["qf"],
                                                                          new["qf_source"])
