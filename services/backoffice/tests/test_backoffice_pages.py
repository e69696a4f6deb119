"""Staff pages: French, the menu with the active entry, health, HTML errors, catalogue."""

from __future__ import annotations

import re

import httpx
import pytest

from marelle_backoffice.i18n import catalogue
from marelle_backoffice.rendering import MENU, STATIC_DIR, TEMPLATES_DIR


ENTRIES = ["Tableau de bord", "Familles", "Inscriptions", "Réservations", "Facturation",
           "Messages en échec", "Santé"]
PAGES = {"/": "Tableau de bord", "/familles": "Familles", "/inscriptions": "Inscriptions",
         "/reservations": "Réservations", "/facturation": "Facturation",
         "/messages-en-echec": "Messages en échec", "/sante": "Santé"}


@pytest.mark.parametrize("path,active", list(PAGES.items()))
async def test_menu_pages_render_in_french_with_the_active_entry(backoffice, path, active):
    async with backoffice() as client:
        response = await client.get(path)
    html = response.text
    assert response.status_code == 200
    assert '<html lang="fr">' in html
    assert '<a class="skip-link" href="#contenu">Aller au contenu</a>' in html
    for landmark in ("<header", "<nav", '<main id="contenu"', "<footer"):
        assert landmark in html
    assert "Espace agents" in html
    positions = [html.index(f">{entry}</a>") for entry in ENTRIES]
    assert positions == sorted(positions)
    assert re.findall(r'aria-current="page">([^<]+)</a>', html) == [active]
    assert f"<h1>{active if path != '/sante' else 'Santé des services'}</h1>" in html


async def test_login_shell(backoffice):
    async with backoffice() as client:
        form = (await client.get("/connexion")).text
        posted = await client.post("/connexion", data={"identifiant": "a", "mot_de_passe": "b"})
    assert '<label for="identifiant">Identifiant</label>' in form
    assert '<label for="mot-de-passe">Mot de passe</label>' in form
    assert ">Se connecter</button>" in form
    assert posted.status_code == 200
    assert "pas encore disponible" in posted.text


async def test_health_page_and_api_list_every_service(backoffice):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 8104:
            return httpx.Response(500)
        return httpx.Response(200, json={"status": "ok"})

    async with backoffice(handler) as client:
        page = (await client.get("/sante")).text
        api = (await client.get("/api/v1/health")).json()
        ready = await client.get("/health/ready")
    for name in ("identity", "enrolment", "booking", "billing"):
        assert f"({name})" in page
    assert page.count("Ne répond pas") == 1 and "HTTP 500" in page
    assert api["status"] == "degrade" and api["services"]["billing"]["status"] == "indisponible"
    assert ready.status_code == 503


async def test_unknown_page_is_a_french_html_404(backoffice):
    async with backoffice() as client:
        response = await client.get("/inexistant")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in response.text


async def test_unexpected_error_is_a_french_page_without_trace(backoffice, monkeypatch):
    from marelle_backoffice.clients import Services

    async def broken(self):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(Services, "statuses", broken)
    async with backoffice(raise_app_exceptions=False) as client:
        response = await client.get("/sante")
    assert response.status_code == 500
    assert "Erreur inattendue" in response.text and "secret internal detail" not in response.text


async def test_api_errors_stay_problem_json(backoffice):
    async with backoffice() as client:
        response = await client.get("/api/v1/inexistant")
    assert response.headers["content-type"] == "application/problem+json"


def test_every_catalogue_key_used_exists():
    keys = set(catalogue())
    used = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", template.read_text()))
    used |= {key for _, key, _ in MENU}
    from marelle_backoffice.pages import SHELLS
    for page, actions in SHELLS.items():
        used |= {f"page.{page}.intro"} | {f"page.{page}.action.{i}" for i in range(1, actions + 1)}
    assert used <= keys, used - keys


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_palette_text_contrast_is_at_least_4_5():
    css = (STATIC_DIR / "backoffice.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    for fg, bg in [("ink", "paper"), ("ink", "page"), ("ink-soft", "paper"), ("ink-soft", "page"),
                   ("link", "paper"), ("link", "page"), ("brand-dark", "brand-tint"),
                   ("ok-ink", "ok-bg"), ("ko-ink", "ko-bg"), ("ink", "info-bg"), ("ink", "focus")]:
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg)
    assert contrast("#ffffff", var["brand"]) >= 4.5
    assert contrast(var["border"], var["paper"]) >= 3
