"""Billing's Kafka adapter: which events it consumes and what each one changes."""

from marelle_chassis.catalogue_copy import period_copy_handlers
from marelle_chassis.identity_copy import child_copy_handlers
from marelle_chassis.messaging import EventDispatcher
from marelle_chassis.runtime import ServiceRuntime
from marelle_billing import booking_copy
from marelle_billing.db import child_copy, family_copy, period_copy

IDENTITY_CONSUMER = "billing.identity-events"
ENROLMENT_CONSUMER = "billing.enrolment-events"
BOOKING_CONSUMER = "billing.booking-events"


def identity_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(IDENTITY_CONSUMER, runtime.uow, child_copy_handlers(child_copy, family_copy))


def enrolment_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(ENROLMENT_CONSUMER, runtime.uow, period_copy_handlers(period_copy))


def booking_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(BOOKING_CONSUMER, runtime.uow, booking_copy.handlers())
