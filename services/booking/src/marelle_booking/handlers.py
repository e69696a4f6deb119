"""Booking's Kafka adapter: which events it consumes and what each one changes."""

from marelle_chassis.catalogue_copy import period_copy_handlers
from marelle_chassis.identity_copy import child_copy_handlers
from marelle_chassis.messaging import EventDispatcher
from marelle_chassis.runtime import ServiceRuntime
from marelle_booking import registrations
from marelle_booking.db import child_copy, family_copy, period_copy

IDENTITY_CONSUMER = "booking.identity-events"
ENROLMENT_CONSUMER = "booking.enrolment-events"


def identity_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(IDENTITY_CONSUMER, runtime.uow, child_copy_handlers(child_copy, family_copy))


def enrolment_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(ENROLMENT_CONSUMER, runtime.uow,
                           {**registrations.handlers(), **period_copy_handlers(period_copy)})
