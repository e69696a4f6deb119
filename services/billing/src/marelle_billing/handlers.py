"""Billing's Kafka adapter: which events it consumes and what each one changes."""

from collections.abc import Callable
from datetime import datetime

from marelle_chassis.catalogue_copy import period_copy_handlers
from marelle_chassis.identity_copy import child_copy_handlers
from marelle_chassis.messaging import EventDispatcher
from marelle_chassis.runtime import ServiceRuntime
from marelle_billing import booking_copy
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.identity import HouseholdAnonymised
from marelle_contracts.inbound import FamilyQuotientUpdated
from marelle_billing.db import child_copy, family_copy, period_copy
from marelle_billing.usecases import privacy, profiles

IDENTITY_CONSUMER = "billing.identity-events"
ENROLMENT_CONSUMER = "billing.enrolment-events"
BOOKING_CONSUMER = "billing.booking-events"
QUOTIENT_CONSUMER = "billing.quotient-events"


def identity_events(runtime: ServiceRuntime) -> EventDispatcher:
    handlers = child_copy_handlers(child_copy, family_copy)
    copy_anonymised = handlers["identity.household_anonymised"]

    async def household_anonymised(p: HouseholdAnonymised, e: Envelope, uow: UnitOfWork) -> None:
        await copy_anonymised(p, e, uow)
        await privacy.anonymise_household(uow, p)

    handlers["identity.household_anonymised"] = household_anonymised
    return EventDispatcher(IDENTITY_CONSUMER, runtime.uow, handlers)


def enrolment_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(ENROLMENT_CONSUMER, runtime.uow, period_copy_handlers(period_copy))


def booking_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(BOOKING_CONSUMER, runtime.uow, booking_copy.handlers())


def quotient_events(runtime: ServiceRuntime, clock: Callable[[], datetime]) -> EventDispatcher:
    """The CAF/MSA connector's QF (marelle.inbound.quotient.v1) into the financial profiles."""

    async def quotient_updated(p: FamilyQuotientUpdated, e: Envelope, uow: UnitOfWork) -> None:
        await profiles.apply_quotient(uow, p, clock())

    return EventDispatcher(QUOTIENT_CONSUMER, runtime.uow,
                           {"quotient.family_quotient_updated": quotient_updated})
