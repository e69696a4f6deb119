"""Staff login, session cookie, expiry, roles and CSRF: what keeps the back-office private."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from marelle_backoffice.pages import PUBLIC_PATHS
from marelle_backoffice.session import safe_next

from .conftest import csrf_of, make_token, problem, sign_in


def page_routes(app) -> list[tuple[str, set[str]]]:
    """(path, methods) of every page route, whatever the FastAPI version's route nesting."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x includes lazily
        routes = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    return [(r.path, set(r.methods)) for r in routes
            if getattr(r, "endpoint", None) is not None and r.methods
            and r.endpoint.__module__.startswith("marelle_backoffice.pages")]


def token_answer(token: str) -> httpx.Response:
    return httpx.Response(200, json={"access_token": token, "token_type": "Bearer",
                                     "expires_in": 900})


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    return [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]


async def test_login_calls_identity_sets_the_cookie_and_redirects(backoffice, fake):
    token = make_token(roles=("administrator",))
    fake.on("POST", "identity", "/auth/staff/token", token_answer(token))
    async with backoffice(fake) as client:
        csrf = await csrf_of(client, "/connexion?suite=/familles")
        response = await client.post("/connexion", data={
            "identifiant": " camille@ville.test ", "mot_de_passe": "secret-de-camille",
            "csrf": csrf, "suite": "/familles"}, headers={"x-correlation-id": "corr-42"})
    assert response.status_code == 303 and response.headers["location"] == "/familles"
    [cookie] = set_cookie_headers(response, "marelle_staff")
    assert cookie.startswith(f"marelle_staff={token};")
    attributes = cookie.lower()
    assert "httponly" in attributes and "samesite=strict" in attributes
    assert "secure" not in attributes.replace("samesite", "")
    # A fresh CSRF token after login (one planted before cannot be used in the session).
    [new_csrf] = set_cookie_headers(response, "marelle_staff_csrf")
    assert csrf not in new_csrf
    [sent] = fake.sent("POST", "identity", "/auth/staff/token")
    assert json.loads(sent.content) == {"email": "camille@ville.test",
                                        "password": "secret-de-camille"}
    assert sent.headers["x-marelle-client-address"] == "127.0.0.1"
    assert sent.headers["x-correlation-id"] == "corr-42"


async def test_cookies_are_secure_when_configured(backoffice, fake):
    fake.on("POST", "identity", "/auth/staff/token", token_answer(make_token()))
    async with backoffice(fake, cookie_secure=True) as client:
        # A Secure cookie is not sent back over http: take the token from the page instead.
        page = await client.get("/connexion")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.cookies.set("marelle_staff_csrf", csrf, domain="agents.test")
        response = await client.post("/connexion", data={
            "identifiant": "a@b.fr", "mot_de_passe": "x", "csrf": csrf})
    assert "secure" in set_cookie_headers(page, "marelle_staff_csrf")[0].lower()
    assert "; secure" in set_cookie_headers(response, "marelle_staff")[0].lower()


async def test_wrong_password_shows_identity_message(backoffice, fake):
    fake.on("POST", "identity", "/auth/staff/token",
            problem(401, "Identifiant ou mot de passe incorrect."))
    async with backoffice(fake) as client:
        csrf = await csrf_of(client)
        response = await client.post("/connexion", data={
            "identifiant": "camille@ville.test", "mot_de_passe": "faux", "csrf": csrf})
    assert response.status_code == 422
    assert "Identifiant ou mot de passe incorrect." in response.text
    assert 'class="error-summary" role="alert"' in response.text
    assert "<title>Erreur : " in response.text
    assert 'value="camille@ville.test"' in response.text  # the identifier is kept
    assert "marelle_staff=" not in response.headers.get("set-cookie", "")


async def test_throttled_login_passes_identity_message_and_retry_after(backoffice, fake):
    fake.on("POST", "identity", "/auth/staff/token", problem(
        429, "Trop de tentatives de connexion : réessayez dans 5 minute(s).",
        headers={"retry-after": "300"}))
    async with backoffice(fake) as client:
        response = await client.post("/connexion", data={
            "identifiant": "a@b.fr", "mot_de_passe": "x", "csrf": await csrf_of(client)})
    assert response.status_code == 429 and response.headers["retry-after"] == "300"
    assert "réessayez dans 5 minute(s)" in response.text


async def test_empty_login_fields_are_flagged_without_calling_identity(backoffice, fake):
    async with backoffice(fake) as client:
        response = await client.post("/connexion", data={
            "identifiant": "", "mot_de_passe": "", "csrf": await csrf_of(client)})
    html = response.text
    assert response.status_code == 422
    assert '<a href="#identifiant">Saisissez votre identifiant.</a>' in html
    assert '<a href="#mot-de-passe">Saisissez votre mot de passe.</a>' in html
    assert re.search(r'id="identifiant"[^>]*aria-invalid="true"', html)
    assert re.search(r'id="mot-de-passe"[^>]*aria-invalid="true"', html)
    assert not fake.sent("POST", "identity", "/auth/staff/token")


async def test_a_parent_token_from_identity_is_not_a_staff_login(backoffice, fake):
    fake.on("POST", "identity", "/auth/staff/token",
            token_answer(make_token(kind="parent",
                                    family_id="0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c")))
    async with backoffice(fake) as client:
        response = await client.post("/connexion", data={
            "identifiant": "a@b.fr", "mot_de_passe": "x", "csrf": await csrf_of(client)})
    assert response.status_code == 422
    assert "pas un compte d&#39;agent" in response.text
    assert not set_cookie_headers(response, "marelle_staff")


@pytest.mark.parametrize("suite", ["https://evil.test/", "//evil.test", "/\\evil.test",
                                   "javascript:x", "", None])
def test_only_local_paths_are_followed_after_login(suite):
    assert safe_next(suite) == "/"


def test_local_paths_are_followed_after_login():
    assert safe_next("/familles?q=martin") == "/familles?q=martin"


@pytest.mark.parametrize("path", ["/", "/familles", "/familles/nouvelle",
                                  "/demandes/coordonnees", "/journal", "/agents",
                                  "/messages-en-echec", "/inscriptions", "/catalogue",
                                  "/catalogue/equipements/nouveau", "/attestations",
                                  "/groupes/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/liste-attente"])
async def test_pages_without_session_redirect_to_login(backoffice, fake, path):
    async with backoffice(fake) as client:
        response = await client.get(path)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/connexion"
    assert parse_qs(location.query) == {"suite": [path]}


async def test_the_whole_query_is_kept_for_after_login(backoffice, fake):
    async with backoffice(fake) as client:
        response = await client.get("/familles?q=martin")
    assert response.headers["location"] == "/connexion?suite=%2Ffamilles%3Fq%3Dmartin"


async def test_every_private_route_requires_the_session(backoffice, fake):
    """Walk the app's routes so that a new page cannot forget the session."""
    async with backoffice(fake) as client:
        checked = 0
        for path, methods in page_routes(client.app):
            if path in PUBLIC_PATHS:
                continue
            concrete = re.sub(r"\{[^}]+\}", "0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c", path)
            for method in methods - {"HEAD"}:
                data = {"csrf": await csrf_of(client)} if method == "POST" else None
                response = await client.request(method, concrete, data=data)
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/connexion?suite="), path
                checked += 1
    assert checked >= 35
    assert not fake.domain_calls()


async def test_page_routes_are_found(backoffice):
    async with backoffice() as client:
        paths = {path for path, _ in page_routes(client.app)}
    assert {"/", "/connexion", "/familles/{family_id}", "/messages-en-echec/rejouer",
            "/inscriptions", "/catalogue", "/groupes/{group_id}/liste-attente",
            "/attestations/{attestation_id}/delivrer",
            "/catalogue/periodes/{period_id}/modifier"} <= paths


async def test_expired_session_redirects_with_a_notice(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client, ttl=-60)
        response = await client.get("/familles")
        assert response.status_code == 303
        assert response.headers["location"] == "/connexion?suite=%2Ffamilles&motif=expiree"
        # The dead cookie is dropped.
        assert set_cookie_headers(response, "marelle_staff")[0].startswith('marelle_staff="";')
        login = await client.get(response.headers["location"])
    assert "Votre session a expiré" in login.text
    assert 'name="suite" value="/familles"' in login.text


async def test_a_token_identity_rejects_midway_ends_the_session(backoffice, fake):
    fake.on("GET", "identity", "/staff/families", problem(401, "Votre session a expiré."))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/familles?q=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suite=%2Ffamilles%3Fq%3Dx&motif=expiree"


async def test_a_forged_token_is_not_a_session(backoffice, fake):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with backoffice(fake) as client:
        sign_in(client, key=other)
        response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suite=%2F&motif=invalide"


async def test_a_parent_token_is_refused(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client, kind="parent", family_id="0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c")
        response = await client.get("/familles")
    assert response.status_code == 403
    assert "Espace réservé aux agents" in response.text
    assert not fake.sent("GET", "identity", "/staff/families")


async def test_header_shows_the_staff_name_and_a_logout_button(backoffice, fake):
    fake.on("GET", "identity", "/staff/contact-change-requests", {"items": []})
    fake.on("GET", "identity", "/staff/families", {"items": []})
    async with backoffice(fake) as client:
        sign_in(client, name="Dominique Dupré")
        html = (await client.get("/")).text
    assert "Dominique Dupré" in html
    assert re.search(r'<form method="post" action="/deconnexion"[^>]*>\s*'
                     r'<input type="hidden" name="csrf" value="[^"]+">\s*'
                     r'<button type="submit"[^>]*>Se déconnecter</button>', html)


async def test_logout_forgets_the_session(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/sante")
        response = await client.post("/deconnexion", data={"csrf": csrf})
        assert response.status_code == 303
        assert response.headers["location"] == "/connexion?motif=deconnexion"
        assert set_cookie_headers(response, "marelle_staff")[0].startswith('marelle_staff="";')
        assert (await client.get("/")).status_code == 303
        assert "Vous êtes déconnecté." in (await client.get(response.headers["location"])).text


@pytest.mark.parametrize("path", ["/journal", "/agents", "/messages-en-echec"])
async def test_a_manager_gets_a_french_403_on_administrators_pages(backoffice, fake, path):
    async with backoffice(fake) as client:
        sign_in(client, roles=("manager",))
        response = await client.get(path)
    assert response.status_code == 403
    assert "Accès réservé aux administrateurs" in response.text
    assert not fake.domain_calls()


async def test_a_manager_cannot_post_to_administrators_actions(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client, roles=("manager",))
        csrf = await csrf_of(client, "/sante")
        for path in ("/agents", "/messages-en-echec/rejouer"):
            response = await client.post(path, data={"csrf": csrf, "service": "billing",
                                                     "sujet": "t", "partition": "0",
                                                     "position": "1"})
            assert response.status_code == 403, path
    assert not fake.domain_calls()


async def test_a_manager_does_not_see_administrators_menu_entries(backoffice, fake):
    fake.on("GET", "identity", "/staff/families", {"items": []})
    async with backoffice(fake) as client:
        sign_in(client, roles=("manager",))
        html = (await client.get("/familles")).text
    assert ">Familles</a>" in html and ">Demandes</a>" in html
    for entry in ("Journal", "Agents", "Messages en échec"):
        assert f">{entry}</a>" not in html


# --- CSRF -----------------------------------------------------------------------------------

REVIEW = "/familles/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/verification"


def review_answer(fake):
    fake.on("POST", "identity", "/staff/families/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/review",
            httpx.Response(204))
    return fake


async def test_post_without_csrf_token_is_refused(backoffice, fake):
    async with backoffice(review_answer(fake)) as client:
        sign_in(client)
        await csrf_of(client, "/sante")  # the cookie is there, the field is not
        response = await client.post(REVIEW, data={})
    assert response.status_code == 403
    assert "Formulaire refusé" in response.text
    assert not fake.sent("POST", "identity",
                         "/staff/families/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/review")


async def test_post_with_a_wrong_csrf_token_is_refused(backoffice, fake):
    async with backoffice(review_answer(fake)) as client:
        sign_in(client)
        await csrf_of(client, "/sante")
        response = await client.post(REVIEW, data={"csrf": "x" * 43})
    assert response.status_code == 403
    assert not fake.sent("POST", "identity",
                         "/staff/families/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/review")


async def test_post_without_csrf_cookie_is_refused(backoffice, fake):
    async with backoffice(review_answer(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/sante")
        client.cookies.delete("marelle_staff_csrf")
        response = await client.post(REVIEW, data={"csrf": csrf})
    assert response.status_code == 403


async def test_login_itself_needs_the_csrf_token(backoffice, fake):
    fake.on("POST", "identity", "/auth/staff/token", token_answer(make_token()))
    async with backoffice(fake) as client:
        response = await client.post("/connexion", data={"identifiant": "a@b.fr",
                                                         "mot_de_passe": "x"})
    assert response.status_code == 403
    assert not fake.sent("POST", "identity", "/auth/staff/token")


async def test_post_with_the_right_csrf_token_is_accepted(backoffice, fake):
    async with backoffice(review_answer(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/sante")
        response = await client.post(REVIEW, data={"csrf": csrf},
                                     headers={"origin": "http://agents.test"})
    assert response.status_code == 303
    assert len(fake.sent("POST", "identity",
                         "/staff/families/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/review")) == 1


@pytest.mark.parametrize("origin", ["http://evil.test", "null", "https://agents.test"])
async def test_post_from_another_origin_is_refused(backoffice, fake, origin):
    async with backoffice(review_answer(fake)) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/sante")
        response = await client.post(REVIEW, data={"csrf": csrf}, headers={"origin": origin})
    assert response.status_code == 403
    assert not fake.sent("POST", "identity",
                         "/staff/families/0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c/review")


async def test_configured_public_origin_is_the_one_accepted(backoffice, fake):
    async with backoffice(review_answer(fake), public_origin="https://agents.ville.fr") as client:
        sign_in(client)
        csrf = await csrf_of(client, "/sante")
        ours = await client.post(REVIEW, data={"csrf": csrf},
                                 headers={"origin": "https://agents.ville.fr"})
        theirs = await client.post(REVIEW, data={"csrf": csrf},
                                   headers={"origin": "http://agents.test"})
    assert ours.status_code == 303 and theirs.status_code == 403


async def test_every_post_route_checks_csrf(backoffice, fake):
    """Walk the app's POST routes so that a new form cannot forget the protection."""
    async with backoffice(fake) as client:
        sign_in(client, roles=("administrator",))
        await csrf_of(client, "/sante")
        posts = [path for path, methods in page_routes(client.app) if "POST" in methods]
        for route in posts:
            path = re.sub(r"\{[^}]+\}", "0d4a7d3e-1b4f-4c6a-9d0e-6f2b1c3a4b5c", route)
            response = await client.post(path, data={"csrf": "y" * 43})
            assert response.status_code == 403, route
    assert len(posts) >= 20
    assert not fake.domain_calls()


async def test_forms_carry_the_token_of_the_cookie(backoffice, fake):
    async with backoffice(fake) as client:
        page = await client.get("/connexion")
        field = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        [cookie] = set_cookie_headers(page, "marelle_staff_csrf")
        assert cookie.startswith(f"marelle_staff_csrf={field};")
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        again = await client.get("/connexion")  # the same token while the cookie lives
    assert f'value="{field}"' in again.text and not set_cookie_headers(again, "marelle_staff_csrf")
