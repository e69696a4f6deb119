"""The walking skeleton with every process started: HTTP through the gateway, events through
the real broker, each service's own PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
CONSUMERS = ["enrolment", "booking", "billing"]


async def children_in(client: httpx.AsyncClient, stack: Stack, service: str) -> dict[str, dict]:
    response = await client.get(f"{stack.url(service)}/staff/children")
    response.raise_for_status()
    return {item["child_id"]: item for item in response.json()["items"]}


async def wait_for_children(client, stack, service, child_ids, timeout=60.0) -> dict[str, dict]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        held = await children_in(client, stack, service)
        if set(child_ids) <= set(held) or asyncio.get_running_loop().time() > deadline:
            return held
        await asyncio.sleep(0.3)


async def test_family_created_through_the_gateway_reaches_every_service(stack, staff_client):
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{stack.gateway_url}/api/v1/signup", json={
            "name": "Famille Rémond", "email": f"remond-{uuid.uuid4().hex[:6]}@example.org",
            "child": {"first_name": "Inès", "last_name": "Rémond", "birth_date": "2018-02-03",
                      "sex": "F"}})
    assert response.status_code == 201, response.text
    child_id = response.json()["child_id"]
    for service in CONSUMERS:
        held = await wait_for_children(staff_client, stack, service, [child_id])
        assert held[child_id]["first_name"] == "Inès", service
        assert held[child_id]["family_id"] == response.json()["family_id"]
        assert held[child_id]["revision"] == 1


async def test_bad_input_through_the_gateway_is_a_french_problem(stack):
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{stack.gateway_url}/api/v1/signup", json={
            "name": "Famille X", "child": {"first_name": "Zoé", "last_name": "X",
                                           "birth_date": "2090-01-01"}})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "La date de naissance ne peut pas être dans le futur."


async def test_killed_consumer_restarts_and_applies_every_event_exactly_once(stack, staff_client):
    created: list[str] = []

    async def create_families(count: int, client: httpx.AsyncClient) -> None:
        for i in range(count):
            response = await client.post(f"{stack.url('identity')}/provisional/families", json={
                "name": f"Famille Crash{i}",
                "child": {"first_name": f"Enfant{i}", "last_name": "Crash",
                          "birth_date": "2016-06-01"}})
            assert response.status_code == 201, response.text
            created.append(response.json()["child_id"])

    async with httpx.AsyncClient(timeout=10) as client:
        await create_families(15, client)
        # While those events flow, the enrolment process dies without any clean-up.
        stack.processes["enrolment"].kill()
        await create_families(25, client)
    await asyncio.to_thread(stack.restart, "enrolment")

    for service in CONSUMERS:
        held = await wait_for_children(staff_client, stack, service, created)
        missing = set(created) - set(held)
        assert not missing, f"{service} lost {len(missing)} events"
        twice = {c: held[c]["revision"] for c in created if held[c]["revision"] != 1}
        assert not twice, f"{service} applied events more than once: {twice}"


async def test_portal_backoffice_and_health_answer(stack):
    async with httpx.AsyncClient(timeout=10) as client:
        home = await client.get(f"{stack.gateway_url}/")
        assert home.status_code == 200 and "Connexion au portail de la famille" in home.text
        health = await client.get(f"{stack.gateway_url}/api/v1/health")
        assert health.status_code == 200
        office = await client.get(f"{stack.backoffice_url}/connexion")
        assert office.status_code == 200 and 'lang="fr"' in office.text
        private = await client.get(f"{stack.backoffice_url}/")
        assert private.status_code == 303 and "/connexion" in private.headers["location"]
        for service in ["identity", *CONSUMERS]:
            ready = await client.get(f"{stack.url(service)}/health/ready")
            assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
