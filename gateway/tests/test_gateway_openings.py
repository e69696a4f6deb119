"""« Ouvertures des inscriptions »: a request prepared before the opening, sent with its own
idempotency key, acknowledged with a ticket and its place in line; the ticket's page refreshes
itself until the decision, then shows each child's outcome — all without JavaScript."""

from __future__ import annotations

import re

import httpx

from gateway.tests import enrolment_fake as ef

PATH = "/mes-inscriptions/ouvertures"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def key_of(html: str) -> str:
    return re.search(r'name="cle" value="([^"]+)"', html)[1]


async def test_the_page_shows_the_opening_and_a_form_with_its_own_key(portal, fake, enrolment, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get(PATH)
    assert page.status_code == 200
    html = page.text
    assert "<h1>Ouvertures des inscriptions</h1>" in html
    assert "ÉTÉ – Été" in text(html) and "6-8 ans Rémond" in html
    assert "Léa Martin" in html and "Tom Martin" in html
    assert "Tout ou rien" in html and "<script" not in html
    assert len(key_of(html)) == 32


async def test_sending_gives_a_ticket_whose_page_refreshes_until_the_decision(portal, fake,
                                                                              enrolment, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        key = key_of((await client.get(PATH)).text)
        form = {"cle": key, "groupe": ef.GROUP_68, "enfants": [ef.LEA, ef.TOM, "intrus"],
                "si_complet": "tout_ou_rien"}
        sent = await client.post(PATH, data=gw.with_csrf(client, form))
        assert sent.status_code == 303
        ticket_url = sent.headers["location"]
        # A double click: the same key, the same ticket.
        again = await client.post(PATH, data=gw.with_csrf(client, form))
        assert again.headers["location"] == ticket_url
        waiting = await client.get(ticket_url)  # read once queued (the fake decides after)
        decided = await client.get(ticket_url)
    [(k1, body), (k2, _)] = enrolment.ticket_posts
    assert k1 == k2 == key
    assert body == {"group_id": ef.GROUP_68, "child_ids": [ef.LEA, ef.TOM],
                    "if_some_full": "tout_ou_rien"}  # never a child of another family
    assert len(enrolment.tickets) == 1
    assert '<meta http-equiv="refresh" content="2">' in waiting.text
    assert "Votre place dans la file : 41" in text(waiting.text), text(waiting.text)[200:1200]
    assert "40 demande(s) à traiter avant la vôtre" in text(waiting.text)
    assert 'http-equiv="refresh"' not in decided.text
    page = text(decided.text)
    assert "Inscription de Léa validée." in page and "Inscription de Tom validée." in page


async def test_a_refusal_comes_back_with_the_choices_kept(portal, fake, enrolment, gw):
    enrolment.ticket_answer = httpx.Response(
        422, json={"type": "about:blank", "title": "Erreur", "status": 422,
                   "detail": "Les inscriptions pour « Été » ne sont pas encore ouvertes : elles "
                             "le seront du 02/06 à 08:30 au 30/06 à 22:00."},
        headers={"content-type": "application/problem+json"})
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        form = {"cle": "cle-pretee-42", "groupe": ef.GROUP_68, "enfants": [ef.TOM]}
        page = await client.post(PATH, data=gw.with_csrf(client, form))
    assert page.status_code == 422
    assert "ne sont pas encore ouvertes" in page.text
    assert re.search(rf'value="{ef.TOM}" checked', page.text)
    assert not re.search(rf'value="{ef.LEA}" checked', page.text)


async def test_nothing_chosen_is_refused_in_french_without_asking_enrolment(portal, fake,
                                                                            enrolment, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.post(PATH, data=gw.with_csrf(client, {"cle": "x" * 12}))
    assert page.status_code == 422
    assert "Choisissez un groupe." in page.text and "Cochez au moins un enfant." in page.text
    assert enrolment.ticket_posts == []


async def test_the_api_passes_the_key_and_the_ticket_through(portal, fake, enrolment, gw):
    async with portal(fake) as client:
        headers = {"authorization": f"Bearer {fake.parent_token()}",
                   "idempotency-key": "appli-mobile-0001"}
        body = {"group_id": ef.GROUP_68, "child_ids": [ef.LEA], "family_id": "ignored"}
        first = await client.post("/api/v1/tickets/inscriptions", json=body, headers=headers)
        second = await client.post("/api/v1/tickets/inscriptions", json=body, headers=headers)
        missing = await client.post("/api/v1/tickets/inscriptions", json=body,
                                    headers={"authorization": headers["authorization"]})
        read = await client.get(f"/api/v1/tickets/inscriptions/{first.json()['id']}",
                                headers=headers)
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"] and first.json()["position"] == 41
    assert missing.status_code == 422
    assert read.status_code == 200
    # The family is the token's: a `family_id` in the body is dropped, never sent.
    assert enrolment.ticket_posts[0] == ("appli-mobile-0001", {
        "group_id": ef.GROUP_68, "child_ids": [ef.LEA], "typical_week": [], "memo": "",
        "if_some_full": "prendre_le_reste"})


async def test_beyond_the_submissions_in_flight_a_family_is_told_to_retry_at_once(
        portal, fake, enrolment, gw):
    """At an opening, submissions beyond the bound are refused by the gateway before enrolment
    does any work (a French 503 problem+json with Retry-After); those admitted get their
    tickets; once they are answered, the next ones are admitted again."""
    import asyncio

    from marelle_gateway.config import GatewaySettings

    held = asyncio.Event()
    arrived = []

    async def slow_enrolment(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/tickets"):
            arrived.append(request.headers["idempotency-key"])
            await held.wait()
        return fake(request)

    body = {"group_id": ef.GROUP_68, "child_ids": [ef.LEA]}

    def post(client, key):
        return client.post("/api/v1/tickets/inscriptions", json=body, headers={
            "authorization": f"Bearer {fake.parent_token()}", "idempotency-key": key})

    async with portal(slow_enrolment, settings=GatewaySettings(
            queue_submissions_in_flight=2)) as client:
        first = asyncio.create_task(post(client, "cle-premiere-000"))
        second = asyncio.create_task(post(client, "cle-deuxieme-000"))
        while len(arrived) < 2:
            await asyncio.sleep(0.01)
        refused = await post(client, "cle-troisieme-00")
        held.set()
        admitted = [await first, await second]
        later = await post(client, "cle-troisieme-00")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "Réessayez dans quelques secondes" in refused.json()["detail"]
    assert [r.status_code for r in admitted] == [202, 202]
    assert later.status_code == 202
    # The refused submission never reached enrolment; its retry did.
    assert arrived == ["cle-premiere-000", "cle-deuxieme-000", "cle-troisieme-00"]
