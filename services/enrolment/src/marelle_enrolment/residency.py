"""Enrolment's consumer of billing's events (marelle.billing.v1): only `residency_changed`, the
copy of whether a household lives in the city and in which district (the residents' and the
districts' priority openings of a period).

Applied by the profile's version (`apply_if_newer`): a late or replayed event never overwrites a
newer copy. Billing's other events (invoices, payments…) are not enrolment's business: ignored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from marelle_chassis.copies import apply_if_newer, event_version
from marelle_chassis.messaging import EventDispatcher, PayloadHandler
from marelle_chassis.runtime import ServiceRuntime
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.billing import ResidencyChanged
from marelle_enrolment.db import family_residency

CONSUMER = "enrolment.billing-events"


async def residency_changed(p: ResidencyChanged, e: Envelope, uow: UnitOfWork) -> None:
    await apply_if_newer(uow.session, family_residency, {"family_id": p.family_id},
                         event_version(e), {"resident": p.resident, "district": p.district,
                                            "district_label": p.district_label})


HANDLERS: dict[str, PayloadHandler] = {"billing.residency_changed": residency_changed}


def residency_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(CONSUMER, runtime.uow, HANDLERS)


@dataclass(frozen=True)
class Residency:
    """What the openings ask of a household: resident or not, its district (code) if any."""

    resident: bool = False
    district: str | None = None


NOT_KNOWN = Residency()  # unknown to billing: no priority, given on facts only


async def residency_of(uow: UnitOfWork, family_id: uuid.UUID) -> Residency:
    """The household's residency and district (one primary-key read)."""
    row = (await uow.session.execute(
        select(family_residency.c.resident, family_residency.c.district).where(
            family_residency.c.family_id == family_id))).first()
    return Residency(bool(row.resident), row.district) if row else NOT_KNOWN


async def residency_among(uow: UnitOfWork, family_ids: list[uuid.UUID]
                          ) -> dict[uuid.UUID, Residency]:
    """The residency of the households among `family_ids` billing told about (one query)."""
    if not family_ids:
        return {}
    rows = (await uow.session.execute(
        select(family_residency.c.family_id, family_residency.c.resident,
               family_residency.c.district).where(
            family_residency.c.family_id.in_(family_ids)))).all()
    return {r.family_id: Residency(bool(r.resident), r.district) for r in rows}
