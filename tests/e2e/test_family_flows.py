"""Identity and enrolment across every process: HTTP APIs, events on the real broker, emails on a
real SMTP server, each service's own PostgreSQL database."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.postgres]
CONSUMERS = ["enrolment", "booking", "billing"]


async def eventually(fetch, accept, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if accept(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.3)


async def invited_family(stack: Stack, staff: httpx.AsyncClient, name: str, email: str,
                         children: list[dict]) -> tuple[str, dict[str, str]]:
    identity = stack.url("identity")
    r = await staff.post(f"{identity}/staff/families", json={
        "name": name, "email": email, "guardian": {"first_name": "Claire", "last_name": name.split()[-1]},
        "children": children})
    assert r.status_code == 201, r.text
    family_id = r.json()["family_id"]
    invitation = await asyncio.to_thread(stack.mailbox.find, email, "accès au portail")
    token = re.search(r"jeton=([\w-]+)", stack.mailbox.text(invitation)).group(1)
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.post(f"{identity}/auth/invitation/accept",
                              json={"token": token, "password": "mot-de-passe-famille"})
        assert r.status_code == 204, r.text
        r = await client.post(f"{identity}/auth/token",
                              json={"email": email, "password": "mot-de-passe-famille"})
    return family_id, {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_contact_change_reaches_every_service_and_the_family(stack, staff_client):
    email = f"famille-{uuid.uuid4().hex[:6]}@example.org"
    family_id, parent = await invited_family(stack, staff_client, "Famille Lambert", email, [
        {"first_name": "Jules", "last_name": "Lambert", "birth_date": "2018-04-02"}])
    identity = stack.url("identity")
    async with httpx.AsyncClient(timeout=10, headers=parent) as client:
        contact = (await client.get(f"{identity}/families/{family_id}/contact")).json()
        r = await client.post(f"{identity}/families/{family_id}/contact-change-requests", json={
            "home_phone": "04 78 00 00 00", "guardian_phones": [
                {"person_id": contact["guardians"][0]["person_id"], "mobile_phone": "0611223344"}]})
        assert r.status_code == 201, r.text
        request_id = r.json()["id"]
    r = await staff_client.post(f"{identity}/staff/contact-change-requests/decisions", json={
        "decisions": [{"request_id": request_id, "decision": "accept"}]})
    assert r.json()["results"][0]["ok"]
    await asyncio.to_thread(stack.mailbox.find, email, "acceptée")

    for service in CONSUMERS:
        url = f"{stack.url(service)}/staff/families/{family_id}"
        copy = await eventually(lambda: staff_client.get(url),
                                lambda r: r.status_code == 200 and r.json()["home_phone"])
        assert copy.json()["home_phone"] == "+33478000000", service
        assert copy.json()["guardian_phones"][0]["mobile_phone"] == "+33611223344", service
        children = (await staff_client.get(f"{stack.url(service)}/staff/children",
                                           params={"family_id": family_id})).json()["items"]
        assert [c["first_name"] for c in children] == ["Jules"], service


async def test_registration_validated_reaches_booking_and_the_family_is_emailed(stack, staff_client):
    enrolment = stack.url("enrolment")
    now = datetime.now(UTC)
    start = date.today() + timedelta(days=20)
    ids = {}
    for key, path, body in [
        ("facility", "facilities", {"name": f"CENTRE DE LOISIRS ALSH {uuid.uuid4().hex[:4]}"}),
        ("type", "activity-types", lambda: {"facility_id": ids["facility"], "name": "Mercredi, vacances"}),
        ("activity", "activities", lambda: {"activity_type_id": ids["type"], "name": "AUTOMNE"}),
        ("period", "periods", lambda: {
            "activity_id": ids["activity"], "label": "Automne 2026", "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=11)).isoformat(),
            "opens_at": (now - timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=7)).isoformat()}),
        ("group", "groups", lambda: {"period_id": ids["period"], "label": "6-8 ans Rémond",
                                     "min_age": 6, "max_age": 8, "capacity": 10}),
    ]:
        r = await staff_client.post(f"{enrolment}/staff/{path}", json=body() if callable(body) else body)
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]

    email = f"famille-{uuid.uuid4().hex[:6]}@example.org"
    seven = date(date.today().year - 7, 3, 1).isoformat()
    family_id, parent = await invited_family(stack, staff_client, "Famille Girard", email, [
        {"first_name": "Lina", "last_name": "Girard", "birth_date": seven}])
    async with httpx.AsyncClient(timeout=10, headers=parent) as client:
        child_id = (await client.get(f"{stack.url('identity')}/families/{family_id}")).json()[
            "persons"][-1]["id"]
        # Enrolment learns about the child from identity's event, then accepts the request.
        offer_url = f"{enrolment}/families/{family_id}/children/{child_id}/offer"
        await eventually(lambda: client.get(offer_url), lambda r: r.status_code == 200)
        r = await client.post(f"{enrolment}/families/{family_id}/registrations", json={
            "child_id": child_id, "group_id": ids["group"], "memo": "Première inscription",
            "typical_week": [{"weekday": 3}]})
        result = r.json()["results"][0]
        assert result["ok"], result
    r = await staff_client.post(f"{enrolment}/staff/registrations/decisions", json={"decisions": [
        {"registration_id": result["registration"]["id"], "decision": "validate"}]})
    assert r.json()["results"][0]["ok"]

    held = await eventually(
        lambda: staff_client.get(f"{stack.url('booking')}/staff/registrations",
                                 params={"child_id": child_id}),
        lambda r: r.status_code == 200 and r.json()["items"])
    registration = held.json()["items"][0]
    assert (registration["status"], registration["group_label"]) == ("validee", "6-8 ans Rémond")
    assert registration["typical_week"] == [{"weekday": 3, "units": []}]
    mail = await asyncio.to_thread(stack.mailbox.find, email, "Inscription de Lina validée")
    assert "Automne 2026" in stack.mailbox.text(mail)
    # The catalogue reached booking and billing too (their own copies).
    for service in ("booking", "billing"):
        period = await eventually(
            lambda: staff_client.get(f"{stack.url(service)}/staff/periods/{ids['period']}"),
            lambda r: r.status_code == 200 and r.json()["groups"])
        assert period.json()["label"] == "Automne 2026", service
        assert [g["label"] for g in period.json()["groups"]] == ["6-8 ans Rémond"], service
