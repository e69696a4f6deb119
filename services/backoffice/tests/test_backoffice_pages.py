"""Staff pages: French, the menu with the active entry, health, HTML errors, catalogue."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from marelle_backoffice.i18n import catalogue
from marelle_backoffice.rendering import MENU, STATIC_DIR, TEMPLATES_DIR

from .conftest import sign_in

ENTRIES = ["Tableau de bord", "Familles", "Demandes", "Inscriptions", "Réservations",
           "Facturation", "Journal", "Agents", "Messages en échec", "Santé"]
PAGES = {"/": "Tableau de bord", "/familles": "Familles",
         "/demandes/coordonnees": "Demandes", "/inscriptions": "Inscriptions",
         "/catalogue": "Inscriptions", "/attestations": "Inscriptions",
         "/reservations": "Réservations", "/facturation": "Facturation", "/journal": "Journal",
         "/agents": "Agents", "/messages-en-echec": "Messages en échec", "/sante": "Santé"}
TITLES = {"/sante": "Santé des services", "/demandes/coordonnees":
          "Demandes de modification de coordonnées", "/journal": "Journal des actions",
          "/inscriptions": "Demandes d&#39;inscription", "/catalogue": "Catalogue des activités",
          "/attestations": "Attestations d&#39;inscription"}


def empty_identity(fake):
    fake.on("GET", "identity", "/staff/families", {"items": []})
    fake.on("GET", "identity", "/staff/contact-change-requests", {"items": []})
    fake.on("GET", "identity", "/staff/audit", {"items": []})
    fake.on("GET", "identity", "/staff/accounts", {"items": []})
    for service in ("enrolment", "booking", "billing"):
        fake.on("GET", service, "/staff/dead-letters", {"items": []})
    fake.on("GET", "enrolment", "/staff/catalogue", {"facilities": []})
    fake.on("GET", "enrolment", "/staff/registrations", {"items": []})
    fake.on("GET", "enrolment", "/staff/attestation-requests", {"items": []})
    return fake


@pytest.mark.parametrize("path,active", list(PAGES.items()))
async def test_menu_pages_render_in_french_with_the_active_entry(backoffice, fake, path, active):
    async with backoffice(empty_identity(fake)) as client:
        sign_in(client, roles=("administrator",))
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
    site_nav = html.split('<nav class="site-nav"')[1].split("</nav>")[0]
    assert re.findall(r'aria-current="page">([^<]+)</a>', site_nav) == [active]
    assert f"<h1>{TITLES.get(path, active)}</h1>" in html


async def test_health_page_is_public_and_lists_every_service(backoffice):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == 8104:
            return httpx.Response(500)
        return httpx.Response(200, json={"status": "ok"})

    async with backoffice(handler) as client:
        page = await client.get("/sante")
        api = (await client.get("/api/v1/health")).json()
        ready = await client.get("/health/ready")
    assert page.status_code == 200
    for name in ("identity", "enrolment", "booking", "billing"):
        assert f"({name})" in page.text
    assert page.text.count("Ne répond pas") == 1 and "HTTP 500" in page.text
    assert "<nav" not in page.text  # no menu without a session
    assert api["status"] == "degrade" and api["services"]["billing"]["status"] == "indisponible"
    assert ready.status_code == 503


async def test_unknown_page_is_a_french_html_404(backoffice):
    async with backoffice() as client:
        sign_in(client)
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


async def test_identity_down_is_a_french_503_page(backoffice):
    async with backoffice() as client:  # every service refuses connections, JWKS included
        sign_in(client)
        response = await client.get("/familles")
    assert response.status_code == 503
    assert "Service indisponible" in response.text


async def test_api_errors_stay_problem_json(backoffice):
    async with backoffice() as client:
        response = await client.get("/api/v1/inexistant")
    assert response.headers["content-type"] == "application/problem+json"


def _python_keys() -> set[str]:
    """Literal catalogue keys in the Python code (`t("…")`)."""
    from pathlib import Path
    root = Path(TEMPLATES_DIR).parent
    keys = set()
    for source in root.rglob("*.py"):
        keys |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", source.read_text()))
    return keys


def test_every_catalogue_key_used_exists():
    keys = set(catalogue())
    used = _python_keys()
    for template in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", template.read_text()))
    used |= {entry.key for entry in MENU}
    from marelle_backoffice.pages.home import SHELLS
    for page, (_, actions) in SHELLS.items():
        used |= {f"page.{page}.intro"} | {f"page.{page}.action.{i}" for i in range(1, actions + 1)}
    # Keys built from a value (`prefix ~ value`): every value the code or the API can give.
    from marelle_backoffice.pages import admin, auth, families
    used |= {f"login.notice.{n}" for n in auth.NOTICES}
    used |= {f"family.flash.{n}" for n in families.FAMILY_FLASHES}
    used |= {f"account.status.{s}" for s in ("invitee", "active", "aucun")}
    used |= {f"request.status.{s}" for s in ("en_attente", "acceptee", "refusee")}
    used |= {f"requests.done.{d}" for d in ("accept", "refuse")}
    used |= {f"role.{r}" for r in admin.ROLES} | {f"role.{r}.hint" for r in admin.ROLES}
    used |= {f"sex.{s}" for s in ("F", "M")} | {f"scheme.{s}" for s in ("CAF", "MSA", "AUTRE")}
    used |= {f"service.{s}" for s in ("identity", "enrolment", "booking", "billing")}
    used |= {f"error.{k}.{p}" for k in ("400", "403", "404", "500", "503", "other", "unavailable",
                                        "not_staff", "admin_only", "csrf")
             for p in ("title", "message")}
    used |= {f"agents.flash.{n}" for n in admin.AGENT_FLASHES}
    used |= {f"agents.confirm.{a}.{k}" for a in ("desactiver", "reactiver")
             for k in ("title", "question", "effect", "submit")}
    used |= {f"agents.error.{a}" for a in ("desactiver", "reactiver")}
    used |= {f"dead_letters.flash.{n}" for n in admin.DEAD_LETTER_FLASHES}
    # Enrolment pages.
    from marelle_backoffice.pages import catalogue as cat
    from marelle_backoffice.pages import registrations, tree, waiting_lists
    used |= {f"catalogue.flash.{n}" for n in cat.CATALOGUE_FLASHES}
    used |= {f"catalogue.window.{s}" for s in tree.WINDOW_STATES}
    used |= {f"catalogue.{kind}.{k}" for kind in ("facility", "activity_type", "activity")
             for k in ("title", "name", "name_hint", "submit", "error.name")}
    used |= {f"mode.{what}.{m}{hint}" for what in ("validation", "promotion") for m in cat.MODES
             for hint in ("", ".hint")}
    used |= {f"period.{p}.{k}" for p in ("ouverture", "fermeture", "prioritaire")
             for k in ("date", "hour")}
    used |= {f"period.error.{p}.{k}" for p in ("ouverture", "fermeture", "prioritaire")
             for k in ("date", "hour")}
    used |= {f"period.{f}" for f in ("date-debut", "date-fin")}
    used |= {f"period.error.{f}" for f in ("date-debut", "date-fin", "validation", "promotion")}
    used |= {f"group.error.{f}{s}" for f in ("age-min", "age-max", "capacite")
             for s in ("", ".format")}
    used |= {f"registrations.filter.error.{f}"
             for f in (*registrations.ID_FILTERS, *registrations.DATE_FILTERS)}
    used |= {f"registrations.done.{d}" for d in registrations.DECISIONS}
    used |= {f"weekday.{d}" for d in range(1, 8)}
    used |= {f"waiting.flash.{n}" for n in waiting_lists.WAITING_FLASHES}
    used |= {"waiting.error.monter", "waiting.error.descendre", "attestations.flash.delivree"}
    # Booking pages.
    from marelle_backoffice.pages import booking_days, bookings, shuttles
    used |= {f"calendar.flash.{n}" for n in bookings.CALENDAR_FLASHES}
    used |= {f"unit.kind.{k}" for k in bookings.KINDS}
    used |= {f"calendar.deadline.{p}" for p in bookings.DEADLINES}
    used |= {f"booking.nav.{k}" for k in ("calendar", "occupancy", "day", "shuttles")}
    used |= {f"day.flash.{n}" for n in booking_days.DAY_FLASHES}
    used |= {f"day.error.{a}" for a in ("promouvoir", "annuler")}
    used |= {f"roll_call.flash.{n}" for n in booking_days.ROLL_CALL_FLASHES}
    used |= {f"roll_call.reason.{r}" for r in booking_days.REASONS}
    used |= {f"attendance.{s}" for s in (*booking_days.BOOKED_STATUSES, booking_days.UNBOOKED)}
    used |= {f"shuttles.flash.{n}" for n in shuttles.SHUTTLE_FLASHES}
    used |= {f"occupancy.error.{n}" for n in ("du", "au")}
    assert used <= keys, used - keys


def test_catalogue_placeholders_are_well_formed():
    for key, message in catalogue().items():
        assert message.strip() == message and message, key
        for name in re.findall(r"\{([^}]*)\}", message):
            assert re.fullmatch(r"[a-z_]+", name), (key, name)
    raw = (TEMPLATES_DIR.parent / "locales" / "fr.json").read_text(encoding="utf-8")
    assert len(json.loads(raw)) == raw.count('":')  # no duplicated key silently dropped


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
                   ("ok-ink", "ok-bg"), ("ko-ink", "ko-bg"), ("ink", "info-bg"), ("ink", "focus"),
                   ("warn-ink", "warn-bg"), ("ink", "warn-bg"), ("error-ink", "paper"),
                   ("error-ink", "error-bg"), ("ink", "error-bg"), ("ink", "ok-bg"),
                   ("brand", "paper"), ("brand", "brand-tint"), ("brand-dark", "brand-tint")]:
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg)
    assert contrast("#ffffff", var["brand"]) >= 4.5
    assert contrast(var["border"], var["paper"]) >= 3
    assert contrast(var["error-ink"], var["paper"]) >= 3  # the invalid fields' border


async def test_dashboard_counts_pending_requests_and_families_to_review(backoffice, fake):
    from .sample import PENDING, SEARCH
    fake.on("GET", "identity", "/staff/contact-change-requests", PENDING)
    fake.on("GET", "identity", "/staff/families", SEARCH)
    async with backoffice(fake) as client:
        sign_in(client, name="Dominique Dupré")
        html = (await client.get("/")).text
    assert "Bonjour Dominique Dupré." in html
    assert re.search(r'Demandes de modification de coordonnées</h2>\s*<p class="figure">2</p>',
                     html)
    assert re.search(r'Foyers à vérifier</h2>\s*<p class="figure">1</p>', html)
    assert '<a href="/demandes/coordonnees">Traiter les demandes</a>' in html


async def test_dashboard_counts_registration_and_attestation_requests(backoffice, fake):
    from .enrolment_sample import ATTESTATIONS, QUEUE
    empty_identity(fake)
    fake.on("GET", "enrolment", "/staff/registrations", QUEUE)
    fake.on("GET", "enrolment", "/staff/attestation-requests", ATTESTATIONS)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/")).text
    [registrations] = fake.sent("GET", "enrolment", "/staff/registrations")
    assert registrations.url.params["status"] == "en_attente"
    [attestations] = fake.sent("GET", "enrolment", "/staff/attestation-requests")
    assert attestations.url.params["status"] == "demandee"
    assert re.search(r'Demandes d&#39;inscription</h2>\s*<p class="figure">2</p>', html)
    assert re.search(r'Demandes d&#39;attestation d&#39;inscription</h2>\s*'
                     r'<p class="figure">1</p>', html)
    assert '<a href="/inscriptions">Traiter les demandes d&#39;inscription</a>' in html
    assert '<a href="/attestations">Délivrer les attestations</a>' in html


async def test_dashboard_without_enrolment_still_shows(backoffice, fake):
    empty_identity(fake)
    fake.on("GET", "enrolment", "/staff/registrations", httpx.Response(503))
    fake.on("GET", "enrolment", "/staff/attestation-requests", httpx.Response(503))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/")
    assert response.status_code == 200
    assert response.text.count("le service des inscriptions ne répond pas") == 2


async def test_dashboard_says_when_a_figure_is_a_lower_bound_or_missing(backoffice, fake):
    families = [{"id": str(uuid.UUID(int=i + 1)), "name": "F", "email": "f@x.fr", "needs_review": i % 2 == 0,
                 "children": [], "created_at": "2025-01-01T00:00:00+00:00"} for i in range(50)]
    fake.on("GET", "identity", "/staff/families", {"items": families})
    fake.on("GET", "identity", "/staff/contact-change-requests", httpx.Response(503))
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/")).text
    assert '<p class="figure">au moins 25</p>' in html
    assert "Chiffre indisponible" in html
