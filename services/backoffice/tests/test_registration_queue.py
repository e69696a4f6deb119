"""The queue of registration requests: filters, rows, decisions one or many."""

from __future__ import annotations

import json
import re

from .conftest import csrf_of, post_form, problem, sign_in
from .enrolment_sample import (
    CATALOGUE,
    FACILITY_ID,
    FULL_GROUP_ID,
    GROUP_ID,
    PERIOD_ID,
    QUEUE,
    REG_HUGO,
    REG_LEA,
)
from .sample import FAMILY_ID


def queue(fake, *answers):
    """Pending list: QUEUE on the first calls, then each of `answers` on the following ones."""
    lists = iter([QUEUE, *answers])
    last = {"value": QUEUE}

    def pending(request):
        last["value"] = next(lists, last["value"])
        return last["value"]

    fake.on("GET", "enrolment", "/staff/catalogue", CATALOGUE)
    fake.on("GET", "enrolment", "/staff/registrations", pending)
    return fake


async def test_queue_lists_pending_requests_with_everything_to_decide(backoffice, fake):
    queue(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/inscriptions")
    html = response.text
    assert response.status_code == 200
    [sent] = fake.sent("GET", "enrolment", "/staff/registrations")
    assert dict(sent.url.params) == {"status": "en_attente"}
    assert "<h1>Demandes d&#39;inscription</h1>" in html
    assert html.index(f'id="inscription-{REG_LEA}"') < html.index(f'id="inscription-{REG_HUGO}"')
    assert '<caption id="inscriptions-legende">Demandes en attente (2)</caption>' in html
    for header in ("Sélection", "Enfant", "Inscription demandée", "Demandée le", "Semaine type",
                   "Mémo de la famille", "Places prises / capacité", "Motif du refus",
                   "Décision"):
        assert f'<th scope="col">{header}</th>' in html
    row = html.split(f'id="inscription-{REG_LEA}"')[1].split("</tr>")[0]
    assert '<th scope="row">Léa Martin' in row
    assert f'<a href="/familles/{FAMILY_ID}"' in row
    assert "<strong>AUTOMNE - Automne 2016</strong>" in row and "Groupe : 6-8 ans Rémond" in row
    assert "du 20/10/2016 au 03/11/2016" in row
    # 22:15 UTC on 1 October is 00:15 on 2 October in Paris.
    assert '<time datetime="2016-10-01T22:15:00+00:00">02/10/2016 00:15</time>' in row
    assert "<li>lundi</li><li>mercredi (accueil, repas)</li>" in row
    assert "Allergie aux arachides" in row
    assert re.search(r'7<span aria-hidden="true"> / </span><span class="visually-hidden"> '
                     r"places prises sur </span>12", row)
    assert f'<button type="submit" name="une" value="validate:{REG_LEA}"' in row
    assert ">Valider la sélection</button>" in html and ">Refuser la sélection</button>" in html
    # Enter in a reason field decides nothing: a disabled default button comes first.
    form = html.split('<form method="post" action="/inscriptions"')[1]
    assert form.index("<button") == form.index('<button type="submit" disabled hidden')
    # The filter lists come from the catalogue.
    assert f'<option value="{FACILITY_ID}">CENTRE DE LOISIRS ALSH</option>' in html
    assert '<optgroup label="CENTRE DE LOISIRS ALSH">' in html
    assert (f'<option value="{PERIOD_ID}">AUTOMNE - Automne 2016 '
            "(du 20/10/2016 au 03/11/2016)</option>") in html
    assert '<optgroup label="CENTRE DE LOISIRS ALSH › AUTOMNE - Automne 2016">' in html
    assert f'<option value="{FULL_GROUP_ID}">9-11 ans</option>' in html


async def test_filters_are_passed_as_query_parameters(backoffice, fake):
    queue(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/inscriptions", params={
            "equipement": FACILITY_ID, "periode": PERIOD_ID, "groupe": GROUP_ID,
            "du": "01/10/2016", "au": "30/10/2016"})
    [sent] = fake.sent("GET", "enrolment", "/staff/registrations")
    # Paris days: from midnight of the first to midnight after the last (summer, then winter).
    assert dict(sent.url.params) == {
        "status": "en_attente", "facility_id": FACILITY_ID, "period_id": PERIOD_ID,
        "group_id": GROUP_ID, "requested_from": "2016-10-01T00:00:00+02:00",
        "requested_to": "2016-10-31T00:00:00+01:00"}
    html = response.text
    assert f'<option value="{PERIOD_ID}" selected>' in html
    assert f'<option value="{GROUP_ID}" selected>' in html
    assert 'name="du" type="text" value="01/10/2016"' in html
    assert "correspondant aux filtres (2)" in html
    assert '<a class="button button-secondary" href="/inscriptions">Effacer les filtres</a>' in html
    # A decision keeps the filters.
    assert ('<form method="post" action="/inscriptions?equipement=' + FACILITY_ID) in html


async def test_wrong_filters_are_flagged_and_nothing_is_listed(backoffice, fake):
    queue(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/inscriptions", params={
            "groupe": "pas-un-id", "du": "32/10/2016", "au": "01/01/2016"})
        unknown = await client.get("/inscriptions", params={"periode": REG_LEA})
    assert response.status_code == 422
    assert '<a href="#filtre-groupe">Choisissez le groupe dans la liste.</a>' in response.text
    assert '<a href="#filtre-du">La date « du » n&#39;est pas valide' in response.text
    assert "Corrigez les filtres" in response.text
    assert unknown.status_code == 422
    assert '<a href="#filtre-periode">Choisissez la période dans la liste.</a>' in unknown.text
    assert 'id="inscription-' not in unknown.text
    assert len(fake.sent("GET", "enrolment", "/staff/registrations")) == 1  # the second only


async def test_batch_refusal_sends_the_list_and_shows_per_item_results(backoffice, fake):
    queue(fake, QUEUE, {"items": [QUEUE["items"][0]]})
    fake.on("POST", "enrolment", "/staff/registrations/decisions", {"results": [
        {"registration_id": REG_LEA, "ok": False,
         "detail": "Indiquez le motif du refus : il est communiqué à la famille."},
        {"registration_id": REG_HUGO, "ok": True, "detail": "Inscription refusée."},
    ]})
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/inscriptions")
        response = await client.post(f"/inscriptions?groupe={GROUP_ID}", data={
            "csrf": csrf, "selection": [REG_LEA, REG_HUGO], "decision": "refuse",
            f"motif-{REG_LEA}": "  ", f"motif-{REG_HUGO}": "Groupe réservé aux 6-7 ans."})
    html = response.text
    [sent] = fake.sent("POST", "enrolment", "/staff/registrations/decisions")
    assert json.loads(sent.content) == {"decisions": [
        {"registration_id": REG_LEA, "decision": "refuse"},
        {"registration_id": REG_HUGO, "decision": "refuse",
         "reason": "Groupe réservé aux 6-7 ans."},
    ]}
    # The queue is listed again with the same filter.
    assert all(r.url.params.get("group_id") == GROUP_ID
               for r in fake.sent("GET", "enrolment", "/staff/registrations")[1:])
    assert response.status_code == 422
    assert "1 demande traitée" in html
    assert "Hugo Martin, AUTOMNE - Automne 2016 (6-8 ans Rémond) : inscription refusée." in html
    assert (f'<a href="#motif-{REG_LEA}">Léa Martin : Indiquez le motif du refus : il est '
            "communiqué à la famille.</a>") in html
    assert re.search(rf'id="motif-{REG_LEA}"[^>]*aria-invalid="true"', html)
    assert f'id="choix-{REG_LEA}" name="selection" value="{REG_LEA}" checked' in html
    assert f'id="inscription-{REG_HUGO}"' not in html


async def test_batch_validation_reports_every_item(backoffice, fake):
    queue(fake, QUEUE, {"items": []})
    fake.on("POST", "enrolment", "/staff/registrations/decisions", {"results": [
        {"registration_id": REG_HUGO, "ok": True, "detail": "Inscription validée."},
        {"registration_id": REG_LEA, "ok": True, "detail": "Inscription validée."}]})
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/inscriptions")
        response = await client.post("/inscriptions", data={
            "csrf": csrf, "selection": [REG_HUGO, REG_LEA], "decision": "validate",
            f"motif-{REG_LEA}": "ignoré"})
    [sent] = fake.sent("POST", "enrolment", "/staff/registrations/decisions")
    assert json.loads(sent.content)["decisions"] == [
        {"registration_id": REG_HUGO, "decision": "validate"},
        {"registration_id": REG_LEA, "decision": "validate"}]
    assert response.status_code == 200
    assert "2 demandes traitées" in response.text
    assert "Léa Martin, AUTOMNE - Automne 2016 (6-8 ans Rémond) : inscription validée." \
        in response.text
    assert "Aucune demande d&#39;inscription en attente." in response.text


async def test_a_single_row_button_decides_that_request_only(backoffice, fake):
    queue(fake, QUEUE, {"items": [QUEUE["items"][1]]})
    fake.on("POST", "enrolment", "/staff/registrations/decisions",
            {"results": [{"registration_id": REG_LEA, "ok": True,
                          "detail": "Inscription refusée."}]})
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/inscriptions")
        response = await client.post("/inscriptions", data={
            "csrf": csrf, "selection": [REG_HUGO], "une": f"refuse:{REG_LEA}",
            f"motif-{REG_LEA}": "Complet", f"motif-{REG_HUGO}": "autre"})
    [sent] = fake.sent("POST", "enrolment", "/staff/registrations/decisions")
    assert json.loads(sent.content) == {"decisions": [
        {"registration_id": REG_LEA, "decision": "refuse", "reason": "Complet"}]}
    assert "Léa Martin, AUTOMNE - Automne 2016 (6-8 ans Rémond) : inscription refusée." \
        in response.text


async def test_deciding_nothing_is_an_error_linked_to_the_first_checkbox(backoffice, fake):
    queue(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post_form(client, "/inscriptions", {"decision": "validate"})
    assert response.status_code == 422
    assert f'<a href="#choix-{REG_LEA}">Sélectionnez au moins une demande.</a>' in response.text
    assert not fake.sent("POST", "enrolment", "/staff/registrations/decisions")


async def test_a_whole_batch_422_keeps_the_selection(backoffice, fake):
    queue(fake)
    fake.on("POST", "enrolment", "/staff/registrations/decisions", problem(
        422, "Données invalides", [{"champ": "decisions.1.reason",
                                    "message": "Ce champ est trop long."}]))
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/inscriptions")
        response = await client.post("/inscriptions", data={
            "csrf": csrf, "selection": [REG_LEA, REG_HUGO], "decision": "refuse",
            f"motif-{REG_LEA}": "Motif", f"motif-{REG_HUGO}": "x" * 1001})
    assert (f'<a href="#motif-{REG_HUGO}">Hugo Martin : Ce champ est trop long.</a>'
            in response.text)
    assert "traitée" not in response.text
    assert f'id="choix-{REG_LEA}" name="selection" value="{REG_LEA}" checked' in response.text
    assert re.search(rf'id="motif-{REG_LEA}" name="motif-{REG_LEA}" value="Motif"', response.text)
