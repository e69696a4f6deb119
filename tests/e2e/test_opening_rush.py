"""The opening queue end to end (issue « The opening rush »), small numbers, every real process:
families log in through the gateway, a request sent before the opening is refused in French,
then at the opening they all submit at once; each is acknowledged with a ticket and its place
in line, a double submission keeps one place, decisions follow the order of acknowledgement,
outcomes reach the family live through the gateway and by email."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.e2e.test_family_flows import eventually, invited_family
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
CAPACITY, FAMILIES = 3, 7


async def _catalogue(stack: Stack, staff: httpx.AsyncClient, opens_at: datetime) -> dict:
    enrolment, ids = stack.url("enrolment"), {}
    start = date.today() + timedelta(days=40)
    for key, path, body in [
        ("facility", "facilities", lambda: {"name": f"ALSH ÉTÉ {uuid.uuid4().hex[:4]}"}),
        ("type", "activity-types", lambda: {"facility_id": ids["facility"], "name": "Vacances"}),
        ("activity", "activities", lambda: {"activity_type_id": ids["type"], "name": "ÉTÉ"}),
        ("period", "periods", lambda: {
            "activity_id": ids["activity"], "label": "Été – juillet", "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=20)).isoformat(),
            "opens_at": opens_at.isoformat(),
            "closes_at": (opens_at + timedelta(days=7)).isoformat(),
            "validation_mode": "automatique"}),
        ("group", "groups", lambda: {"period_id": ids["period"], "label": "6-8 ans Plage",
                                     "min_age": 6, "max_age": 8, "capacity": CAPACITY}),
    ]:
        r = await staff.post(f"{enrolment}/staff/{path}", json=body())
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    return ids


async def test_the_opening_is_fair_idempotent_and_live_through_the_gateway(stack, staff_client):
    gateway = stack.gateway_url
    seven = date(date.today().year - 7, 3, 1).isoformat()
    families = []
    for i in range(FAMILIES):
        email = f"ouverture-{i}-{uuid.uuid4().hex[:6]}@example.org"
        family_id, _ = await invited_family(stack, staff_client, f"Famille Rush{i}", email, [
            {"first_name": f"Enfant{i}", "last_name": f"Rush{i}", "birth_date": seven}])
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(f"{gateway}/api/v1/auth/token",
                                  json={"email": email, "password": "mot-de-passe-famille"})
            assert r.status_code == 200, r.text
        families.append({"id": family_id, "email": email, "first_name": f"Enfant{i}",
                         "headers": {"Authorization": f"Bearer {r.json()['access_token']}"}})

    # The opening is scheduled a few seconds ahead.
    opens_at = datetime.now(UTC) + timedelta(seconds=12)
    ids = await _catalogue(stack, staff_client, opens_at)
    async with httpx.AsyncClient(timeout=20) as client:
        # Each family prepares its request (the openings list it, with the child fitting).
        for f in families:
            openings = await eventually(
                lambda f=f: client.get(f"{gateway}/api/v1/tickets/inscriptions",
                                       headers=f["headers"]),
                lambda r: r.status_code == 200)
            assert openings.json() == {"items": []}
            offer = await eventually(
                lambda f=f: client.get(f"{stack.url('enrolment')}/families/{f['id']}/openings",
                                       headers=f["headers"]),
                lambda r: r.status_code == 200 and any(
                    o["period_id"] == ids["period"] for o in r.json()["items"]))
            (opening,) = [o for o in offer.json()["items"] if o["period_id"] == ids["period"]]
            assert opening["open_now"] is False
            f["child_id"] = opening["groups"][0]["child_ids"][0]
            f["key"] = f"ouverture-{uuid.uuid4().hex}"

        def submit(f: dict) -> asyncio.Future:
            return client.post(f"{gateway}/api/v1/tickets/inscriptions",
                               headers={**f["headers"], "Idempotency-Key": f["key"]},
                               json={"group_id": ids["group"], "child_ids": [f["child_id"]]})

        early = await submit(families[0])
        assert early.status_code == 422, early.text
        assert "ne sont pas encore ouvertes" in early.json()["detail"]

        await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()) + 0.2)
        # Everyone at once, and the first family double-clicks.
        answers = await asyncio.gather(*(submit(f) for f in [*families, families[0]]))
        assert sorted(a.status_code for a in answers) == [200] + [202] * FAMILIES, \
            [a.text for a in answers]
        tickets = [a.json() for a in answers]
        assert tickets[0]["id"] == tickets[-1]["id"]  # one place for the double click
        assert sorted(t["position"] for t in tickets[:-1]) == list(range(1, FAMILIES + 1))

        # Live: each family follows its ticket through the gateway until it is decided.
        decided = []
        for f, t in zip(families, tickets):
            url = f"{gateway}/api/v1/tickets/inscriptions/{t['id']}"
            r = await eventually(lambda url=url, f=f: client.get(url, headers=f["headers"]),
                                 lambda r: r.status_code == 200 and r.json()["status"] == "traite",
                                 timeout=30)
            assert r.json()["status"] == "traite", r.text
            decided.append((f, r.json()))
        # Another family's ticket is not found.
        other = await client.get(f"{gateway}/api/v1/tickets/inscriptions/{tickets[1]['id']}",
                                 headers=families[0]["headers"])
        assert other.status_code == 404

    # Fair: places went to the first acknowledged, the waiting list follows the same order.
    in_order = sorted(decided, key=lambda d: d[1]["position"])
    statuses = [d[1]["outcomes"][0]["status"] for d in in_order]
    assert statuses == ["validee"] * CAPACITY + ["liste_attente"] * (FAMILIES - CAPACITY)
    waiting_positions = [int(d[1]["outcomes"][0]["detail"].rstrip(".").rsplit(" ", 1)[-1])
                         for d in in_order[CAPACITY:]]
    assert waiting_positions == list(range(1, FAMILIES - CAPACITY + 1))
    # Exactly one registration per family, whatever the double click.
    regs = (await staff_client.get(f"{stack.url('enrolment')}/staff/registrations",
                                   params={"status": "validee"})).json()["items"]
    assert sum(r["group_id"] == ids["group"] for r in regs) == CAPACITY
    # The decision is emailed (identity reads enrolment's events from the broker).
    first, _ = in_order[0]
    mail = await asyncio.to_thread(stack.mailbox.find, first["email"],
                                   f"Inscription de {first['first_name']} validée")
    assert "Été – juillet" in stack.mailbox.text(mail)
    # Staff watched it live: every ticket received and decided, no place left.
    live = (await staff_client.get(f"{stack.url('enrolment')}/staff/openings/{ids['period']}"
                                   )).json()
    (group,) = live["resources"]
    assert (group["received"], group["decided"], group["places_left"], group["waitlisted"]) == \
        (FAMILIES, FAMILIES, 0, FAMILIES - CAPACITY)
