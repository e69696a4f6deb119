"""« Mes coordonnées »: the guide's table, the pending request, and change requests that carry
only what changed."""

from __future__ import annotations

import re

import httpx
import pytest

FAMILY_ID = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
CLAIRE = "11111111-1111-4111-8111-111111111111"
PAUL = "55555555-5555-4555-8555-555555555555"
PATH = f"/families/{FAMILY_ID}/contact"
REQUESTS = f"/families/{FAMILY_ID}/contact-change-requests"

CONTACT = {
    "email": "claire.martin@example.fr",
    "home_phone": "+33123456789", "home_phone_display": "01 23 45 67 89",
    "beneficiary_name": "Claire Martin", "beneficiary_scheme": "CAF",
    "beneficiary_number": "1234567",
    "guardians": [
        {"person_id": CLAIRE, "rank": 1, "first_name": "Claire", "last_name": "Martin",
         "mobile_phone": "+33612345678", "mobile_phone_display": "06 12 34 56 78",
         "work_phone": None, "work_phone_display": None},
        {"person_id": PAUL, "rank": 2, "first_name": "Paul", "last_name": "Martin",
         "mobile_phone": None, "mobile_phone_display": None,
         "work_phone": "+33387654321", "work_phone_display": "03 87 65 43 21"},
    ],
    "pending_request": None,
}
PENDING = {"id": "99999999-9999-4999-8999-999999999999", "status": "en_attente", "reason": None,
           "created_at": "2024-03-01T09:00:00Z", "decided_at": None,
           "changes": {"home_phone": {"before": "+33123456789", "after": "+33198765432"},
                       "beneficiary_scheme": {"before": "CAF", "after": "MSA"},
                       f"guardian_phones.{PAUL}.mobile_phone": {"before": None,
                                                                "after": "+33700000000"}}}


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def table_rows(html: str) -> list[str]:
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return [text(row) for row in body.split("<tr>")[1:]]


@pytest.fixture
def contact(fake):
    fake.on("GET", PATH, httpx.Response(200, json=CONTACT))
    return fake


async def test_the_guides_table(portal, contact, gw):
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        html = (await client.get("/mes-coordonnees")).text
    assert table_rows(html) == [
        "Email * claire.martin@example.fr (modifiable uniquement par la structure)",
        "Tél domicile 01 23 45 67 89",
        "Portable Parent 1 Claire Martin 06 12 34 56 78",
        "Tél travail parent 1 Claire Martin Non renseigné",
        "Portable Parent 2 Paul Martin Non renseigné",
        "Tél travail parent 2 Paul Martin 03 87 65 43 21",
        "Nom de l'allocataire Claire Martin".replace("'", "&#39;"),
        "Régime allocataire CAF",
        "Numéro allocataire 1234567",
    ]
    assert ('<a class="button" href="/mes-coordonnees/modifier">'
            'Consulter / Modifier mes coordonnées</a>') in html
    assert "en attente de validation" not in html


async def test_a_pending_request_is_announced_with_its_changes(portal, fake, gw):
    fake.on("GET", PATH, httpx.Response(200, json={**CONTACT, "pending_request": PENDING}))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get("/mes-coordonnees")).text
        form = (await client.get("/mes-coordonnees/modifier")).text
    start = html.index("pending-request")
    notice = text(html[start:html.index("</div>", start)])
    assert "Une demande de modification est en attente de validation par la structure" in notice
    assert "Tél domicile : « 01 23 45 67 89 » remplacé par « 01 98 76 54 32 »" in notice
    assert "Régime allocataire : « CAF » remplacé par « MSA »" in notice
    assert "Portable Parent 2 : « non renseigné » remplacé par « 07 00 00 00 00 »" in notice
    assert "<form method=\"post\" action=\"/mes-coordonnees/modifier\"" not in form
    assert "une fois celle-ci traitée" in form


async def test_the_form_is_prefilled(portal, contact, gw):
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        html = (await client.get("/mes-coordonnees/modifier")).text
    assert re.search(r'<input id="email" type="email" value="claire.martin@example.fr" readonly',
                     html)
    assert 'name="email"' not in html, "the e-mail is never sent"
    for name, value in {"home_phone": "01 23 45 67 89", "mobile_phone_1": "06 12 34 56 78",
                        "work_phone_1": "", "mobile_phone_2": "", "work_phone_2": "03 87 65 43 21",
                        "beneficiary_name": "Claire Martin",
                        "beneficiary_number": "1234567"}.items():
        pattern = rf'<input id="{name}" name="{name}" type="\w+" value="{value}"'
        assert re.search(pattern, html), name
    assert '<option value="CAF" selected>CAF</option>' in html
    assert '<label for="mobile_phone_2">Portable Parent 2</label>' in html
    assert "<legend>Parent 2 : Paul Martin</legend>" in html


def unchanged_form() -> dict[str, str]:
    return {"home_phone": "01 23 45 67 89", "mobile_phone_1": "06 12 34 56 78",
            "work_phone_1": "", "mobile_phone_2": "", "work_phone_2": "03 87 65 43 21",
            "beneficiary_name": "Claire Martin", "beneficiary_scheme": "CAF",
            "beneficiary_number": "1234567"}


async def test_only_the_changed_fields_are_sent(portal, contact, gw):
    contact.on("POST", REQUESTS, httpx.Response(201, json=PENDING))
    form = {**unchanged_form(),
            "home_phone": "0123456789",  # same number, other spelling: unchanged
            "mobile_phone_1": "+33 6 12 34 56 78",  # same again
            "mobile_phone_2": "07 00 00 00 00",  # new
            "work_phone_2": "",  # cleared
            "beneficiary_scheme": "MSA",
            "beneficiary_number": "123 4567"}  # same, with a space
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        response = await client.post("/mes-coordonnees/modifier", data=gw.with_csrf(client, form))
    assert response.status_code == 303
    assert response.headers["location"] == "/mes-coordonnees/demande-envoyee"
    assert contact.body("POST", REQUESTS) == {
        "guardian_phones": [{"person_id": PAUL, "mobile_phone": "07 00 00 00 00",
                             "work_phone": ""}],
        "beneficiary_scheme": "MSA",
    }


async def test_nothing_changed_sends_nothing(portal, contact, gw):
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        response = await client.post("/mes-coordonnees/modifier",
                                     data=gw.with_csrf(client, unchanged_form()))
    assert response.status_code == 200
    assert "Vous n&#39;avez modifié aucune information" in response.text
    assert not contact.sent("POST", REQUESTS)


async def test_fields_missing_from_the_form_are_left_alone(portal, contact, gw):
    """Parent 2 appeared after the form was shown: its absent fields do not clear anything."""
    contact.on("POST", REQUESTS, httpx.Response(201, json=PENDING))
    form = {"home_phone": "01 11 11 11 11", "mobile_phone_1": "06 12 34 56 78"}
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        await client.post("/mes-coordonnees/modifier", data=gw.with_csrf(client, form))
    assert contact.body("POST", REQUESTS) == {"home_phone": "01 11 11 11 11"}


async def test_confirmation_page(portal, fake, gw):
    fake.on("GET", PATH, httpx.Response(200, json={**CONTACT, "pending_request": PENDING}))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get("/mes-coordonnees/demande-envoyee")).text
    assert "Votre demande de modification a été transmise à la structure." in html
    assert "Régime allocataire" in html


async def test_identity_field_errors_land_on_the_fields(portal, contact, gw):
    contact.on("POST", REQUESTS, gw.problem(422, "Données invalides", erreurs=[
        {"champ": "guardian_phones.0.mobile_phone", "message": "Numéro de téléphone invalide."},
        {"champ": "beneficiary_number", "message": "Le numéro CAF compte de 1 à 7 chiffres."}]))
    form = {**unchanged_form(), "mobile_phone_2": "12", "beneficiary_number": "123456789"}
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        response = await client.post("/mes-coordonnees/modifier", data=gw.with_csrf(client, form))
    html = response.text
    assert response.status_code == 422
    assert '<a href="#mobile_phone_2">Numéro de téléphone invalide.</a>' in html
    assert '<a href="#beneficiary_number">Le numéro CAF compte de 1 à 7 chiffres.</a>' in html
    field = re.search(r'<input id="mobile_phone_2"[^>]*>', html)[0]
    assert 'value="12"' in field and 'aria-invalid="true"' in field
    assert 'aria-describedby="mobile_phone_2-erreur"' in field


async def test_a_pending_conflict_is_shown_at_the_top(portal, contact, gw):
    contact.on("POST", REQUESTS,
               gw.problem(409, "Une demande de modification est déjà en attente."))
    async with portal(contact) as client:
        gw.signed_in(client, contact.parent_token())
        response = await client.post("/mes-coordonnees/modifier", data=gw.with_csrf(
            client, {**unchanged_form(), "home_phone": "01 99 99 99 99"}))
    assert response.status_code == 409
    assert "<li>Une demande de modification est déjà en attente.</li>" in response.text
