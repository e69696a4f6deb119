"""Administrators' pages: audit log, staff accounts, dead letters and their replay, parked
outbox rows and their retry."""

from __future__ import annotations

import json
import re

import httpx

from marelle_contracts.http import platform as P

from .conftest import csrf_of, problem, sign_in
from .sample import answer

ADMIN = ("administrator",)

AUDIT = {"items": [
    {"at": "2025-07-14T10:05:00+00:00", "staff_id": "51515151-0000-4000-8000-000000000001", "staff_email": "camille@ville.test",
     "action": "family.email_changed", "target": "famille Martin",
     "details": {"avant": "a@b.fr", "après": "c@d.fr"}},
    {"at": "2025-01-02T23:10:00+00:00", "staff_id": "51515151-0000-4000-8000-000000000002", "staff_email": "dominique@ville.test",
     "action": "contact_change.refused", "target": "demande 42", "details": None},
]}


async def test_audit_lists_actions_in_paris_time(backoffice, fake):
    fake.on("GET", "identity", "/staff/audit", AUDIT)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        response = await client.get("/journal")
    html = response.text
    [sent] = fake.sent("GET", "identity", "/staff/audit")
    assert sent.url.params["limit"] == "200"
    assert response.status_code == 200 and "<h1>Journal des actions</h1>" in html
    for header in ("Date", "Agent", "Action", "Cible", "Détails"):
        assert f'<th scope="col">{header}</th>' in html
    assert "14/07/2025 12:05" in html  # summer time: UTC+2
    assert "03/01/2025 00:10" in html  # winter time: UTC+1, the next day
    assert "camille@ville.test" in html and "famille Martin" in html
    assert "<dt>après</dt><dd>c@d.fr</dd>" in html


async def test_agents_are_listed_and_created(backoffice, fake):
    fake.on("GET", "identity", "/staff/accounts", {"items": [
        {"id": "51515151-0000-4000-8000-000000000001", "email": "camille@ville.test", "display_name": "Camille Agent",
         "roles": ["administrator", "manager"]}]})
    fake.on("POST", "identity", "/staff/accounts", httpx.Response(201, json={"id": "51515151-0000-4000-8000-000000000002"}))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        page = await client.get("/agents")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        response = await client.post("/agents", data={
            "csrf": csrf, "email": "nouvel.agent@ville.test", "nom": "Nouvel Agent",
            "mot_de_passe": "un mot de passe solide", "roles": ["manager"]})
        shown = await client.get(response.headers["location"])
    assert "<th scope=\"row\">Camille Agent</th>" in page.text
    assert "Administrateur, Gestionnaire" in page.text
    assert '<legend>Rôles</legend>' in page.text
    assert 'type="checkbox" id="role-administrator" name="roles" value="administrator"' in page.text
    assert response.status_code == 303
    [sent] = fake.sent("POST", "identity", "/staff/accounts")
    assert json.loads(sent.content) == {"email": "nouvel.agent@ville.test",
                                        "display_name": "Nouvel Agent",
                                        "password": "un mot de passe solide", "roles": ["manager"]}
    assert "Le compte de l&#39;agent est créé." in shown.text


async def test_agent_creation_errors_are_on_the_fields(backoffice, fake):
    fake.on("GET", "identity", "/staff/accounts", {"items": []})
    fake.on("POST", "identity", "/staff/accounts", problem(422, "Données invalides", [
        {"champ": "password", "message": "Le mot de passe doit contenir au moins 10 caractères."}]))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        csrf = await csrf_of(client, "/agents")
        no_role = await client.post("/agents", data={"csrf": csrf, "email": "a@ville.test",
                                                      "nom": "A", "mot_de_passe": "x"})
        weak = await client.post("/agents", data={"csrf": csrf, "email": "a@ville.test",
                                                   "nom": "A", "mot_de_passe": "court",
                                                   "roles": "administrator"})
    assert '<a href="#role-administrator">Cochez au moins un rôle.</a>' in no_role.text
    assert len(fake.sent("POST", "identity", "/staff/accounts")) == 1
    assert ('<a href="#mot-de-passe">Le mot de passe doit contenir au moins 10 caractères.</a>'
            in weak.text)
    assert re.search(r'id="mot-de-passe"[^>]*value=""', weak.text)  # never echoed back
    assert 'value="administrator" checked' in weak.text


def parked(topic: str, partition: int, offset: int, **extra):
    return {"dlq_topic": f"{topic}.dlq", "partition": partition, "offset": offset,
            "parked_at": "2025-03-05T07:00:00+00:00", "original_topic": topic,
            "original_partition": 2, "original_offset": 118, "consumer_group": "billing",
            "error": "KeyError: 'family_id'", "attempts": 5, "event_id": "e1",
            "event_type": "identity.child_added", **extra}


async def test_dead_letters_of_every_service_are_listed(backoffice, fake):
    fake.on("GET", "billing", "/staff/dead-letters",
            {"items": [parked("marelle.identity.v1", 0, 7)]})
    fake.on("GET", "booking", "/staff/dead-letters", {"items": [
        parked("marelle.enrolment.v1", 1, 3, parked_at="2025-03-06T07:00:00+00:00",
               event_type="enrolment.registration_accepted")]})
    fake.on("GET", "enrolment", "/staff/dead-letters", problem(404, "Introuvable."))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        response = await client.get("/messages-en-echec")
    html = response.text
    for service in ("enrolment", "booking", "billing"):
        [sent] = fake.sent("GET", service, "/staff/dead-letters")
        assert sent.headers["authorization"].startswith("Bearer ")
    for header in ("Service", "Sujet d&#39;origine", "Position (partition/offset)",
                   "Type d&#39;événement", "Erreur", "Tentatives", "Date"):
        assert f'<th scope="col">{header}</th>' in html
    assert html.index("Réservations (booking)</th>") < html.index("Facturation (billing)</th>")
    assert "<td>2/118</td>" in html and "KeyError: &#39;family_id&#39;" in html
    assert "<td>5</td>" in html and "06/03/2025 08:00" in html
    assert html.count(">Rejouer<") == 2
    assert "Inscriptions (enrolment) : liste indisponible" in html


async def test_replay_posts_to_the_right_service_and_url(backoffice, fake):
    fake.on("GET", "billing", "/staff/dead-letters",
            {"items": [parked("marelle.identity.v1", 0, 7)]})
    for service in ("enrolment", "booking"):
        fake.on("GET", service, "/staff/dead-letters", {"items": []})
    path = "/staff/dead-letters/marelle.identity.v1.dlq/0/7/replay"
    fake.on("POST", "billing", path, parked("marelle.identity.v1", 0, 7))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        page = await client.get("/messages-en-echec")
        form = re.search(r'<form method="post" action="/messages-en-echec/rejouer">(.*?)</form>',
                         page.text, re.S).group(1)
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
        response = await client.post("/messages-en-echec/rejouer", data=fields)
        shown = await client.get(response.headers["location"])
    assert fields["service"] == "billing" and fields["sujet"] == "marelle.identity.v1.dlq"
    assert response.status_code == 303
    [sent] = fake.sent("POST", "billing", path)
    assert sent.headers["authorization"].startswith("Bearer ")
    assert "Le message a été renvoyé sur son sujet d&#39;origine." in shown.text


async def test_replay_refuses_coordinates_it_did_not_offer(backoffice, fake):
    for service in ("enrolment", "booking", "billing"):
        fake.on("GET", service, "/staff/dead-letters", {"items": []})
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        csrf = await csrf_of(client, "/messages-en-echec")
        bad = [{"service": "identity", "sujet": "t.dlq", "partition": "0", "position": "1"},
               {"service": "billing", "sujet": "../../auth", "partition": "0", "position": "1"},
               {"service": "billing", "sujet": "t.dlq", "partition": "-1", "position": "1"}]
        responses = [await client.post("/messages-en-echec/rejouer", data={"csrf": csrf, **b})
                     for b in bad]
    assert [r.status_code for r in responses] == [422, 422, 422]
    assert "coordonnées sont invalides" in responses[0].text
    assert not [r for r in fake.domain_calls() if r.method == "POST"]


async def test_replay_of_a_vanished_message_shows_the_service_message(backoffice, fake):
    for service in ("enrolment", "booking", "billing"):
        fake.on("GET", service, "/staff/dead-letters", {"items": []})
    fake.on("POST", "booking", "/staff/dead-letters/t.dlq/0/1/replay",
            problem(404, "Ce message en échec n'existe pas (ou plus)."))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        csrf = await csrf_of(client, "/messages-en-echec")
        response = await client.post("/messages-en-echec/rejouer", data={
            "csrf": csrf, "service": "booking", "sujet": "t.dlq", "partition": "0",
            "position": "1"})
    assert response.status_code == 404
    assert "Ce message en échec n&#39;existe pas (ou plus)." in response.text


# --- parked outbox rows (events a service could never publish) ----------------------------------

def parked_row(row_id: int, **extra) -> P.ParkedRow:
    return P.ParkedRow(**{
        "id": row_id, "event_id": f"0b0b0b0b-0000-4000-8000-{row_id:012d}",
        "event_type": "booking.reservation_confirmed", "topic": "marelle.booking.v1",
        "key": "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b", "attempts": 5,
        "last_error": "MessageSizeTooLargeError()", "created_at": "2025-03-05T06:58:00+00:00",
        "parked_at": "2025-03-05T07:00:00+00:00", **extra})


# The services' answers, built from their contract models (checked against the real OpenAPI
# by test_contract_fakes.py).
PARKED = answer(P.ParkedRows(items=[parked_row(42)]))
PARKED_BILLING = answer(P.ParkedRows(items=[parked_row(
    7, event_type="billing.invoice_issued", topic="marelle.billing.v1", key="facture-2025-001",
    attempts=3, last_error=None, parked_at="2025-03-06T07:00:00+00:00")]))
NO_PARKED = answer(P.ParkedRows(items=[]))
RETRIED = answer(parked_row(42, attempts=0))

ALL = ("identity", "enrolment", "booking", "billing")


def nothing_anywhere(fake) -> None:
    for service in ("enrolment", "booking", "billing"):
        fake.on("GET", service, "/staff/dead-letters", {"items": []})
    for service in ALL:
        fake.on("GET", service, "/staff/outbox/parked", NO_PARKED)


async def test_parked_events_of_every_service_are_listed(backoffice, fake):
    nothing_anywhere(fake)
    fake.on("GET", "booking", "/staff/outbox/parked", PARKED)
    fake.on("GET", "billing", "/staff/outbox/parked", PARKED_BILLING)
    fake.on("GET", "identity", "/staff/outbox/parked", problem(403, "Accès refusé."))
    fake.on("GET", "enrolment", "/staff/outbox/parked", httpx.Response(503))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        response = await client.get("/messages-en-echec")
    html = response.text
    assert response.status_code == 200
    for service in ALL:
        [sent] = fake.sent("GET", service, "/staff/outbox/parked")
        assert sent.headers["authorization"].startswith("Bearer ")
    section = html[html.index('<h2 id="non-publies-titre">Événements non publiés</h2>'):]
    assert '<caption id="non-publies-legende">Événements non publiés (2)</caption>' in section
    for header in ("Service", "Type d&#39;événement", "Clé", "Tentatives", "Erreur",
                   "Mis de côté le", "Action"):
        assert f'<th scope="col">{header}</th>' in section
    # Most recently parked first.
    assert (section.index("Facturation (billing)</th>")
            < section.index("Réservations (booking)</th>"))
    assert "<code>booking.reservation_confirmed</code>" in section
    assert "<code>facture-2025-001</code>" in section
    assert "MessageSizeTooLargeError()" in section and "<td>5</td>" in section
    assert "06/03/2025 08:00" in section and "05/03/2025 08:00" in section
    assert section.count(">Remettre en file d&#39;attente<") == 2
    assert ('<span class="visually-hidden"> l&#39;événement billing.invoice_issued '
            'facture-2025-001 (Facturation (billing))</span>') in section
    for service in ("Comptes et familles (identity)", "Inscriptions (enrolment)"):
        assert f"{service} : liste des événements non publiés indisponible" in section
    assert "Aucun message en échec." in html  # the dead letters' section is unaffected


async def test_an_answer_of_another_shape_is_reported_as_unavailable(backoffice, fake):
    nothing_anywhere(fake)
    fake.on("GET", "booking", "/staff/outbox/parked",
            {"items": [{**PARKED["items"][0], "id": "pas-un-nombre"}]})
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        response = await client.get("/messages-en-echec")
    assert response.status_code == 200
    assert ("Réservations (booking) : liste des événements non publiés indisponible"
            in response.text)
    assert "Aucun événement non publié parmi les services qui ont répondu." in response.text


async def test_no_parked_event_anywhere(backoffice, fake):
    nothing_anywhere(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        response = await client.get("/messages-en-echec")
    assert "Aucun événement non publié." in response.text
    assert "non-publies-legende" not in response.text


async def test_retry_posts_to_the_right_service_and_url(backoffice, fake):
    nothing_anywhere(fake)
    fake.on("GET", "booking", "/staff/outbox/parked", PARKED)
    fake.on("POST", "booking", "/staff/outbox/parked/42/retry", RETRIED)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        page = await client.get("/messages-en-echec")
        form = re.search(
            r'<form method="post" action="/messages-en-echec/evenements/relancer">(.*?)</form>',
            page.text, re.S).group(1)
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
        response = await client.post("/messages-en-echec/evenements/relancer", data=fields)
        shown = await client.get(response.headers["location"])
    assert fields["service"] == "booking" and fields["id"] == "42" and fields["csrf"]
    assert response.status_code == 303
    assert response.headers["location"] == "/messages-en-echec?message=relance"
    [sent] = fake.sent("POST", "booking", "/staff/outbox/parked/42/retry")
    assert sent.headers["authorization"].startswith("Bearer ")
    assert ("L&#39;événement a été remis en file d&#39;attente : le service va tenter de le "
            "publier à nouveau.") in shown.text


async def test_retry_needs_the_csrf_token(backoffice, fake):
    nothing_anywhere(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        await client.get("/messages-en-echec")
        response = await client.post("/messages-en-echec/evenements/relancer",
                                     data={"service": "booking", "id": "42"})
    assert response.status_code == 403
    assert not [r for r in fake.domain_calls() if r.method == "POST"]


async def test_retry_is_for_administrators_only(backoffice, fake):
    nothing_anywhere(fake)
    async with backoffice(fake) as client:
        sign_in(client)  # a manager
        csrf = await csrf_of(client, "/")
        response = await client.post("/messages-en-echec/evenements/relancer",
                                     data={"csrf": csrf, "service": "booking", "id": "42"})
    assert response.status_code == 403 and "Accès réservé aux administrateurs" in response.text
    assert not [r for r in fake.domain_calls() if r.method == "POST"]


async def test_retry_refuses_what_it_did_not_offer(backoffice, fake):
    nothing_anywhere(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        csrf = await csrf_of(client, "/messages-en-echec")
        bad = [{"service": "gateway", "id": "42"}, {"service": "booking", "id": "-1"},
               {"service": "booking", "id": "42/../../x"}, {"service": "booking", "id": ""},
               {"service": "booking", "id": "4 2"}, {"service": "booking", "id": "9" * 19}]
        responses = [await client.post("/messages-en-echec/evenements/relancer",
                                       data={"csrf": csrf, **b}) for b in bad]
    assert [r.status_code for r in responses] == [422] * len(bad)
    assert "ses coordonnées sont invalides" in responses[0].text
    assert not [r for r in fake.domain_calls() if r.method == "POST"]


async def test_retry_of_an_event_no_longer_parked_shows_the_service_message(backoffice, fake):
    nothing_anywhere(fake)
    fake.on("POST", "identity", "/staff/outbox/parked/9/retry",
            problem(404, "Cet événement n'est pas (ou plus) mis de côté."))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        csrf = await csrf_of(client, "/messages-en-echec")
        response = await client.post("/messages-en-echec/evenements/relancer",
                                     data={"csrf": csrf, "service": "identity", "id": "9"})
    assert response.status_code == 404
    assert "Cet événement n&#39;est pas (ou plus) mis de côté." in response.text
    assert "Événements non publiés" in response.text  # the page, with both lists
    assert len(fake.sent("GET", "identity", "/staff/outbox/parked")) == 2
