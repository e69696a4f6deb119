"""Enrolment on a real database (SQLite and PostgreSQL); identity's facts arrive through the real
event handlers; tokens are verified by the real chassis verifier (with a test key)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from marelle_chassis import migrations
from marelle_contracts import new_envelope
from marelle_contracts.identity import ChildFacts, FamilyCreated
from marelle_enrolment import handlers
from marelle_enrolment.config import EnrolmentSettings
from marelle_enrolment.main import MIGRATIONS, create_app
from tests.support import tokens


@dataclass
class Family:
    id: uuid.UUID
    children: dict[str, uuid.UUID]
    headers: dict[str, str]


@dataclass
class Enrolment:
    client: httpx.AsyncClient
    app: object
    staff: dict[str, str]

    async def family(self, name: str, children: dict[str, date]) -> Family:
        family_id = uuid.uuid4()
        facts = [ChildFacts(child_id=uuid.uuid4(), first_name=first, last_name=name, birth_date=born)
                 for first, born in children.items()]
        event = FamilyCreated(family_id=family_id, name=f"Famille {name}", children=facts)
        # Identity's event, applied by enrolment's own consumer code.
        await handlers.identity_events(self.app.state.runtime)(
            new_envelope(event, producer="identity"))
        return Family(family_id, {c.first_name: c.child_id for c in facts}, tokens.parent(family_id))

    async def post(self, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=headers or self.staff)

    async def catalogue(self, *, capacity: int = 12, validation: str = "structure",
                        promotion: str = "automatique", opens_in: timedelta = -timedelta(days=1),
                        closes_in: timedelta = timedelta(days=14), start: date | None = None,
                        min_age: int = 6, max_age: int = 8) -> dict[str, uuid.UUID]:
        """The guide's example: CENTRE DE LOISIRS ALSH › Mercredi, vacances › AUTOMNE › period
        › « 6-8 ans Rémond »."""
        now = datetime.now(UTC)
        start = start or (now + timedelta(days=30)).date()
        ids: dict[str, uuid.UUID] = {}
        r = await self.post("/staff/facilities", {"name": f"CENTRE DE LOISIRS ALSH {uuid.uuid4().hex[:4]}"})
        ids["facility"] = uuid.UUID(r.json()["id"])
        r = await self.post("/staff/activity-types", {"facility_id": str(ids["facility"]),
                                                      "name": "Mercredi, vacances"})
        ids["type"] = uuid.UUID(r.json()["id"])
        r = await self.post("/staff/activities", {"activity_type_id": str(ids["type"]), "name": "AUTOMNE"})
        ids["activity"] = uuid.UUID(r.json()["id"])
        r = await self.post("/staff/periods", {
            "activity_id": str(ids["activity"]), "label": "Automne 2026",
            "start_date": start.isoformat(), "end_date": (start + timedelta(days=14)).isoformat(),
            "opens_at": (now + opens_in).isoformat(), "closes_at": (now + closes_in).isoformat(),
            "memo": "Attention les inscriptions sont à la semaine.",
            "validation_mode": validation, "promotion_mode": promotion})
        assert r.status_code == 201, r.text
        ids["period"] = uuid.UUID(r.json()["id"])
        r = await self.post("/staff/groups", {"period_id": str(ids["period"]), "label": "6-8 ans Rémond",
                                              "min_age": min_age, "max_age": max_age,
                                              "capacity": capacity})
        ids["group"] = uuid.UUID(r.json()["id"])
        return ids

    async def request(self, family: Family, child: str, group_id: uuid.UUID, **extra) -> httpx.Response:
        return await self.post(f"/families/{family.id}/registrations",
                               {"child_id": str(family.children[child]), "group_id": str(group_id),
                                **extra}, headers=family.headers)


def born_years_ago(years: int) -> date:
    today = date.today()
    return date(today.year - years, 1, 15)


@pytest.fixture
async def enrolment(database_url: str):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    # The decider is woken by each ticket; no background polling to disturb statement counts.
    app = create_app(EnrolmentSettings(database_url=database_url, kafka_enabled=False,
                                       queue_poll_seconds=3600))
    async with app.router.lifespan_context(app):
        app.state.token_verifier = tokens.verifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://enrolment.test") as client:
            yield Enrolment(client, app, tokens.staff())
