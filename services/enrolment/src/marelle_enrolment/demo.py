"""Demo catalogue (idempotent), shaped like the guide's examples, with windows open now."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from marelle_chassis.runtime import ServiceRuntime
from marelle_enrolment.config import EnrolmentSettings
from marelle_enrolment.db import facility, metadata
from marelle_enrolment.domain.rules import ValidationMode
from marelle_enrolment.usecases import catalogue

DEMO_FACILITY = "CENTRE DE LOISIRS ALSH"


async def seed_demo(settings: EnrolmentSettings) -> None:
    """Load the demo catalogue (idempotent): ALSH holidays and Wednesdays, school canteen."""
    from marelle_enrolment.main import MIGRATIONS

    runtime = ServiceRuntime(settings, metadata, MIGRATIONS)
    await runtime.start()
    try:
        async with runtime.uow() as uow:
            if await uow.session.scalar(select(facility.c.id).where(facility.c.name == DEMO_FACILITY)):
                return
        now = datetime.now(UTC)
        start = date.today() + timedelta(days=30)
        alsh = await catalogue.create_facility(runtime.uow(), DEMO_FACILITY)
        holidays = await catalogue.create_activity_type(runtime.uow(), alsh, "Mercredi, vacances")
        autumn = await catalogue.create_activity(runtime.uow(), holidays, "AUTOMNE", False)
        period = await catalogue.create_period(runtime.uow(), autumn, catalogue.PeriodIn(
            label=f"Vacances {start.year}", start_date=start, end_date=start + timedelta(days=11),
            opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=21),
            memo="Attention les inscriptions sont à la semaine.",
            validation_mode=ValidationMode.STAFF))
        for label, low, high in [("3-5 ans Rémond", 3, 5), ("6-8 ans Rémond", 6, 8),
                                 ("9-11 ans Rémond", 9, 11)]:
            await catalogue.create_group(runtime.uow(), period, catalogue.GroupIn(label, low, high, 24))
        school = await catalogue.create_facility(runtime.uow(), "GESTION SCOLAIRE / PÉRISCOLAIRE")
        meals = await catalogue.create_activity_type(runtime.uow(), school, "Restauration")
        canteen = await catalogue.create_activity(runtime.uow(), meals, "CANTINE", False)
        year = await catalogue.create_period(runtime.uow(), canteen, catalogue.PeriodIn(
            label=f"Restauration {start.year}/{start.year + 1}", start_date=start,
            end_date=start + timedelta(days=200), opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=60), validation_mode=ValidationMode.AUTO))
        await catalogue.create_group(runtime.uow(), year, catalogue.GroupIn("Élémentaire", 6, 11, 120))
    finally:
        await runtime.stop()
