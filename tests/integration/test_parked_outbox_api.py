"""`/staff/outbox/parked` on a real service (booking, migrated database, no broker): the events
its relay set aside are listed for administrators and put back in the queue on request."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select

from marelle_chassis import migrations
from marelle_chassis.messaging_tables import outbox_table
from marelle_contracts.http.platform import ParkedRow, ParkedRows
from marelle_booking.config import BookingSettings
from marelle_booking.main import MIGRATIONS, create_app
from tests.support import tokens

ADMIN = ("administrator",)


@pytest.fixture
async def booking(database_url: str):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    app = create_app(BookingSettings(database_url=database_url, kafka_enabled=False))
    async with app.router.lifespan_context(app):
        app.state.token_verifier = tokens.verifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking.test") as client:
            yield app, client


async def _insert(app, **values) -> int:
    now = datetime.now(UTC)
    row = {"event_id": uuid.uuid4(), "event_type": "booking.test_event",
           "topic": "marelle.booking.v1", "key": str(uuid.uuid4()), "envelope": "{}",
           "created_at": now - timedelta(minutes=5), "attempts": 0, **values}
    async with app.state.runtime.engine.begin() as conn:
        result = await conn.execute(insert(outbox_table(app.state.runtime.metadata)).values(**row))
        return int(result.inserted_primary_key[0])


async def _row(app, row_id: int):
    outbox = outbox_table(app.state.runtime.metadata)
    async with app.state.runtime.engine.connect() as conn:
        return (await conn.execute(select(outbox).where(outbox.c.id == row_id))).mappings().one()


async def test_parked_rows_are_listed_and_put_back_in_the_queue(booking):
    app, client = booking
    admin = tokens.staff(ADMIN)
    parked_id = await _insert(app, attempts=5, last_error="MessageSizeTooLargeError()",
                              parked_at=datetime.now(UTC))
    normal_id = await _insert(app)

    listed = await client.get("/staff/outbox/parked", headers=admin)
    assert listed.status_code == 200, listed.text
    items = ParkedRows.model_validate(listed.json()).items
    assert [item.id for item in items] == [parked_id] and normal_id != parked_id
    assert items[0].attempts == 5 and items[0].last_error == "MessageSizeTooLargeError()"
    assert items[0].topic == "marelle.booking.v1"

    retried = await client.post(f"/staff/outbox/parked/{parked_id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    assert ParkedRow.model_validate(retried.json()).id == parked_id
    row = await _row(app, parked_id)
    assert row["parked_at"] is None and row["attempts"] == 0 and row["sent_at"] is None
    assert (await client.get("/staff/outbox/parked", headers=admin)).json() == {"items": []}

    again = await client.post(f"/staff/outbox/parked/{parked_id}/retry", headers=admin)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["detail"] == "Cet événement n'est pas (ou plus) mis de côté."
    never = await client.post(f"/staff/outbox/parked/{normal_id}/retry", headers=admin)
    assert never.status_code == 404  # a row that was never parked is not touched
    assert (await _row(app, normal_id))["attempts"] == 0


async def test_only_administrators_see_or_retry_parked_rows(booking):
    app, client = booking
    parked_id = await _insert(app, attempts=5, parked_at=datetime.now(UTC))
    for headers in (tokens.parent(uuid.uuid4()), tokens.staff(("manager",))):
        listed = await client.get("/staff/outbox/parked", headers=headers)
        retried = await client.post(f"/staff/outbox/parked/{parked_id}/retry", headers=headers)
        for response in (listed, retried):
            assert response.status_code == 403
            assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/staff/outbox/parked")).status_code == 401
    assert (await _row(app, parked_id))["parked_at"] is not None
