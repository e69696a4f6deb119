"""The month grid at a scheduled opening of bookings (issue #10): the grid names the opening
(`bookings_open_at`) and, before it, which days the opening's queue will accept
(`bookable_at_opening`), so the portal lets families prepare them."""

from __future__ import annotations

from datetime import date, timedelta

from services.booking.tests.conftest import paris

TUE = date(2026, 10, 20)


async def grid_day(booking, reg, day: date) -> tuple[dict, dict]:
    grid = (await booking.client.get(f"{reg.base}/calendar", params={"month": "2026-10"},
                                     headers=reg.family.headers)).json()
    return grid, {c["unit"]: c for c in next(d for d in grid["days"]
                                              if d["day"] == str(day))["cells"]}


async def test_the_grid_names_the_opening_and_what_it_will_accept(booking):
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    opens = paris(2026, 10, 19, 8)
    await booking.configure(period, capacity=5, bookings_open_at=opens.isoformat(),
                            booking_deadline={"days": 1, "cutoff": "15:00"})
    reg = await booking.register(await booking.family("Dupont", ["Léa"]), "Léa", period)
    booking.clock.set(paris(2026, 10, 19, 7, 30))  # half an hour before
    grid, cells = await grid_day(booking, reg, TUE)
    assert grid["bookings_open_at"] is not None
    assert cells["repas"]["bookable"] is False
    assert "ouvrent le 19/10/2026 à 08:00" in cells["repas"]["reason"]
    assert cells["repas"]["bookable_at_opening"] is True
    # A day the opening will refuse anyway (its deadline, the day before at 15 h) is not.
    _, past_at_opening = await grid_day(booking, reg, date(2026, 10, 19))
    assert past_at_opening["repas"]["bookable_at_opening"] is False

    booking.clock.set(opens + timedelta(minutes=1))  # open: booked directly or by ticket
    grid, cells = await grid_day(booking, reg, TUE)
    assert grid["bookings_open_at"] is not None
    assert cells["repas"]["bookable"] is True and cells["repas"]["bookable_at_opening"] is False


async def test_without_an_opening_the_grid_says_none(booking):
    period = await booking.period(date(2026, 10, 19), date(2026, 10, 30))
    await booking.configure(period, capacity=5)
    reg = await booking.register(await booking.family("Durand", ["Léa"]), "Léa", period)
    grid, cells = await grid_day(booking, reg, TUE)
    assert grid["bookings_open_at"] is None
    assert cells["repas"]["bookable"] is True and cells["repas"]["bookable_at_opening"] is False
