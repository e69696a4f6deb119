"""The web session (access cookie, refresh) and the CSRF protection of every form."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

FAMILY_BODY = {"id": "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11", "name": "Martin",
               "email": "claire.martin@example.fr", "needs_review": False, "persons": []}
CONTACT = {"email": "claire.martin@example.fr", "guardians": [], "pending_request": None}


def set_cookies(response: httpx.Response) -> dict[str, str]:
    jar = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


# --- CSRF ----------------------------------------------------------------------------------

async def test_forms_carry_the_token_of_the_csrf_cookie(portal, fake):
    async with portal(fake) as client:
        response = await client.get("/")
    cookie = set_cookies(response)["marelle_csrf"]
    assert len(cookie) >= 32
    assert f'<input type="hidden" name="csrf" value="{cookie}">' in response.text
    header = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("marelle_csrf="))
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header


async def test_an_existing_csrf_cookie_is_kept(portal, fake, gw):
    async with portal(fake) as client:
        gw.with_csrf(client)
        response = await client.get("/inscription")
    assert "marelle_csrf" not in set_cookies(response)
    assert f'name="csrf" value="{gw.CSRF}"' in response.text


@pytest.mark.parametrize("path", ["/connexion", "/deconnexion", "/mot-de-passe-oublie",
                                  "/inscription", "/invitation", "/mot-de-passe/nouveau"])
async def test_post_without_the_token_is_refused(portal, fake, gw, path):
    async with portal(fake) as client:
        gw.with_csrf(client)  # the cookie alone is not enough
        response = await client.post(path, data={"identifiant": "a@b.fr", "mot_de_passe": "x",
                                                 "email": "a@b.fr", "jeton": "j"})
    assert response.status_code == 403
    assert "Formulaire expiré" in response.text
    assert '<html lang="fr">' in response.text
    assert not fake.requests, "nothing reached identity"


@pytest.mark.parametrize("path", ["/ma-famille/ajouter",
                                  f"/ma-famille/enfants/{FAMILY_BODY['id']}/modifier",
                                  "/mes-coordonnees/modifier", "/mon-compte/mot-de-passe"])
async def test_private_post_without_the_token_is_refused_even_when_logged_in(
        portal, fake, gw, path):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        gw.with_csrf(client)
        response = await client.post(path, data={"type": "enfant", "first_name": "Zoé",
                                                 "home_phone": "0102030405",
                                                 "current_password": "a"})
    assert response.status_code == 403
    assert not fake.requests


async def test_post_with_a_wrong_token_is_refused(portal, fake, gw):
    async with portal(fake) as client:
        gw.with_csrf(client)
        response = await client.post("/connexion", data={
            "identifiant": "a@b.fr", "mot_de_passe": "x", "csrf": gw.CSRF + "-autre"})
    assert response.status_code == 403
    assert not fake.requests


async def test_post_with_the_field_but_no_cookie_is_refused(portal, fake, gw):
    async with portal(fake) as client:
        response = await client.post("/connexion", data={
            "identifiant": "a@b.fr", "mot_de_passe": "x", "csrf": gw.CSRF})
    assert response.status_code == 403
    assert not fake.requests


async def test_post_with_the_right_token_is_accepted(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(401, "Identifiant ou mot de passe incorrect."))
    async with portal(fake) as client:
        page = await client.get("/")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
        response = await client.post("/connexion", data={
            "identifiant": "a@b.fr", "mot_de_passe": "x", "csrf": token})
    assert response.status_code == 400
    assert "Identifiant ou mot de passe incorrect." in response.text
    assert len(fake.sent("POST", "/auth/token")) == 1


async def test_post_from_another_origin_is_refused_even_with_the_token(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(401, "Identifiant ou mot de passe incorrect."))
    async with portal(fake) as client:
        data = gw.with_csrf(client, {"identifiant": "a@b.fr", "mot_de_passe": "x"})
        foreign = await client.post("/connexion", data=data,
                                    headers={"Origin": "https://attaquant.example"})
        null = await client.post("/connexion", data=data, headers={"Origin": "null"})
        same = await client.post("/connexion", data=data, headers={"Origin": "http://portail.test"})
    assert foreign.status_code == 403 and null.status_code == 403
    assert same.status_code == 400, "our own origin passes"
    assert len(fake.sent("POST", "/auth/token")) == 1


async def test_configured_public_origin_is_the_reference(portal, fake, gw):
    from marelle_gateway.config import GatewaySettings

    settings = GatewaySettings(public_url="https://famille.ville.fr")
    fake.on("POST", "/auth/token", gw.problem(401, "Identifiant ou mot de passe incorrect."))
    async with portal(fake, settings=settings) as client:
        data = gw.with_csrf(client, {"identifiant": "a@b.fr", "mot_de_passe": "x"})
        proxied = await client.post("/connexion", data=data,
                                    headers={"Origin": "https://famille.ville.fr"})
        plain = await client.post("/connexion", data=data,
                                  headers={"Origin": "http://famille.ville.fr"})
    assert proxied.status_code == 400 and plain.status_code == 403


async def test_json_api_needs_no_csrf_token(portal, fake):
    fake.on("POST", "/auth/token",
            httpx.Response(200, json={"access_token": "a", "expires_in": 900}))
    async with portal(fake) as client:
        response = await client.post("/api/v1/auth/token",
                                     json={"email": "a@b.fr", "password": "x"})
    assert response.status_code == 200


# --- Session -------------------------------------------------------------------------------

async def test_private_page_without_session_redirects_with_suite(portal, fake):
    async with portal(fake) as client:
        response = await client.get("/mes-inscriptions?enfant=abc&etat=cours")
    assert response.status_code == 303
    assert response.headers["location"] == "/?suite=/mes-inscriptions%3Fenfant%3Dabc%26etat%3Dcours"


async def test_a_logged_in_parent_asking_for_suite_goes_there(portal, fake, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.get("/?suite=/ma-famille")
    assert response.status_code == 303 and response.headers["location"] == "/ma-famille"


async def test_expired_access_with_valid_refresh_serves_the_page_and_renews_cookies(
        portal, fake, gw):
    fresh = fake.parent_token()
    fake.on("POST", "/auth/refresh", httpx.Response(200, json={
        "access_token": fresh, "refresh_token": "rafraichissement-2", "token_type": "Bearer",
        "expires_in": 900}))
    fake.on("GET", f"/families/{fake.FAMILY_ID}", httpx.Response(200, json=FAMILY_BODY))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token(ttl=-60), "rafraichissement-1")
        response = await client.get("/ma-famille")
    assert response.status_code == 200
    assert "<h1>Ma famille</h1>" in response.text
    renewed = set_cookies(response)
    assert renewed["marelle_session"] == fresh
    assert renewed["marelle_refresh"] == "rafraichissement-2"
    assert fake.body("POST", "/auth/refresh") == {"refresh_token": "rafraichissement-1"}
    [family] = fake.sent("GET", f"/families/{fake.FAMILY_ID}")
    assert family.headers["authorization"] == f"Bearer {fresh}"


async def test_missing_access_with_refresh_also_refreshes(portal, fake, gw):
    fake.on("POST", "/auth/refresh", httpx.Response(200, json={
        "access_token": fake.parent_token(), "refresh_token": "r2", "expires_in": 900}))
    async with portal(fake) as client:
        gw.signed_in(client, None, "r1")
        response = await client.get("/mon-compte")
    assert response.status_code == 200
    assert set_cookies(response)["marelle_refresh"] == "r2"


async def test_refused_refresh_sends_to_login_and_clears_cookies(portal, fake, gw):
    fake.on("POST", "/auth/refresh", gw.problem(401, "Session expirée."))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token(ttl=-60), "revoque")
        response = await client.get("/ma-famille")
    assert response.status_code == 303
    assert response.headers["location"] == "/?suite=/ma-famille"
    cleared = set_cookies(response)
    assert cleared["marelle_session"] == "" and cleared["marelle_refresh"] == ""


async def test_refresh_while_identity_is_down_is_a_503_not_a_logout(portal, fake, gw):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/refresh":
            raise httpx.ConnectError("refused", request=request)
        return fake(request)

    async with portal(handler) as client:
        gw.signed_in(client, fake.parent_token(ttl=-60), "r1")
        response = await client.get("/ma-famille")
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.text
    assert "marelle_refresh" not in set_cookies(response)


async def test_jwks_unreachable_is_a_503_page(portal, fake, gw):
    fake.jwks_up = False
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.get("/ma-famille")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("token", [
    "pas-un-jeton",
    "forged",  # signed with another key
    "staff",  # a staff token is not a parent session
])
async def test_tokens_that_are_not_a_parents_session_send_to_login(portal, fake, gw, token):
    if token == "forged":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = gw.sign({"sub": "x", "kind": "parent", "family_id": fake.FAMILY_ID}, key=other)
    elif token == "staff":
        token = gw.sign({"sub": "x", "kind": "staff", "roles": ["administrator"]})
    async with portal(fake) as client:
        gw.signed_in(client, token)
        response = await client.get("/mes-coordonnees")
    assert response.status_code == 303
    assert not fake.sent("GET", f"/families/{fake.FAMILY_ID}/contact")


async def test_identity_refusing_the_token_sends_to_login(portal, fake, gw):
    fake.on("GET", f"/families/{fake.FAMILY_ID}", gw.problem(401, "Jeton révoqué."))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.get("/ma-famille")
    assert response.status_code == 303 and response.headers["location"] == "/?suite=/ma-famille"


async def test_family_id_is_always_the_tokens(portal, fake, gw):
    """A forged family id in the query, the form or a header never reaches identity."""
    other = fake.OTHER_FAMILY_ID
    fake.on("GET", f"/families/{fake.FAMILY_ID}", httpx.Response(200, json=FAMILY_BODY))
    fake.on("GET", f"/families/{fake.FAMILY_ID}/contact", httpx.Response(200, json=CONTACT))
    fake.on("POST", f"/families/{fake.FAMILY_ID}/children",
            httpx.Response(201, json={"id": "c1"}))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        await client.get(f"/ma-famille?famille={other}&family_id={other}",
                         headers={"X-Family-Id": other})
        await client.get(f"/mes-coordonnees?family_id={other}")
        await client.post(f"/ma-famille/ajouter?family_id={other}", data=gw.with_csrf(client, {
            "type": "enfant", "first_name": "Léa", "last_name": "Martin",
            "birth_date": "2015-01-01", "family_id": other}))
    assert fake.requests
    assert all(other not in str(r.url) and other.encode() not in r.content for r in fake.requests)
    assert {r.url.path for r in fake.requests} == {
        f"/families/{fake.FAMILY_ID}", f"/families/{fake.FAMILY_ID}/contact",
        f"/families/{fake.FAMILY_ID}/children"}
