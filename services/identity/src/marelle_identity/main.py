"""Identity's composition root: the one place where its pieces are wired."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from marelle_chassis.domain_errors import Conflict
from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_chassis.settings import UnsafeConfiguration, check_secret
from marelle_chassis.uow import UnitOfWork
from marelle_chassis.messaging import EventDispatcher, subscribe
from marelle_contracts import Topics
from marelle_identity import api, family_notices, secretbox
from marelle_identity.api.deps import SessionCheckingVerifier
from marelle_identity.config import DEMO_FAMILY, DEMO_STAFF, IdentitySettings
from marelle_identity.db import metadata
from marelle_identity.keys import KeyRing
from marelle_identity.mailer import Mailer
from marelle_identity.usecases import accounts, households
from marelle_identity.usecases.common import prepare_dummy_hash, verify_password

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

    problems = production_problems(settings)
    if problems:
        raise ProductionConfigError(problems)

    async def startup() -> None:
        if settings.production:
            left = await demo_credentials_left(runtime.sessions)
            if left:
                raise ProductionConfigError(left)
        await prepare_dummy_hash()
        await keys.load_or_create(runtime.sessions)
        # Identity verifies its own tokens with its own keys, without an HTTP round trip.
        app.state.token_verifier = SessionCheckingVerifier(keys.jwks(), uow_factory)
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


class ProductionConfigError(UnsafeConfiguration):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(explain(problems))


def explain(problems: list[str]) -> str:
    return ("identity : démarrage en production refusé (MARELLE_ENV=production) :\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\n(MARELLE_ENV=development seulement sur un poste de développement)")


def production_problems(settings: IdentitySettings) -> list[str]:
    """What a production start refuses: known or missing secrets, mail in clear text."""
    if not settings.production:
        return []
    problems = []
    if problem := check_secret("MARELLE_PROXY_SECRET", settings.proxy_secret):
        problems.append(problem + " : la passerelle et le back-office ne pourraient pas prouver "
                        "les adresses des clients qu'ils transmettent (générez-en un : python -c "
                        "'import secrets; print(secrets.token_urlsafe(32))', le même pour tous "
                        "les processus)")
    if settings.mail_enabled and settings.smtp_security == "none":
        problems.append("SMTP sans chiffrement : laissez IDENTITY_SMTP_STARTTLS=true (par défaut "
                        "en production) ou réglez IDENTITY_SMTP_SECURITY=starttls|tls")
    if settings.smtp_user and not settings.smtp_password:
        problems.append("IDENTITY_SMTP_USER est réglé mais IDENTITY_SMTP_PASSWORD manque")
    if problem := secretbox.key_problem(settings.totp_key):
        problems.append(problem + " : les secrets de double authentification du personnel "
                        "seraient lisibles dans une copie de la base (générez une clé : python -c "
                        "'from cryptography.fernet import Fernet; "
                        "print(Fernet.generate_key().decode())')")
    if not settings.portal_url.startswith("https://"):
        problems.append(f"IDENTITY_PORTAL_URL ({settings.portal_url}) doit être l'adresse "
                        "publique https:// du portail (les liens des e-mails y mènent)")
    return problems


async def demo_credentials_left(sessions: Any) -> list[str]:
    """Demo accounts that still open with their published password (a production database
    seeded by mistake, or copied from a demo)."""
    from sqlalchemy import select

    from marelle_identity.config import DEMO_FAMILY, DEMO_STAFF
    from marelle_identity.db import account, staff_account

    found = []
    async with sessions() as session:
        for table, email, password in (
                [(staff_account, e, p) for e, p, _, _ in DEMO_STAFF]
                + [(account, DEMO_FAMILY[0], DEMO_FAMILY[1])]):
            hashed = await session.scalar(select(table.c.password_hash)
                                          .where(table.c.email == email))
            if hashed and await verify_password(hashed, password):
                found.append(f"le compte de démonstration {email} a toujours son mot de "
                             "passe publié : changez-le ou supprimez le compte")
    return found


async def seed_demo(settings: IdentitySettings) -> None:  # type: ignore[misc]
    """Load the demo data (idempotent): an administrator, a manager, one active family.
    Development only: their passwords are published."""
    if settings.production:
        raise SystemExit("seed-demo refusé en production (MARELLE_ENV=production) : les mots de "
                         "passe des comptes de démonstration sont publics. Créez le premier "
                         "administrateur avec `python -m marelle_identity create-admin --email "
                         "…`.")
    runtime, _, uow_factory = build(settings)
    await runtime.start()
    try:
        for email, password, name, roles in DEMO_STAFF:
            await accounts.ensure_staff_account(uow_factory(), email, password, name, roles)
        try:
            await accounts.create_active_family(uow_factory(), "Famille Martin", DEMO_FAMILY[0],
                                                DEMO_FAMILY[1], households.NewGuardian("Claire", "Martin"))
        except Conflict:
            return  # already there: seeding twice changes nothing
        async with uow_factory() as uow:
            from sqlalchemy import select, update

            from marelle_identity.db import family
            family_id = await uow.session.scalar(
                select(family.c.id).where(family.c.email == DEMO_FAMILY[0]))
            await uow.session.execute(update(family).where(family.c.id == family_id)
                                      .values(needs_review=False))
            await uow.commit()
        await households.add_child(uow_factory(), family_id,
                                   households.NewChild("Léa", "Martin", date(2017, 5, 14), None))
        await households.add_child(uow_factory(), family_id,
                                   households.NewChild("Hugo", "Martin", date(2019, 9, 2), None))
    finally:
        await runtime.stop()


async def create_admin(settings: IdentitySettings, email: str, name: str) -> str | None:
    """The first administrator (or another one): a generated one-time password, to be changed
    at the first login. None when the address already has a staff account."""
    import secrets

    runtime, _, uow_factory = build(settings)
    await runtime.start()
    try:
        password = secrets.token_urlsafe(15)
        created = await accounts.ensure_staff_account(
            uow_factory(), email, password, name, ["administrator", "manager"],
            must_change_password=True)
        return password if created else None
    finally:
        await runtime.stop()
