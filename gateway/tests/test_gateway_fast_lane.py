"""The queue's submissions in the gateway's fast lane (chassis/fastlane.py): a plain submission
is answered by the lane, with the route's answer; whatever is not plain (no token, a bad key or
body) is left to the route and its French problem+json."""

from __future__ import annotations

import pytest

from marelle_gateway.api import tickets, tickets_reservations
from tests.support.lanes import count_lane_answers

from gateway.tests import booking_fake as bf
from gateway.tests import enrolment_fake as ef


@pytest.fixture
def counted(monkeypatch):
    return count_lane_answers(monkeypatch, tickets, tickets_reservations)


async def test_plain_submissions_are_the_lanes_and_the_rest_the_routes(portal, fake, enrolment,
                                                                       booking, counted):
    token = {"authorization": f"Bearer {fake.parent_token()}"}
    inscription = {"group_id": ef.GROUP_68, "child_ids": [ef.LEA], "family_id": "ignored"}
    reservation = {"registration_id": ef.R_VALID,
                   "days": [{"date": str(bf.OPEN[5]), "unit": "soir"}]}
    async with portal(fake) as client:
        first = await client.post("/api/v1/tickets/inscriptions", json=inscription,
                                  headers={**token, "idempotency-key": "appli-mobile-0001"})
        again = await client.post("/api/v1/tickets/inscriptions", json=inscription,
                                  headers={**token, "idempotency-key": "appli-mobile-0001"})
        days = await client.post("/api/v1/tickets/reservations", json=reservation,
                                 headers={**token, "idempotency-key": "appli-mobile-0002"})
        assert counted["lane"] == 3
        no_key = await client.post("/api/v1/tickets/inscriptions", json=inscription,
                                   headers=token)
        no_token = await client.post("/api/v1/tickets/reservations", json=reservation,
                                     headers={"idempotency-key": "appli-mobile-0003"})
        bad_body = await client.post("/api/v1/tickets/inscriptions", json={"group_id": 3},
                                     headers={**token, "idempotency-key": "appli-mobile-0004"})
    assert (first.status_code, again.status_code, days.status_code) == (202, 200, 202)
    assert first.json()["id"] == again.json()["id"]
    # The family is the token's: the body's `family_id` was dropped on the lane too.
    assert enrolment.ticket_posts[0][1].get("family_id") is None
    assert (no_key.status_code, no_token.status_code, bad_body.status_code) == (422, 401, 422)
    assert no_token.headers["www-authenticate"].startswith("Bearer")
    assert all(r.headers["content-type"].startswith("application/problem+json")
               for r in (no_key, no_token, bad_body))
    assert counted["lane"] == 3
