"""Enrolment's composition root: the one place where its pieces are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from marelle_chassis.audit import audit_router
from marelle_chassis.decider import Decider
from marelle_chassis.dead_letters import dead_letter_router
from marelle_chassis.identity_copy import child_copy_router, family_copy_router
from marelle_chassis.messaging import subscribe
from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_contracts import Topics, dlq_topic
from marelle_enrolment import api, handlers, residency, schools
from marelle_enrolment.config import EnrolmentSettings
from marelle_enrolment.db import child_copy, family_copy, metadata, staff_audit
from marelle_enrolment.usecases import tickets

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    settings = settings or EnrolmentSettings()
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS)
    routers = [*api.routers, audit_router(staff_audit, runtime.engine, runtime.name),
               child_copy_router(child_copy, runtime.sessions),
               family_copy_router(family_copy, runtime.sessions)]
    if runtime.broker:
        subscribe(runtime.broker, Topics.IDENTITY, group_id=handlers.CONSUMER,
                  handle=handlers.identity_events(runtime), batch=True)
        subscribe(runtime.broker, Topics.SCHOOLS, group_id=schools.CONSUMER,
                  handle=schools.schools_events(runtime))
        # Residency only (the residents' opening, issue #10); billing's other events ignored.
        subscribe(runtime.broker, Topics.BILLING, group_id=residency.CONSUMER,
                  handle=residency.residency_events(runtime))
        routers.append(dead_letter_router(
            settings.kafka_bootstrap_servers,
            [dlq_topic(Topics.IDENTITY), dlq_topic(Topics.SCHOOLS), dlq_topic(Topics.BILLING)],
            [handlers.CONSUMER, schools.CONSUMER, residency.CONSUMER],
            runtime.engine, metadata))
    # The opening queue's decider (docs/opening-rush.md): woken by this process's tickets,
    # polling for the other processes'.
    decider = Decider("enrolment-tickets",
                      lambda: tickets.decide_once(runtime.uow, settings.queue_batch_size),
                      poll_seconds=settings.queue_poll_seconds,
                      linger_seconds=settings.queue_linger_seconds,
                      max_backlog=settings.queue_max_backlog,
                      admission_wait=settings.queue_admission_wait_seconds)
    app = create_service_app(
        runtime, title="Marelle — enrolment", routers=routers,
        lanes=api.lanes if settings.queue_fast_lane else (),
        on_startup=[decider.start], on_shutdown=[decider.stop],
        description="Catalogue, registrations, waiting lists, attestations, lists per "
                    "school class; consumes marelle.identity.v1, marelle.inbound.schools.v1 and "
                    "marelle.billing.v1 (residency), publishes marelle.enrolment.v1. "
                    "See API.md.")
    app.state.settings = settings
    app.state.decider = decider
    app.state.catalogue_cache = tickets.CatalogueCache(ttl=settings.queue_catalogue_ttl_seconds)
    if settings.queue_coalesce_acknowledgements and runtime.engine.dialect.name == "postgresql":
        app.state.acknowledgements = tickets.Acknowledgements(runtime.uow)
    return app
