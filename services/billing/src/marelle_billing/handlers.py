"""Billing's Kafka adapter: which events it consumes and what each one changes."""

from marelle_chassis.identity_copy import child_copy_handlers
from marelle_chassis.messaging import EventDispatcher
from marelle_chassis.runtime import ServiceRuntime
from marelle_billing.db import child_copy, family_copy

CONSUMER = "billing.identity-events"


def identity_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(CONSUMER, runtime.uow, child_copy_handlers(child_copy, family_copy))
