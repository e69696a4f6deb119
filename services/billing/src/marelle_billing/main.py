"""Billing's composition root: the one place where its pieces are wired."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from marelle_chassis.catalogue_copy import period_copy_router
from marelle_chassis.dashboard import nothing_yet, requests_router
from marelle_chassis.audit import audit_router
from marelle_chassis.dead_letters import dead_letter_router
from marelle_chassis.identity_copy import child_copy_router, family_copy_router
from marelle_chassis.messaging import subscribe
from marelle_chassis.clock import Clock, system_clock
from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_chassis.settings import UnsafeConfiguration
from marelle_contracts import Topics, dlq_topic
from marelle_billing import api, booking_copy, handlers
from marelle_billing.config import BillingSettings
from marelle_billing.db import child_copy, family_copy, metadata, staff_audit, period_copy
from marelle_billing.runner import Runner

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: BillingSettings | None = None, clock: Clock = system_clock) -> FastAPI:
    settings = settings or BillingSettings()
    if settings.payment_sandbox and not settings.is_development:
        # The sandbox bank accepts forged answers by design: never in production.
        raise UnsafeConfiguration("billing : démarrage en production refusé : "
                                  "BILLING_PAYMENT_SANDBOX=true (banque de test) n'est permis "
                                  "qu'en développement (MARELLE_ENV=development).")
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS)
    routers = [*api.routers, audit_router(staff_audit, runtime.engine, runtime.name),
               child_copy_router(child_copy, runtime.sessions),
               family_copy_router(family_copy, runtime.sessions),
               requests_router(nothing_yet),
               period_copy_router(period_copy, runtime.sessions),
               booking_copy.router(runtime.sessions)]
    if runtime.broker:
        subscribe(runtime.broker, Topics.IDENTITY, group_id=handlers.IDENTITY_CONSUMER,
                  handle=handlers.identity_events(runtime), batch=True)
        subscribe(runtime.broker, Topics.ENROLMENT, group_id=handlers.ENROLMENT_CONSUMER,
                  handle=handlers.enrolment_events(runtime))
        subscribe(runtime.broker, Topics.BOOKING, group_id=handlers.BOOKING_CONSUMER,
                  handle=handlers.booking_events(runtime))
        subscribe(runtime.broker, Topics.QUOTIENT, group_id=handlers.QUOTIENT_CONSUMER,
                  handle=handlers.quotient_events(runtime, lambda: app.state.clock()))
        routers.append(dead_letter_router(
            settings.kafka_bootstrap_servers,
            [dlq_topic(Topics.IDENTITY), dlq_topic(Topics.ENROLMENT), dlq_topic(Topics.BOOKING),
             dlq_topic(Topics.QUOTIENT)],
            [handlers.IDENTITY_CONSUMER, handlers.ENROLMENT_CONSUMER, handlers.BOOKING_CONSUMER,
             handlers.QUOTIENT_CONSUMER],
            runtime.engine, metadata))
    # Invoicing runs compute in the background of this process; those a stop or a crash left
    # unfinished resume at startup. The clock is read through app.state (tests move it).
    runner = Runner(runtime.uow, settings.run_batch_size, lambda: app.state.clock())
    app = create_service_app(
        runtime, title="Marelle — billing", routers=routers,
        on_startup=[runner.resume], on_shutdown=[runner.stop],
        description="Billing: QF brackets, régies, tariffs, financial profiles, invoicing runs, "
                    "invoices and credit notes, payments (online and manual), SEPA, fiscal "
                    "attestations; consumes marelle.identity.v1, marelle.enrolment.v1, "
                    "marelle.booking.v1 and marelle.inbound.quotient.v1, publishes "
                    "marelle.billing.v1. See API.md.")
    app.state.settings = settings
    app.state.clock = clock
    app.state.runner = runner
    return app
