"""Families' financial profiles (QF, income, residency): read by « Mon compte » and pricing,
changed by staff with an audit trail (`profile_change`: before/after, who, from what source)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from marelle_chassis.domain_errors import Conflict
from marelle_chassis.uow import UnitOfWork
from marelle_contracts.http.billing import FinancialProfile, ProfileChange
from marelle_billing.db import financial_profile, profile_change
from marelle_billing.domain.pricing import bracket_for
from marelle_billing.usecases.catalogue import load_brackets

FIELDS = ("qf", "qf_date", "qf_source", "income_cents", "income_year", "dependent_children",
          "resident")
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
    row = (await uow.session.execute(select(financial_profile).where(
        financial_profile.c.family_id == family_id))).first()
    state = _state(row)
    bracket = bracket_for(state["qf"], await load_brackets(uow))
    return FinancialProfile(family_id=family_id, **state,
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


async def set_profile(uow: UnitOfWork, family_id: uuid.UUID, body: dict[str, Any],
                      changed_by: str, now: datetime) -> FinancialProfile:
    after = {f: body.get(f) for f in FIELDS}
    async with uow:
        row = (await uow.session.execute(select(financial_profile).where(
            financial_profile.c.family_id == family_id))).first()
        before = _state(row)
        try:
            if row is None:
                await uow.session.execute(insert(financial_profile).values(
                    family_id=family_id, version=1, updated_at=now, **after))
                await uow.session.flush()
            else:
                # Compare-and-set on the version read: a concurrent change is not overwritten
                # blindly (its history would lie about « before »).
                done = (await uow.session.execute(
                    update(financial_profile)
                    .where(financial_profile.c.family_id == family_id,
                           financial_profile.c.version == row.version)
                    .values(**after, updated_at=now, version=financial_profile.c.version + 1)
                    .returning(financial_profile.c.version))).first()
                if done is None:
                    raise Conflict(CHANGED_MEANWHILE)
        except IntegrityError:
            raise Conflict(CHANGED_MEANWHILE) from None
        await uow.session.execute(insert(profile_change).values(
            change_id=uuid.uuid4(), family_id=family_id, changed_at=now,
            changed_by=_subject_id(changed_by), source=body.get("qf_source") or "saisie",
            reason=body.get("reason"), before=_json(before), after=_json(after)))
        view = await _with_history(uow, family_id)
        await uow.commit()
    return view
