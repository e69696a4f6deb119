"""Enrolment's consumer of the schools' system (inbound topic marelle.inbound.schools.v1).

The chassis validates each message against `ChildAssignedToClass` before this handler (an invalid
one goes to the topic's DLQ) and the inbox applies each event id once. A child not (yet) in
enrolment's copy is still kept: the schools' system may know the child before the family has an
account, and the class lists show it as « not yet known » until identity's event arrives.
"""

from __future__ import annotations

from marelle_chassis.messaging import EventDispatcher, PayloadHandler
from marelle_chassis.runtime import ServiceRuntime
from marelle_chassis.uow import UnitOfWork
from marelle_contracts import Envelope
from marelle_contracts.inbound import ChildAssignedToClass
from marelle_enrolment.usecases.common import now
from marelle_enrolment.usecases.schools import apply_assignment

CONSUMER = "enrolment.schools-events"


async def child_assigned_to_class(p: ChildAssignedToClass, e: Envelope, uow: UnitOfWork) -> None:
    await apply_assignment(uow.session, p, e.event_id, now())


HANDLERS: dict[str, PayloadHandler] = {"schools.child_assigned_to_class": child_assigned_to_class}


def schools_events(runtime: ServiceRuntime) -> EventDispatcher:
    return EventDispatcher(CONSUMER, runtime.uow, HANDLERS)
