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


async def test_family_created_by_staff_reaches_every_service(stack, staff_client):
    name = f"Rémond{uuid.uuid4().hex[:6]}"
    response = await staff_client.post(f"{stack.url('identity')}/staff/families", json={
        "name": f"Famille {name}", "email": f"{name.lower()}@example.org",
        "guardian": {"first_name": "Claire", "last_name": name},
        "children": [{"first_name": "Inès", "last_name": name, "birth_date": "2018-02-03",
                      "sex": "F"}]})
    assert response.status_code == 201, response.text
    family_id = response.json()["family_id"]
    for service in CONSUMERS:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            held = [c for c in (await children_in(staff_client, stack, service)).values()
                    if c["family_id"] == family_id]
            if held or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.3)
        assert [(c["first_name"], c["revision"]) for c in held] == [("Inès", 1)], service


async def test_online_sign_up_through_the_gateway_answers_the_same_and_checks_input(stack):
    email = f"nouvelle-{uuid.uuid4().hex[:6]}@example.org"
    body = {"family_name": "Famille Nouvelle", "email": email, "password": "un-mot-de-passe-long",
            "guardian": {"first_name": "Ana", "last_name": "Nouvelle"}}
    async with httpx.AsyncClient(timeout=10) as client:
        first = await client.post(f"{stack.gateway_url}/api/v1/auth/signup", json=body)
        again = await client.post(f"{stack.gateway_url}/api/v1/auth/signup", json=body)
        bad = await client.post(f"{stack.gateway_url}/api/v1/auth/signup",
                                json={**body, "email": "a@b.fr, c@d.fr"})
    assert first.status_code == again.status_code == 202, first.text
    assert first.json() == again.json()  # a known address gets the same answer
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["detail"]


async def test_processes_killed_with_requests_in_flight_lose_nothing_and_apply_once(
        stack, staff_client):
    """SIGKILL the producer (identity) and a consumer (booking) while 40 family creations are in
    flight, 8 at a time. Afterwards: every family identity committed (acknowledged or not) reached
    every consumer, each exactly once (revision 1); every acknowledged one was committed."""
    token = uuid.uuid4().hex[:8]
    acknowledged: list[str] = []
    failed: list[str] = []
    gate = asyncio.Semaphore(8)
    killed = asyncio.Event()

    async def create(i: int, client: httpx.AsyncClient) -> None:
        name = f"Enfant{token}n{i}"
        async with gate:
            try:
                response = await client.post(
                    f"{stack.url('identity')}/staff/families", headers=staff_client.headers,
                    json={"name": f"Famille Kill{token}", "email": f"kill{token}-{i}@example.org",
                          "guardian": {"first_name": "Claire", "last_name": "Kill"},
                          "children": [{"first_name": name, "last_name": "Kill",
                                        "birth_date": "2016-06-01"}]})
            except httpx.HTTPError:
                failed.append(name)
                return
        if response.status_code == 201:
            acknowledged.append(name)
            if len(acknowledged) == 8 and not killed.is_set():
                killed.set()  # requests 9.. are in flight right now
                stack.processes["identity"].kill()
                stack.processes["booking"].kill()
        else:
            failed.append(name)

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(create(i, client) for i in range(40)))
    assert killed.is_set() and failed, "the kill did not land while requests were in flight"
    await asyncio.to_thread(stack.restart, "identity")
    await asyncio.to_thread(stack.restart, "booking")
    # A fresh token: the old one was signed by keys that still verify, but be explicit.
    response = await staff_client.get(f"{stack.url('identity')}/staff/families",
                                      params={"q": f"Kill{token}"})
    response.raise_for_status()
    committed = {child.split()[0] for f in response.json()["items"] for child in f["children"]}
    assert set(acknowledged) <= committed, "an acknowledged request was lost"

    for service in CONSUMERS:
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            held = {c["first_name"]: c for c in (await children_in(staff_client, stack, service)
                                                 ).values() if token in c["first_name"]}
            if set(held) >= committed or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.3)
        assert set(held) == committed, f"{service} lost {committed - set(held)}"
        twice = {n: c["revision"] for n, c in held.items() if c["revision"] != 1}
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
            assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "consumers": "ok",
                                             "revocations": "ok"}
