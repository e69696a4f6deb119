"""Issue #11: booking's staff actions leave an audit line (who, what, before/after) in their own
transaction; GET /staff/audit filters it, newest first, and is closed to parents."""

from __future__ import annotations

from marelle_booking.db import reservation
from services.booking.tests.conftest import paris
from services.booking.tests.test_reservations import TUE, setup


async def test_calendar_and_staff_cancel_are_audited(booking):
    period = await setup(booking, capacity=1)
    fam = await booking.family("Audit", ["Léa"])
    reg = await booking.register(fam, "Léa", period)
    await booking.book(reg, TUE)
    booked = (await booking.rows(reservation, reservation.c.status == "reservee"))[0]
    booking.clock.set(paris(2026, 10, 20, 8))
    r = await booking.client.post(f"/staff/reservations/{booked.id}/cancel", headers=booking.staff)
    assert r.status_code == 204, r.text
    # Refused (already cancelled): no line for it.
    r = await booking.client.post(f"/staff/reservations/{booked.id}/cancel", headers=booking.staff)
    assert r.status_code == 409

    items = (await booking.client.get("/staff/audit", headers=booking.staff)).json()["items"]
    assert [i["action"] for i in items] == ["reservation.annulee", "calendrier.modifie"]
    cancel, calendar = items
    assert cancel["service"] == "booking" and cancel["staff_email"] == "agent@marelle.local"
    assert cancel["target"] == f"reservation:{booked.id}"
    assert cancel["before"]["status"] == "reservee" and cancel["after"]["status"] == "annulee"
    assert calendar["after"]["capacities"][0]["capacity"] == 1
    r = await booking.client.get("/staff/audit", params={"action": "calendrier"},
                                 headers=booking.staff)
    assert [i["action"] for i in r.json()["items"]] == ["calendrier.modifie"]
    r = await booking.client.get("/staff/audit", params={"staff": "AGENT@"},
                                 headers=booking.staff)
    assert len(r.json()["items"]) == 2
    r = await booking.client.get("/staff/audit", params={"limit": 0}, headers=booking.staff)
    assert r.status_code == 422
    assert (await booking.client.get("/staff/audit", headers=fam.headers)).status_code == 403
