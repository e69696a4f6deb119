"""Identity's composition root: the one place where its pieces are wired."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fastapi import FastAPI

from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_identity import api, usecases
from marelle_identity.config import IdentitySettings
from marelle_identity.db import metadata
from marelle_identity.keys import KeyRing

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: IdentitySettings) -> ServiceRuntime:
    return ServiceRuntime(settings, metadata, MIGRATIONS)


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    runtime = build_runtime(settings)
    keys = KeyRing()
    app = create_service_app(
        runtime, title="Marelle — identity", routers=[api.router],
        description="Accounts, staff, households, persons; publishes marelle.identity.v1",
        on_startup=[lambda: keys.load_or_create(runtime.sessions)],
    )
    app.state.keys = keys
    app.state.settings = settings
    return app


async def seed_demo(settings: IdentitySettings) -> None:  # type: ignore[misc]
    """Load the demo data (idempotent): an administrator and one family with a child."""
    runtime = build_runtime(settings)
    await runtime.start()
    try:
        await usecases.ensure_staff_account(
            runtime.uow(), settings.demo_admin_email, settings.demo_admin_password,
            "Administratrice de démonstration", ["administrator", "manager"])
        try:
            await usecases.create_family(
                runtime.uow(), "Famille Martin", "famille.martin@example.org",
                [usecases.NewChild("Léa", "Martin", date(2017, 5, 14), None)], needs_review=False)
        except usecases.Conflict:
            pass  # already there: seeding twice changes nothing
    finally:
        await runtime.stop()
