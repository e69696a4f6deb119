"""Identity's composition root: the one place where its pieces are wired."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from marelle_chassis.auth import TokenVerifier
from marelle_chassis.domain_errors import Conflict
from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_chassis.uow import UnitOfWork
from marelle_chassis.messaging import EventDispatcher, subscribe
from marelle_contracts import Topics
from marelle_identity import api, family_notices
from marelle_identity.config import IdentitySettings
from marelle_identity.db import metadata
from marelle_identity.keys import KeyRing
from marelle_identity.mailer import Mailer
from marelle_identity.usecases import accounts, households

MIGRATIONS = Path(__file__).parent / "migrations"


class IdentityUnitOfWork(UnitOfWork):
    """Also knows how to wake the mailer once queued emails are committed."""

    def __init__(self, *args: Any, wake_mailer: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake_mailer = wake_mailer or (lambda: None)


def build(settings: IdentitySettings) -> tuple[ServiceRuntime, Mailer, Any]:
    runtime = ServiceRuntime(settings, metadata, MIGRATIONS)
    mailer = Mailer(runtime.engine, settings)

    def uow_factory() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(runtime.sessions, metadata, producer=runtime.name,
                                  on_commit=runtime.relay.notify if runtime.relay else None,
                                  wake_mailer=mailer.notify)

    return runtime, mailer, uow_factory


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    runtime, mailer, uow_factory = build(settings)
    keys = KeyRing()

    async def startup() -> None:
        await keys.load_or_create(runtime.sessions)
        # Identity verifies its own tokens with its own keys, without an HTTP round trip.
        app.state.token_verifier = TokenVerifier(jwks=keys.jwks())
        if settings.mail_enabled:
            mailer.start()

    async def shutdown() -> None:
        if settings.mail_enabled:
            await mailer.stop()

    if runtime.broker:
        # The other services' decisions, emailed to the families.
        subscribe(runtime.broker, Topics.ENROLMENT, group_id=family_notices.CONSUMER,
                  handle=EventDispatcher(family_notices.CONSUMER, uow_factory,
                                         family_notices.handlers(settings)))
        subscribe(runtime.broker, Topics.BOOKING, group_id=family_notices.BOOKING_CONSUMER,
                  handle=EventDispatcher(family_notices.BOOKING_CONSUMER, uow_factory,
                                         family_notices.booking_handlers(settings)))
        subscribe(runtime.broker, Topics.BILLING, group_id=family_notices.BILLING_CONSUMER,
                  handle=EventDispatcher(family_notices.BILLING_CONSUMER, uow_factory,
                                         family_notices.billing_handlers(settings)))
    app = create_service_app(
        runtime, title="Marelle — identity", routers=api.routers,
        description="Accounts, staff, households, persons, contact details; "
                    "publishes marelle.identity.v1. See API.md.",
        on_startup=[startup], on_shutdown=[shutdown],
    )
    app.state.keys = keys
    app.state.settings = settings
    app.state.uow_factory = uow_factory
    app.state.mailer = mailer
    return app


async def seed_demo(settings: IdentitySettings) -> None:  # type: ignore[misc]
    """Load the demo data (idempotent): an administrator, a manager, one active family."""
    runtime, _, uow_factory = build(settings)
    await runtime.start()
    try:
        await accounts.ensure_staff_account(
            uow_factory(), settings.demo_admin_email, settings.demo_admin_password,
            "Administratrice de démonstration", ["administrator", "manager"])
        await accounts.ensure_staff_account(
            uow_factory(), "gestionnaire@marelle.local", "marelle-gestion",
            "Gestionnaire de démonstration", ["manager"])
        try:
            await accounts.signup(uow_factory(), "Famille Martin", "famille.martin@example.org",
                                  "marelle-famille", households.NewGuardian("Claire", "Martin"))
        except Conflict:
            return  # already there: seeding twice changes nothing
        async with uow_factory() as uow:
            from sqlalchemy import select, update

            from marelle_identity.db import family
            family_id = await uow.session.scalar(
                select(family.c.id).where(family.c.email == "famille.martin@example.org"))
            await uow.session.execute(update(family).where(family.c.id == family_id)
                                      .values(needs_review=False))
            await uow.commit()
        await households.add_child(uow_factory(), family_id,
                                   households.NewChild("Léa", "Martin", date(2017, 5, 14), None))
        await households.add_child(uow_factory(), family_id,
                                   households.NewChild("Hugo", "Martin", date(2019, 9, 2), None))
    finally:
        await runtime.stop()
