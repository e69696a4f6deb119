"""Families: search, household page, creation with invitation, and the household actions."""

from __future__ import annotations

import copy
import json
import re

import httpx

from .conftest import csrf_of, problem, sign_in
from .sample import FAMILY, FAMILY_ID, OTHER_FAMILY_ID, SEARCH


async def test_search_sends_the_query_and_lists_families(backoffice, fake):
    fake.on("GET", "identity", "/staff/families", SEARCH)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/familles", params={"q": " léa "})
    html = response.text
    [sent] = fake.sent("GET", "identity", "/staff/families")
    assert sent.url.params["q"] == "léa"
    assert sent.headers["authorization"].startswith("Bearer ")
    assert response.status_code == 200
    assert "<caption id=\"familles-titre\">Familles correspondant à « léa »</caption>" in html
    for header in ("Foyer", "E-mail", "Enfants", "Vérification", "Créé le"):
        assert f'<th scope="col">{header}</th>' in html
    assert f'<th scope="row"><a href="/familles/{FAMILY_ID}">Martin</a></th>' in html
    assert "Léa Martin, Hugo Martin" in html
    # The badge says it in words (not by colour only), once: only Martin needs review.
    assert html.count("À vérifier</span>") == 1
    # Created at 23:30 UTC on 31 January is 1 February in Paris.
    assert '<time datetime="2025-01-31T23:30:00+00:00">01/02/2025</time>' in html
    assert 'value="léa"' in html


async def test_household_page_shows_persons_contact_account_and_history(backoffice, fake):
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", FAMILY)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get(f"/familles/{FAMILY_ID}")
    html = response.text
    assert response.status_code == 200
    assert "<h1>Foyer Martin" in html and "À vérifier" in html
    assert ">Marquer comme vérifié</button>" in html
    assert "<th scope=\"row\">Léa Martin</th>" in html
    assert "14/09/2017" in html and "7 ans" in html and "Responsable légal 1" in html
    assert "Invitation envoyée" in html and ">Renvoyer l&#39;invitation</button>" in html
    assert "01 23 45 67 89" in html and "06 12 34 56 78" in html
    assert "Claire Martin — CAF n° 1234567" in html
    assert "identifiant de connexion" in html  # the email form explains what it changes
    assert "Numéro d&#39;allocataire" in html and "1234567" in html and "7654321" in html
    assert "Refusée" in html and "Numéro d&#39;allocataire inconnu de la CAF" in html
    assert "02/03/2025 11:15" in html  # decided at 10:15 UTC = 11:15 in Paris (winter)


async def test_active_account_has_no_invitation_button(backoffice, fake):
    data = copy.deepcopy(FAMILY)
    data["account"] = {"status": "active", "activated_at": "2025-02-01T10:00:00+00:00"}
    data["family"]["needs_review"] = False
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", data)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get(f"/familles/{FAMILY_ID}")).text
    assert "Compte actif" in html and "depuis le 01/02/2025" in html
    assert "Renvoyer l&#39;invitation" not in html and "Marquer comme vérifié" not in html


async def test_unknown_family_is_a_french_404(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        missing = await client.get(f"/familles/{OTHER_FAMILY_ID}")
        not_an_id = await client.get("/familles/..%2F..%2Fstaff%2Faudit")
    assert missing.status_code == 404 and "Page introuvable" in missing.text
    assert not_an_id.status_code == 404
    assert not [r for r in fake.domain_calls() if "audit" in r.url.path]


async def test_resend_invitation_and_review_post_to_identity(backoffice, fake):
    fake.on("POST", "identity", f"/staff/families/{FAMILY_ID}/invitation",
            httpx.Response(202, json={}))
    fake.on("POST", "identity", f"/staff/families/{FAMILY_ID}/review", httpx.Response(204))
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", FAMILY)
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, f"/familles/{FAMILY_ID}")
        invited = await client.post(f"/familles/{FAMILY_ID}/invitation", data={"csrf": csrf})
        reviewed = await client.post(f"/familles/{FAMILY_ID}/verification", data={"csrf": csrf})
        shown = await client.get(invited.headers["location"])
    assert invited.status_code == 303
    assert invited.headers["location"] == f"/familles/{FAMILY_ID}?message=invitation"
    assert reviewed.headers["location"] == f"/familles/{FAMILY_ID}?message=verifiee"
    assert len(fake.sent("POST", "identity", f"/staff/families/{FAMILY_ID}/invitation")) == 1
    assert len(fake.sent("POST", "identity", f"/staff/families/{FAMILY_ID}/review")) == 1
    assert "Invitation envoyée à famille.martin@example.fr" in shown.text
    assert 'role="status"' in shown.text


async def test_change_email_puts_it_and_reports_a_duplicate_by_the_field(backoffice, fake):
    answers = iter([problem(409, "Un compte existe déjà pour cette adresse e-mail."),
                    httpx.Response(200, json=FAMILY["family"])])
    fake.on("PUT", "identity", f"/staff/families/{FAMILY_ID}/email", lambda r: next(answers))
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", FAMILY)
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, f"/familles/{FAMILY_ID}")
        taken = await client.post(f"/familles/{FAMILY_ID}/email",
                                  data={"csrf": csrf, "email": "pris@example.fr"})
        changed = await client.post(f"/familles/{FAMILY_ID}/email",
                                    data={"csrf": csrf, "email": "nouveau@example.fr"})
    assert taken.status_code == 409
    assert '<a href="#email">Un compte existe déjà pour cette adresse e-mail.</a>' in taken.text
    assert re.search(r'id="email"[^>]*value="pris@example.fr"[^>]*aria-invalid="true"', taken.text)
    assert changed.headers["location"] == f"/familles/{FAMILY_ID}?message=email"
    bodies = [json.loads(r.content) for r in fake.sent("PUT", "identity",
                                                         f"/staff/families/{FAMILY_ID}/email")]
    assert bodies == [{"email": "pris@example.fr"}, {"email": "nouveau@example.fr"}]


def new_family_form(csrf: str, **overrides: str) -> dict[str, str]:
    form = {"csrf": csrf, "nom-foyer": "Durand", "email": "durand@example.fr",
            "responsable-prenom": "Paul", "responsable-nom": "Durand"}
    for row in range(1, 5):
        form |= {f"enfant-{row}-prenom": "", f"enfant-{row}-nom": "",
                 f"enfant-{row}-naissance": "", f"enfant-{row}-sexe": ""}
    return form | overrides


async def test_creation_ignores_empty_child_rows_and_shows_the_invitation(backoffice, fake):
    fake.on("POST", "identity", "/staff/families",
            httpx.Response(201, json={"family_id": FAMILY_ID}))
    created = copy.deepcopy(FAMILY)
    created["family"]["email"] = "durand@example.fr"
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", created)
    async with backoffice(fake) as client:
        sign_in(client)
        form_page = await client.get("/familles/nouvelle")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form_page.text).group(1)
        response = await client.post("/familles/nouvelle", data=new_family_form(
            csrf, **{"enfant-2-prenom": "Inès", "enfant-2-nom": "Durand",
                     "enfant-2-naissance": "2018-05-20", "enfant-2-sexe": "F",
                     "enfant-4-prenom": "Noé", "enfant-4-nom": "Durand",
                     "enfant-4-naissance": "03/11/2020"}))
        shown = await client.get(response.headers["location"])
    assert form_page.text.count("<legend>Enfant ") == 4
    assert response.status_code == 303
    assert response.headers["location"] == f"/familles/{FAMILY_ID}?message=creee"
    [sent] = fake.sent("POST", "identity", "/staff/families")
    assert json.loads(sent.content) == {
        "name": "Durand", "email": "durand@example.fr",
        "guardian": {"first_name": "Paul", "last_name": "Durand", "birth_date": None, "sex": None},
        "children": [
            {"first_name": "Inès", "last_name": "Durand", "birth_date": "2018-05-20", "sex": "F"},
            {"first_name": "Noé", "last_name": "Durand", "birth_date": "2020-11-03", "sex": None},
        ]}
    assert "Invitation envoyée à durand@example.fr" in shown.text


async def test_creation_checks_required_fields_and_partial_child_rows(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/familles/nouvelle")
        response = await client.post("/familles/nouvelle", data=new_family_form(
            csrf, **{"nom-foyer": "", "enfant-3-prenom": "Zoé",
                     "enfant-3-naissance": "31/02/2019"}))
    html = response.text
    assert response.status_code == 422
    assert '<a href="#nom-foyer">Saisissez le nom du foyer.</a>' in html
    assert '<a href="#enfant-3-nom">Saisissez le nom de l&#39;enfant 3.</a>' in html
    assert '<a href="#enfant-3-naissance">La date de naissance de l&#39;enfant 3' in html
    assert re.search(r'id="enfant-3-nom"[^>]*aria-invalid="true"', html)
    assert 'value="Zoé"' in html  # what was typed is kept
    assert not fake.sent("POST", "identity", "/staff/families")


async def test_creation_shows_identity_field_errors_on_fields_and_409_at_the_top(backoffice, fake):
    answers = iter([
        problem(422, "Certaines informations sont invalides.", [
            {"champ": "children.1.birth_date",
             "message": "La date de naissance est dans le futur."},
            {"champ": "email", "message": "Adresse e-mail invalide."}]),
        problem(409, "Un compte existe déjà pour cette adresse e-mail."),
    ])
    fake.on("POST", "identity", "/staff/families", lambda r: next(answers))
    form = {"enfant-1-prenom": "A", "enfant-1-nom": "B", "enfant-1-naissance": "2019-01-01",
            "enfant-3-prenom": "C", "enfant-3-nom": "D", "enfant-3-naissance": "2099-01-01"}
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/familles/nouvelle")
        invalid = await client.post("/familles/nouvelle", data=new_family_form(csrf, **form))
        duplicate = await client.post("/familles/nouvelle", data=new_family_form(csrf, **form))
    # The second child sent is the form's row 3 (row 2 was empty).
    assert ('<a href="#enfant-3-naissance">La date de naissance est dans le futur.</a>'
            in invalid.text)
    assert '<a href="#email">Adresse e-mail invalide.</a>' in invalid.text
    assert duplicate.status_code == 409
    summary = duplicate.text.split('class="error-summary"')[1].split("</div>")[0]
    assert "<li>Un compte existe déjà pour cette adresse e-mail.</li>" in summary
    assert 'aria-invalid="true"' not in duplicate.text


async def test_a_refused_search_is_shown_by_the_search_field(backoffice, fake):
    fake.on("GET", "identity", "/staff/families", problem(422, "Données invalides", [
        {"champ": "q", "message": "Saisissez au moins 2 caractères."}]))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/familles", params={"q": "a"})
    assert response.status_code == 422
    assert '<a href="#q">Saisissez au moins 2 caractères.</a>' in response.text
    assert re.search(r'id="q"[^>]*aria-invalid="true" aria-describedby="q-aide q-erreur"',
                     response.text)


async def test_household_page_shows_a_pending_request_and_no_account(backoffice, fake):
    from .sample import GUARDIAN_ID, PENDING
    data = copy.deepcopy(FAMILY)
    data["account"] = {"status": "aucun", "activated_at": None}
    data["contact"]["pending_request"] = PENDING["items"][1]
    fake.on("GET", "identity", f"/staff/families/{FAMILY_ID}", data)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get(f"/familles/{FAMILY_ID}")).text
    assert "Aucun compte" in html
    assert "Une demande de modification de ces coordonnées attend une décision" in html
    # Here the persons are known: the guardian's phone is named after her.
    assert GUARDIAN_ID not in html.split("attend une décision")[1].split("</ul>")[0]
    assert "Téléphone portable de Claire Martin" in html
    assert '<a href="/demandes/coordonnees">Traiter la demande</a>' in html
