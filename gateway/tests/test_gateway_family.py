"""« Ma famille »: the persons' cards, adding a child or a second guardian, editing a child."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.tests.enrolment_fake import FakeEnrolment

FAMILY_ID = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
CLAIRE = "11111111-1111-4111-8111-111111111111"
LEA = "22222222-2222-4222-8222-222222222222"
TOM = "33333333-3333-4333-8333-333333333333"


def person(id, role, first, last, birth=None, sex=None, age=None, rank=None):
    return {"id": id, "role": role, "rank": rank, "first_name": first, "last_name": last,
            "birth_date": birth, "sex": sex, "age": age}


FAMILY = {"id": FAMILY_ID, "name": "Martin", "email": "claire.martin@example.fr",
          "needs_review": True, "persons": [
              person(CLAIRE, "guardian", "Claire", "Martin", rank=1),
              person(LEA, "child", "Léa", "Martin", "2015-01-01", "F", 9),
              person(TOM, "child", "Tom", "Martin", "2023-06-30", "M", 1),
          ]}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def card(html: str, name: str) -> str:
    match = re.search(r'<article class="card person-card".*?</article>',
                      html[html.index(name) - 200:], re.S)
    return match[0]


@pytest.fixture
def family(fake):
    fake.on("GET", f"/families/{FAMILY_ID}", httpx.Response(200, json=FAMILY))
    return fake


async def test_cards_show_age_birth_date_and_sex(portal, family, gw):
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        response = await client.get("/ma-famille")
    html = response.text
    assert response.status_code == 200
    lea = text(card(html, ">Léa Martin<"))
    assert "Age : 9 an(s)" in lea
    assert "Né(e) le : 01/01/2015" in lea
    assert "Sexe : Féminin" in lea
    tom = text(card(html, ">Tom Martin<"))
    assert "Age : 1 an(s)" in tom and "Né(e) le : 30/06/2023" in tom and "Sexe : Masculin" in tom
    claire = text(card(html, ">Claire Martin<"))
    assert "Responsable légal 1" in claire
    assert "Age : Non renseigné" in claire and "Sexe : Non renseigné" in claire
    assert "Votre foyer est en cours de vérification par la structure." in html
    assert '<a class="button" href="/ma-famille/ajouter">AJOUTER une nouvelle personne</a>' in html


async def test_child_cards_have_the_guides_four_links(portal, family, gw):
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        html = (await client.get("/ma-famille")).text
    lea = card(html, ">Léa Martin<")
    links = dict((text(label).split(" – ")[0], href.replace("&amp;", "&"))
                 for href, label in re.findall(r'<a href="([^"]+)">(.*?)</a>', lea))
    assert links == {
        "Modifier mes informations": f"/ma-famille/enfants/{LEA}/modifier",
        "Nouvelle inscription": f"/mes-inscriptions/nouvelle?enfant={LEA}",
        "Inscriptions en attente": f"/mes-inscriptions?enfant={LEA}&etat=attente",
        "Inscriptions en cours": f"/mes-inscriptions?enfant={LEA}&etat=cours",
    }
    # Out of context, each link still says whose it is.
    assert '<span class="visually-hidden"> – Léa Martin</span>' in lea
    assert "Nouvelle inscription" not in card(html, ">Claire Martin<")


async def test_registration_links_land_on_pages_that_exist(portal, family, gw):
    FakeEnrolment(family, family=False)  # this module's family, enrolment's answers
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        new = await client.get(f"/mes-inscriptions/nouvelle?enfant={LEA}")
        pending = await client.get(f"/mes-inscriptions?enfant={LEA}&etat=attente")
        current = await client.get(f"/mes-inscriptions?enfant={LEA}&etat=cours")
    assert all(r.status_code == 200 for r in (new, pending, current))
    assert "<h1>Demander une nouvelle inscription</h1>" in new.text
    assert "<h1>Inscriptions en attente</h1>" in pending.text
    assert "<h1>Inscriptions en cours</h1>" in current.text
    assert all("Enfant : Léa Martin" in r.text for r in (new, pending, current))
    assert "Choix de l&#39;Équipement" in new.text


async def test_add_starts_with_the_choice_then_the_child_form(portal, family, gw):
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        choice = (await client.get("/ma-famille/ajouter")).text
        empty_choice = await client.get("/ma-famille/ajouter?type=")
        form = (await client.get("/ma-famille/ajouter?type=enfant")).text
    assert '<form method="get" action="/ma-famille/ajouter"' in choice
    assert '<label for="type">Un enfant</label>' in choice
    assert '<label for="type-2">Un second responsable légal</label>' in choice
    assert empty_choice.status_code == 422
    assert '<a href="#type">Choisissez la personne à ajouter.</a>' in empty_choice.text
    assert "<h1>Ajouter un enfant</h1>" in form
    assert '<input type="hidden" name="type" value="enfant">' in form
    for label in ("Prénom", "Nom", "Date de naissance"):
        assert f'>{label} <span class="required" aria-hidden="true">*</span></label>' in form
    assert re.search(r'<input id="birth_date" name="birth_date" type="date" value="" required',
                     form)
    assert 'value="Martin"' in form, "the guardian's name is offered for the child"
    assert "<legend>Sexe</legend>" in form


async def test_adding_a_child_posts_to_identity_and_confirms(portal, family, gw):
    family.on("POST", f"/families/{FAMILY_ID}/children", httpx.Response(201, json=person(
        "44444444-4444-4444-8444-444444444444", "child", "Zoé", "Martin", "2019-09-01", None, 5)))
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        response = await client.post("/ma-famille/ajouter", data=gw.with_csrf(client, {
            "type": "enfant", "first_name": " Zoé ", "last_name": "Martin",
            "birth_date": "01/09/2019", "sex": ""}))
        assert response.status_code == 303
        assert response.headers["location"] == "/ma-famille?confirmation=ajout"
        page = (await client.get(response.headers["location"])).text
    assert family.body("POST", f"/families/{FAMILY_ID}/children") == {
        "first_name": "Zoé", "last_name": "Martin", "birth_date": "2019-09-01", "sex": None}
    assert "La personne a été ajoutée à votre famille." in page


async def test_child_needs_a_birth_date_and_a_valid_one(portal, family, gw):
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        missing = await client.post("/ma-famille/ajouter", data=gw.with_csrf(client, {
            "type": "enfant", "first_name": "Zoé", "last_name": "Martin", "birth_date": ""}))
        wrong = await client.post("/ma-famille/ajouter", data=gw.with_csrf(client, {
            "type": "enfant", "first_name": "Zoé", "last_name": "Martin",
            "birth_date": "31/02/2019"}))
    assert missing.status_code == 422
    assert '<a href="#birth_date">Ce champ est obligatoire.</a>' in missing.text
    assert '<a href="#birth_date">La date n&#39;est pas valide.' in wrong.text
    assert 'value="Zoé"' in wrong.text
    assert not family.sent("POST", f"/families/{FAMILY_ID}/children")


async def test_identity_field_errors_and_conflicts_are_shown(portal, family, gw):
    family.on("POST", f"/families/{FAMILY_ID}/children", gw.problem(
        422, "Données invalides", erreurs=[{
            "champ": "birth_date",
            "message": "La date de naissance ne peut pas être dans le futur."}]))
    family.on("POST", f"/families/{FAMILY_ID}/guardians", gw.problem(
        409, "Une famille compte au plus deux responsables légaux."))
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        child = await client.post("/ma-famille/ajouter", data=gw.with_csrf(client, {
            "type": "enfant", "first_name": "Zoé", "last_name": "Martin",
            "birth_date": "2090-01-01"}))
        guardian = await client.post("/ma-famille/ajouter", data=gw.with_csrf(client, {
            "type": "responsable", "first_name": "Paul", "last_name": "Martin"}))
    assert child.status_code == 422
    assert ('<a href="#birth_date">La date de naissance ne peut pas être dans le futur.</a>'
            in child.text)
    field = re.search(r'<input id="birth_date"[^>]*>', child.text)[0]
    assert 'aria-invalid="true"' in field and "birth_date-erreur" in field
    assert guardian.status_code == 409
    assert "<li>Une famille compte au plus deux responsables légaux.</li>" in guardian.text
    assert family.body("POST", f"/families/{FAMILY_ID}/guardians") == {
        "first_name": "Paul", "last_name": "Martin", "birth_date": None, "sex": None}


async def test_second_guardian_is_not_offered_when_there_are_two(portal, fake, gw):
    two = {**FAMILY, "persons": [person(CLAIRE, "guardian", "Claire", "Martin", rank=1),
                                 person(TOM, "guardian", "Paul", "Martin", rank=2)]}
    fake.on("GET", f"/families/{FAMILY_ID}", httpx.Response(200, json=two))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get("/ma-famille/ajouter?type=responsable")).text
    assert "Un second responsable légal" not in html
    assert "déjà deux responsables légaux" in html


async def test_editing_a_child_is_prefilled_and_puts(portal, family, gw):
    family.on("PUT", f"/families/{FAMILY_ID}/children/{LEA}",
              httpx.Response(200, json=FAMILY["persons"][1]))
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        form = (await client.get(f"/ma-famille/enfants/{LEA}/modifier")).text
        response = await client.post(f"/ma-famille/enfants/{LEA}/modifier", data=gw.with_csrf(
            client, {"first_name": "Léa", "last_name": "Martin-Durand",
                     "birth_date": "2015-01-01", "sex": "F"}))
    assert "<h1>Modifier les informations de Léa Martin</h1>" in form
    assert 'value="2015-01-01"' in form and re.search(r'value="F" checked', form)
    assert response.status_code == 303
    assert response.headers["location"] == "/ma-famille?confirmation=modification"
    assert family.body("PUT", f"/families/{FAMILY_ID}/children/{LEA}") == {
        "first_name": "Léa", "last_name": "Martin-Durand", "birth_date": "2015-01-01", "sex": "F"}


@pytest.mark.parametrize("path", [f"/ma-famille/enfants/{CLAIRE}/modifier",
                                  "/ma-famille/enfants/pas-un-id/modifier",
                                  "/ma-famille/enfants/99999999-9999-4999-8999-999999999999/modifier"])
async def test_editing_someone_who_is_not_a_child_of_the_family_is_a_404(portal, family, gw, path):
    async with portal(family) as client:
        gw.signed_in(client, family.parent_token())
        response = await client.get(path)
    assert response.status_code == 404
    assert "Page introuvable" in response.text
