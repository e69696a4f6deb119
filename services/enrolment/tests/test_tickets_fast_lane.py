"""The ticket submission's fast lane (chassis/fastlane.py) gives the answers the FastAPI route
gives: same ticket, same statuses, same French refusals; only the plain case is its own."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from marelle_chassis import migrations
from marelle_enrolment import api
from marelle_enrolment.config import EnrolmentSettings
from marelle_enrolment.main import MIGRATIONS, create_app
from tests.support import tokens
from tests.support.lanes import count_lane_answers

from .conftest import Enrolment, born_years_ago
from .test_tickets import submit


@pytest.fixture
def counted(monkeypatch):
    """The lane's answers (not its refusals to answer) counted."""
    return count_lane_answers(monkeypatch, api)


@pytest.fixture
async def two_ways(database_url, counted):
    """The same service twice on one database: with the fast lane, and without it."""
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    apps = [create_app(EnrolmentSettings(database_url=database_url, kafka_enabled=False,
                                         queue_poll_seconds=3600, queue_fast_lane=lane))
            for lane in (True, False)]
    async with apps[0].router.lifespan_context(apps[0]), \
            apps[1].router.lifespan_context(apps[1]):
        clients = []
        for app in apps:
            # The answers are compared field by field: a ticket decided between two of them
            # would differ (en_file, then traite). These tests are about acknowledging.
            await app.state.decider.stop()
            app.state.token_verifier = tokens.verifier()
            clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                             base_url="http://enrolment.test"))
        try:
            yield [Enrolment(c, app, tokens.staff()) for c, app in zip(clients, apps)], counted
        finally:
            for client in clients:
                await client.aclose()


async def test_the_lane_answers_a_submission_as_the_route_does(two_ways):
    (fast, route), counted = two_ways
    ids = await fast.catalogue(capacity=5, validation="automatique")
    a = await fast.family("Arnaud", {"Léa": born_years_ago(7)})
    b = await fast.family("Bernard", {"Tom": born_years_ago(7)})
    key = uuid.uuid4().hex

    by_lane = await submit(fast, a, ids["group"], ["Léa"], key=key)
    by_route = await submit(route, b, ids["group"], ["Tom"])
    assert (by_lane.status_code, by_route.status_code) == (202, 202)
    assert counted["lane"] == 1
    assert by_lane.headers["content-type"] == by_route.headers["content-type"]
    one, other = by_lane.json(), by_route.json()
    assert one.keys() == other.keys()
    assert {k: v for k, v in one.items() if k not in ("id", "position", "ahead", "received_at")} \
        == {k: v for k, v in other.items() if k not in ("id", "position", "ahead", "received_at")}
    assert (one["position"], other["position"]) == (1, 2)

    # The same key again, each way: the same ticket, 200, never a second place.
    again_by_route = await submit(route, a, ids["group"], ["Léa"], key=key)
    again_by_lane = await submit(fast, a, ids["group"], ["Léa"], key=key)
    assert (again_by_route.status_code, again_by_lane.status_code) == (200, 200)
    assert again_by_route.json() == again_by_lane.json() == {**one, "ahead": 0}
    assert counted["lane"] == 2


@pytest.mark.parametrize("case", ["no token", "another family", "bad key", "bad body",
                                  "closed group"])
async def test_what_the_lane_does_not_take_is_answered_as_by_the_route(two_ways, case):
    (fast, route), counted = two_ways
    ids = await fast.catalogue(capacity=5, validation="automatique")
    a = await fast.family("Arnaud", {"Léa": born_years_ago(7)})
    b = await fast.family("Bernard", {"Tom": born_years_ago(7)})
    body = {"group_id": str(ids["group"]), "child_ids": [str(a.children["Léa"])]}
    headers = {**a.headers, "Idempotency-Key": "cle-de-test-1"}
    path = f"/families/{a.id}/tickets"
    if case == "no token":
        headers.pop("Authorization")
    elif case == "another family":
        path = f"/families/{b.id}/tickets"
    elif case == "bad key":
        headers["Idempotency-Key"] = "court"
    elif case == "bad body":
        body["if_some_full"] = "n'importe"
    else:
        body["group_id"] = str(uuid.uuid4())
    answers = [await e.client.post(path, json=body, headers=headers) for e in (fast, route)]
    assert answers[0].status_code == answers[1].status_code >= 400
    assert answers[0].headers["content-type"].startswith("application/problem+json")
    assert answers[0].json() == answers[1].json()
    assert counted["lane"] == 0


async def test_a_submission_asks_opentelemetry_nothing(enrolment, monkeypatch):
    """FastAPI's native telemetry is off in Marelle's apps (chassis NO_TELEMETRY): no
    per-request look for a configured provider. An app left as FastAPI makes it does."""
    from fastapi import FastAPI
    from opentelemetry import trace

    looked: list[int] = []
    provider = trace.get_tracer_provider
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: looked.append(1) or provider())
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    family = await enrolment.family("Roy", {"Léo": born_years_ago(7)})
    assert (await submit(enrolment, family, ids["group"], ["Léo"])).status_code == 202
    assert looked == []
    default = FastAPI()
    default.get("/")(lambda: {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=default),
                                 base_url="http://t") as client:
        assert (await client.get("/")).status_code == 200
    assert looked  # the control: the look this test would see
