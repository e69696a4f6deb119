"""« Mon compte »: the guide's sub-menu, the password change; the billing pages are in
`test_gateway_billing.py`."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.tests.billing_fake import FakeBilling

SUBMENU = ["Mot de passe", "Détail financier par inscription", "Détail financier par facture",
           "Demande d'Attestation fiscale", "Mes données personnelles"]


async def test_the_guides_sub_menu(portal, fake, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get("/mon-compte")).text
    start = html.index('<nav class="subnav"')
    nav = html[start:html.index("</nav>", start)]
    labels = [label.replace("&#39;", "'") for label in re.findall(r">([^<>]+)</a>", nav)]
    assert labels == SUBMENU
    assert 'aria-label="Mon compte"' in nav


@pytest.mark.parametrize("path,title", [
    ("/mon-compte/detail-par-inscription", "Détail financier par inscription"),
    ("/mon-compte/detail-par-facture", "Détail financier par facture"),
    ("/mon-compte/attestation-fiscale", "Demande d&#39;Attestation fiscale"),
])
async def test_each_billing_page_marks_its_sub_menu_entry(portal, fake, gw, path, title):
    FakeBilling(fake)
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.get(path)
    assert response.status_code == 200
    assert f"<h1>{title}</h1>" in response.text
    assert f'aria-current="page">{title}</a>' in response.text


async def test_password_change(portal, fake, gw):
    fake.on("POST", "/me/password", httpx.Response(204))
    token = fake.parent_token()
    async with portal(fake) as client:
        gw.signed_in(client, token)
        form = (await client.get("/mon-compte/mot-de-passe")).text
        response = await client.post("/mon-compte/mot-de-passe", data=gw.with_csrf(client, {
            "current_password": "ancien mot de passe", "new_password": "nouveau mot de passe",
            "new_password_confirmation": "nouveau mot de passe"}))
    for label in ("Mot de passe actuel", "Nouveau mot de passe", "Confirmation du mot de passe"):
        assert f">{label}</label>" in form
    assert response.status_code == 200
    assert "Votre mot de passe a été modifié." in response.text
    assert fake.body("POST", "/me/password") == {"current_password": "ancien mot de passe",
                                                 "new_password": "nouveau mot de passe"}
    [sent] = fake.sent("POST", "/me/password")
    assert sent.headers["authorization"] == f"Bearer {token}"


async def test_wrong_current_password_and_weak_new_one(portal, fake, gw):
    data = {"current_password": "faux", "new_password": "1234567890",
            "new_password_confirmation": "1234567890"}
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        fake.on("POST", "/me/password", gw.problem(400, "Le mot de passe actuel est incorrect."))
        wrong = await client.post("/mon-compte/mot-de-passe", data=gw.with_csrf(client, data))
        fake.on("POST", "/me/password", gw.problem(422, "Données invalides", erreurs=[
            {"champ": "new_password",
             "message": "Le mot de passe ne peut pas être composé uniquement de chiffres."}]))
        weak = await client.post("/mon-compte/mot-de-passe", data=gw.with_csrf(client, data))
        mismatch = await client.post("/mon-compte/mot-de-passe", data=gw.with_csrf(
            client, {**data, "new_password_confirmation": "autre"}))
    assert wrong.status_code == 400
    assert '<a href="#current_password">Le mot de passe actuel est incorrect.</a>' in wrong.text
    assert weak.status_code == 422
    assert '<a href="#new_password">Le mot de passe ne peut pas' in weak.text
    assert ('<a href="#new_password_confirmation">'
            'Les deux mots de passe ne sont pas identiques.</a>') in mismatch.text
    assert "1234567890" not in weak.text
