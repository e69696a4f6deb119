"""Enrolment's Kafka adapter: which events it consumes and what each one changes."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update

from marelle_chassis.copies import CopyRow, apply_if_newer, apply_many_if_newer, event_version
from marelle_chassis.identity_copy import child_copy_handlers
from marelle_chassis.messaging import EventDispatcher, PayloadHandler, with_bulk
from marelle_chassis.runtime import ServiceRuntime
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.identity import FamilyCreated, FamilyReviewed, HouseholdAnonymised
from marelle_enrolment.db import attestation, child_copy, family_copy, family_review

CONSUMER = "enrolment.identity-events"


async def set_review(uow: UnitOfWork, family_id: Any, version: int, needs_review: bool) -> None:
    """The household's review state, by household version (a late event never undoes a newer
    one). Only « à vérifier » households get a row until they are reviewed."""
    await apply_if_newer(uow.session, family_review, {"family_id": family_id}, version,
                         {"needs_review": needs_review})


def identity_handlers() -> dict[str, PayloadHandler]:
    handlers = child_copy_handlers(child_copy, family_copy)
    copy_family = handlers["identity.family_created"]

    async def family_created(p: FamilyCreated, e: Envelope, uow: UnitOfWork) -> None:
        await copy_family(p, e, uow)
        if p.needs_review:
            await set_review(uow, p.family_id, event_version(e), True)

    async def families_created(items: Sequence[tuple[FamilyCreated, Envelope]],
                               uow: UnitOfWork) -> None:
        # The same two effects for a batch (different tables: copies first, then reviews).
        await copy_family.bulk(items, uow)  # type: ignore[attr-defined]
        await apply_many_if_newer(uow.session, family_review, [
            CopyRow({"family_id": p.family_id}, event_version(e), {"needs_review": True})
            for p, e in items if p.needs_review])

    with_bulk(family_created, families_created)

    async def family_reviewed(p: FamilyReviewed, e: Envelope, uow: UnitOfWork) -> None:
        await set_review(uow, p.family_id, event_version(e), False)

    copy_anonymised = handlers["identity.household_anonymised"]

    async def household_anonymised(p: HouseholdAnonymised, e: Envelope, uow: UnitOfWork) -> None:
        await copy_anonymised(p, e, uow)
        # Registrations stay (ids, dates, statuses); the stored attestation PDFs carry the
        # child's name and are dropped (the attestation row stays, without its document).
        await uow.session.execute(update(attestation).where(attestation.c.family_id == p.family_id)
                                  .values(pdf=None))

    handlers["identity.family_created"] = family_created
    handlers["identity.family_reviewed"] = family_reviewed
    handlers["identity.household_anonymised"] = household_anonymised
    return handlers


def identity_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(CONSUMER, runtime.uow, identity_handlers())
