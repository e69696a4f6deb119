"""The contact-change requests queue: oldest first, before → after, decisions one or many."""

from __future__ import annotations

import json
import re

from .conftest import csrf_of, post_form, problem, sign_in
from .sample import FAMILY_ID, PENDING, REQUEST_1, REQUEST_2


def queue(fake, *answers):
    """Pending list: PENDING first, then each of `answers` on the following calls."""
    lists = iter([PENDING, PENDING, *answers])
    last = {"value": PENDING}

    def pending(request):
        last["value"] = next(lists, last["value"])
        return last["value"]

    fake.on("GET", "identity", "/staff/contact-change-requests", pending)
    return fake


async def test_queue_lists_pending_requests_oldest_first_with_before_and_after(backoffice, fake):
    queue(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/demandes/coordonnees")
    html = response.text
    [sent] = fake.sent("GET", "identity", "/staff/contact-change-requests")
    assert sent.url.params["status"] == "en_attente"
    assert html.index(f'id="demande-{REQUEST_1}"') < html.index(f'id="demande-{REQUEST_2}"')
    assert f'<a href="/familles/{FAMILY_ID}">Martin</a>' in html
    assert '<time datetime="2025-03-03T08:05:00+00:00">03/03/2025 09:05</time>' in html
    # « avant → après », phones in the national format, the arrow also said in words.
    assert re.search(r"Téléphone du domicile</span> : <del><span class=\"visually-hidden\">"
                     r"avant : </span>01\u00a023\u00a045\u00a067\u00a089</del> "
                     r"<span aria-hidden=\"true\">→</span> <ins><span class=\"visually-hidden\">"
                     r"après : </span>09\u00a087\u00a065\u00a043\u00a021</ins>", html)
    assert "Téléphone portable de" not in html  # the queue does not know the persons' names
    assert "Téléphone portable (responsable légal)" in html and "(vide)" in html
    assert "Régime</span>" in html and "MSA" in html
    assert (f'<input type="checkbox" id="choix-{REQUEST_1}" name="selection" '
            f'value="{REQUEST_1}"') in html
    assert (f'<label for="motif-{REQUEST_1}" class="visually-hidden">'
            "Motif du refus pour la famille Martin</label>") in html
    assert ">Accepter la sélection</button>" in html and ">Refuser la sélection</button>" in html
    # Enter in a reason field must not submit a decision: a disabled default button comes first.
    form = html.split('<form method="post" action="/demandes/coordonnees"')[1]
    assert form.index("<button") == form.index('<button type="submit" disabled hidden')


async def test_batch_refusal_sends_the_list_and_shows_per_item_results(backoffice, fake):
    queue(fake, {"items": [PENDING["items"][1]]})
    fake.on("POST", "identity", "/staff/contact-change-requests/decisions", {"results": [
        {"request_id": REQUEST_1, "ok": False, "detail": "Le motif du refus est obligatoire."},
        {"request_id": REQUEST_2, "ok": True, "detail": "Demande refusée."},
    ]})
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/demandes/coordonnees")
        response = await client.post("/demandes/coordonnees", data={
            "csrf": csrf, "selection": [REQUEST_1, REQUEST_2], "decision": "refuse",
            f"motif-{REQUEST_1}": "  ", f"motif-{REQUEST_2}": "Justificatif MSA manquant"})
    html = response.text
    [sent] = fake.sent("POST", "identity", "/staff/contact-change-requests/decisions")
    assert json.loads(sent.content) == {"decisions": [
        {"request_id": REQUEST_1, "decision": "refuse"},
        {"request_id": REQUEST_2, "decision": "refuse", "reason": "Justificatif MSA manquant"},
    ]}
    assert response.status_code == 422
    assert "1 demande traitée" in html and "Famille Nguyen : demande refusée." in html
    assert (f'<a href="#motif-{REQUEST_1}">Famille Martin : Le motif du refus est obligatoire.</a>'
            in html)
    assert re.search(rf'id="motif-{REQUEST_1}"[^>]*aria-invalid="true"', html)
    assert f'id="choix-{REQUEST_1}" name="selection" value="{REQUEST_1}" checked' in html
    assert f'id="demande-{REQUEST_2}"' not in html  # decided: no longer in the queue


async def test_batch_acceptance_reports_every_item(backoffice, fake):
    queue(fake, {"items": []})
    fake.on("POST", "identity", "/staff/contact-change-requests/decisions", {"results": [
        {"request_id": REQUEST_1, "ok": True, "detail": "Demande acceptée."},
        {"request_id": REQUEST_2, "ok": True, "detail": "Demande acceptée."}]})
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/demandes/coordonnees")
        response = await client.post("/demandes/coordonnees", data={
            "csrf": csrf, "selection": [REQUEST_2, REQUEST_1], "decision": "accept",
            f"motif-{REQUEST_1}": "ignoré"})
    [sent] = fake.sent("POST", "identity", "/staff/contact-change-requests/decisions")
    assert json.loads(sent.content)["decisions"] == [
        {"request_id": REQUEST_2, "decision": "accept"},
        {"request_id": REQUEST_1, "decision": "accept"}]
    assert response.status_code == 200
    assert "2 demandes traitées" in response.text
    assert "Famille Martin : demande acceptée." in response.text
    assert "Aucune demande en attente." in response.text


async def test_a_single_row_button_decides_that_request_only(backoffice, fake):
    queue(fake, {"items": [PENDING["items"][0]]})
    fake.on("POST", "identity", "/staff/contact-change-requests/decisions",
            {"results": [{"request_id": REQUEST_1, "ok": True, "detail": "Demande refusée."}]})
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/demandes/coordonnees")
        response = await client.post("/demandes/coordonnees", data={
            "csrf": csrf, "selection": [REQUEST_2], "une": f"refuse:{REQUEST_1}",
            f"motif-{REQUEST_1}": "Pièce illisible", f"motif-{REQUEST_2}": "autre"})
    [sent] = fake.sent("POST", "identity", "/staff/contact-change-requests/decisions")
    assert json.loads(sent.content) == {"decisions": [
        {"request_id": REQUEST_1, "decision": "refuse", "reason": "Pièce illisible"}]}
    assert "Famille Martin : demande refusée." in response.text


async def test_deciding_nothing_is_an_error_linked_to_the_first_checkbox(backoffice, fake):
    queue(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post_form(client, "/demandes/coordonnees", {"decision": "accept"})
    assert response.status_code == 422
    assert f'<a href="#choix-{REQUEST_1}">Sélectionnez au moins une demande.</a>' in response.text
    assert not fake.sent("POST", "identity", "/staff/contact-change-requests/decisions")


async def test_a_whole_batch_422_is_shown_on_the_rows(backoffice, fake):
    queue(fake)
    fake.on("POST", "identity", "/staff/contact-change-requests/decisions", problem(
        422, "Données invalides", [{"champ": "decisions.1.reason",
                                    "message": "Le motif du refus est obligatoire."}]))
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/demandes/coordonnees")
        response = await client.post("/demandes/coordonnees", data={
            "csrf": csrf, "selection": [REQUEST_1, REQUEST_2], "decision": "refuse",
            f"motif-{REQUEST_1}": "Motif"})
    assert (f'<a href="#motif-{REQUEST_2}">Famille Nguyen : Le motif du refus est obligatoire.</a>'
            in response.text)
    # Nothing was applied: the whole selection and its reasons are kept for a second try.
    assert "traitée" not in response.text
    assert f'id="choix-{REQUEST_1}" name="selection" value="{REQUEST_1}" checked' in response.text
    assert f'id="choix-{REQUEST_2}" name="selection" value="{REQUEST_2}" checked' in response.text
    assert re.search(rf'id="motif-{REQUEST_1}" name="motif-{REQUEST_1}" value="Motif"',
                     response.text)
