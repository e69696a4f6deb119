"""Booking's ticket submission in the fast lane (chassis/fastlane.py): plain submissions are the
lane's (the same ticket for the same key, 202 then 200), the rest the route's French answers."""

from __future__ import annotations

import pytest

from marelle_booking import api
from tests.support.lanes import count_lane_answers

from .test_tickets import TUE, opening, submit, families

pytestmark = pytest.mark.postgres


@pytest.fixture
def counted(monkeypatch):
    return count_lane_answers(monkeypatch, api)


async def test_plain_submissions_are_the_lanes_and_the_rest_the_routes(counted, booking):
    period = await opening(booking, capacity=3)
    [reg] = await families(booking, period, 1)
    first = await submit(booking, reg, [(TUE, "repas")], key="cle-voie-rapide-1")
    again = await submit(booking, reg, [(TUE, "repas")], key="cle-voie-rapide-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert counted["lane"] == 2
    no_token = await submit(booking, reg, [(TUE, "repas")], headers={"Accept": "application/json"})
    bad_key = await submit(booking, reg, [(TUE, "repas")], key="court")
    unknown_unit = await submit(booking, reg, [(TUE, "goûter-inconnu")])
    assert (no_token.status_code, bad_key.status_code) == (401, 422)
    assert unknown_unit.status_code in (409, 422)
    for answer in (no_token, bad_key, unknown_unit):
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"]
    assert counted["lane"] == 2
