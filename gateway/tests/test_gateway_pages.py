"""Portal pages: French, the guide's menu, accessibility landmarks, HTML error pages."""

from __future__ import annotations

import re

import httpx
import pytest


MENU = ["Accueil", "Mon tableau de bord", "Ma famille", "Mes coordonnées", "Mes inscriptions",
        "Mon compte"]
PRIVATE = {"/tableau-de-bord": "Mon tableau de bord", "/ma-famille": "Ma famille",
           "/mes-coordonnees": "Mes coordonnées", "/mes-inscriptions": "Mes inscriptions",
           "/mon-compte": "Mon compte"}
PAGES = {"/": "Accueil", **PRIVATE}
FAMILY = {"id": "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11", "name": "Martin",
          "email": "claire.martin@example.fr", "needs_review": False, "persons": []}
CONTACT = {"email": "claire.martin@example.fr", "home_phone": None, "beneficiary_name": None,
           "beneficiary_scheme": None, "beneficiary_number": None, "guardians": [],
           "pending_request": None}


def current_entries(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', html)


@pytest.mark.parametrize("path,active", list(PAGES.items()))
async def test_menu_pages_render_in_french_with_the_active_entry(portal, fake, gw, path, active):
    fake.on("GET", f"/families/{fake.FAMILY_ID}", httpx.Response(200, json=FAMILY))
    fake.on("GET", f"/families/{fake.FAMILY_ID}/contact", httpx.Response(200, json=CONTACT))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.get(path)
    html = response.text
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in html
    assert '<a class="skip-link" href="#contenu">Aller au contenu</a>' in html
    for landmark in ("<header", "<nav", '<main id="contenu"', "<footer"):
        assert landmark in html
    positions = [html.index(f">{entry}</a>") for entry in MENU]
    assert positions == sorted(positions), "menu entries in the guide's order"
    assert current_entries(html) == [active]
    assert "<h1" in html


@pytest.mark.parametrize("path", list(PRIVATE))
async def test_private_pages_send_to_the_login_form_without_a_session(portal, path):
    async with portal() as client:
        response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/?suite=" + path


async def test_home_page_is_the_guide_login_form(portal):
    async with portal() as client:
        html = (await client.get("/")).text
    assert "<title>Connexion – Portail famille</title>" in html
    assert "Connexion au portail de la famille" in html
    assert '<label for="identifiant">Votre identifiant</label>' in html
    assert '<label for="mot-de-passe">Votre mot de passe</label>' in html
    assert 'id="identifiant"' in html and 'id="mot-de-passe"' in html
    assert '<form method="post" action="/connexion"' in html
    assert ">Connexion</button>" in html
    assert ">Mot de passe oublié ?</a>" in html
    assert "adresse mail communiquée au gestionnaire" in html
    assert "créé lors de votre première inscription" in html
    assert "<script" not in html


async def test_registrations_page_warns_a_registration_is_not_a_booking(portal, fake, enrolment,
                                                                        gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        html = (await client.get("/mes-inscriptions")).text
    assert "une inscription n&#39;est pas une réservation" in html


async def test_unknown_page_is_a_french_html_404(portal):
    async with portal() as client:
        response = await client.get("/page-inexistante")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in response.text
    assert '<html lang="fr">' in response.text


async def test_unknown_api_path_stays_problem_json(portal):
    async with portal() as client:
        response = await client.get("/api/v1/inexistant")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_unexpected_page_error_is_a_french_page_without_trace(portal, monkeypatch):
    from marelle_gateway.clients import Upstreams

    async def broken(self):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(Upstreams, "statuses", broken)
    async with portal(raise_app_exceptions=False) as client:
        response = await client.get("/sante")
    assert response.status_code == 500
    assert "Erreur inattendue" in response.text
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


async def test_english_catalogue_by_query_then_remembered(portal):
    async with portal() as client:
        first = await client.get("/?lang=en")
        assert '<html lang="en">' in first.text
        assert "Sign in to the family portal" in first.text
        assert "My dashboard" in first.text
        assert 'lang="fr" hreflang="fr">Français</a>' in first.text
        # The choice is remembered for the menu links, which carry no `?lang=`.
        second = await client.get("/mot-de-passe-oublie")
        assert '<html lang="en">' in second.text


async def test_accept_language_chooses_english(portal):
    async with portal() as client:
        response = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in response.text


async def test_unknown_language_falls_back_to_french(portal):
    async with portal() as client:
        response = await client.get("/?lang=xx", headers={"Accept-Language": "de-DE"})
    assert '<html lang="fr">' in response.text


async def test_pages_send_a_strict_content_security_policy(portal):
    async with portal() as client:
        response = await client.get("/")
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_static_stylesheet_is_served(portal):
    async with portal() as client:
        response = await client.get("/static/portal.css")
    assert response.status_code == 200
    assert ":focus-visible" in response.text
