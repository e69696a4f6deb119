"""Booking's composition root: the one place where its pieces are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from marelle_chassis.decider import Decider

from marelle_chassis.catalogue_copy import period_copy_router
from marelle_chassis.audit import audit_router
from marelle_chassis.dead_letters import dead_letter_router
from marelle_chassis.identity_copy import child_copy_router, family_copy_router
from marelle_chassis.messaging import subscribe
from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_contracts import Topics, dlq_topic
from marelle_booking import api, handlers, registrations
from marelle_booking.clock import Clock, system_clock
from marelle_booking.config import BookingSettings
from marelle_booking.db import child_copy, family_copy, metadata, staff_audit, period_copy
from marelle_booking.usecases import tickets

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: BookingSettings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = settings or BookingSettings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS)
    routers = [*api.routers, audit_router(staff_audit, runtime.engine, runtime.name),
               child_copy_router(child_copy, runtime.sessions),
               family_copy_router(family_copy, runtime.sessions),
               registrations.router(runtime.sessions),
               period_copy_router(period_copy, runtime.sessions)]
    if runtime.broker:
        subscribe(runtime.broker, Topics.IDENTITY, group_id=handlers.IDENTITY_CONSUMER,
                  handle=handlers.identity_events(runtime), batch=True)
        # In batches too: at an opening enrolment publishes two events per ticket.
        subscribe(runtime.broker, Topics.ENROLMENT, group_id=handlers.ENROLMENT_CONSUMER,
                  handle=handlers.enrolment_events(runtime), batch=True)
        routers.append(dead_letter_router(
            settings.kafka_bootstrap_servers,
            [dlq_topic(Topics.IDENTITY), dlq_topic(Topics.ENROLMENT)],
            [handlers.IDENTITY_CONSUMER, handlers.ENROLMENT_CONSUMER],
            runtime.engine, metadata))
    # The opening queue: tickets acknowledged here (or by another process) decided in batches.
    decider = Decider("booking-tickets", lambda: tickets.decide_pending(
        runtime.uow, clock, batch_size=settings.queue_batch_size),
        poll_seconds=settings.queue_poll_seconds,
        linger_seconds=settings.queue_linger_seconds,
        max_backlog=settings.queue_max_backlog,
        admission_wait=settings.queue_admission_wait_seconds)
    app = create_service_app(
        runtime, title="Marelle — booking", routers=routers,
        lanes=api.lanes if settings.queue_fast_lane else (),
        on_startup=[decider.start], on_shutdown=[decider.stop],
        description="Booking calendars, reservations, day waiting lists, typical weeks, shuttles, "
                    "roll calls; consumes marelle.identity.v1 and marelle.enrolment.v1, publishes "
                    "marelle.booking.v1. See API.md.")
    app.state.settings = settings
    app.state.clock = clock
    app.state.decider = decider
    if settings.queue_coalesce_acknowledgements and runtime.engine.dialect.name == "postgresql":
        app.state.acknowledgements = tickets.Acknowledgements(runtime.uow)
    return app
