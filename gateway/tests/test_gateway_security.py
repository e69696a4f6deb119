"""Safe by default (#11): logout ends the session at once, the client address reaches identity
only with the proxy secret, Secure cookies, HSTS, no-store, bounded bodies, development mode said,
production refused without its secret."""

from __future__ import annotations

import re

import httpx
import pytest

from marelle_chassis.settings import UnsafeConfiguration
from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import create_app

SECRET = "secret-de-proxy-de-test-" + "s" * 20


def production(**overrides) -> GatewaySettings:
    return GatewaySettings(environment="production", proxy_secret=SECRET, kafka_enabled=False,
                           **overrides)


async def test_after_logout_a_copy_of_the_session_cookie_is_refused_at_once(portal, fake, gw):
    fake.on("GET", f"/families/{fake.FAMILY_ID}/contact", httpx.Response(200, json={
        "email": "claire.martin@example.fr", "guardians": []}))
    fake.on("POST", "/auth/logout", httpx.Response(204))
    stolen = fake.parent_token()
    async with portal(fake) as client:
        gw.signed_in(client, stolen, "rafraichissement-1")
        page = (await client.get("/mes-coordonnees")).text
        csrf = re.search(r'action="/deconnexion".*?name="csrf" value="([^"]+)"', page, re.S)[1]
        await client.post("/deconnexion", data={"csrf": csrf})
        # identity revoked the refresh chain...
        assert fake.body("POST", "/auth/logout") == {"refresh_token": "rafraichissement-1"}
        # ...and the access token, replayed by whoever copied it, no longer opens anything.
        client.cookies.clear()
        gw.signed_in(client, stolen)
        replay = await client.get("/mes-coordonnees")
        assert replay.status_code == 303 and replay.headers["location"].startswith("/?suite=")
        api = await client.get("/api/v1/famille", headers={"authorization": f"Bearer {stolen}"})
    assert api.status_code == 401
    assert "session a été fermée" in api.json()["detail"]


async def test_api_logout_refuses_the_apps_access_token_at_once(portal, fake, gw):
    fake.on("POST", "/auth/logout", httpx.Response(204))
    token = fake.parent_token()
    bearer = {"authorization": f"Bearer {token}"}
    async with portal(fake) as client:
        assert (await client.get("/api/v1/famille", headers=bearer)).status_code != 401
        out = await client.post("/api/v1/auth/logout", json={"refresh_token": "r" * 43},
                                headers=bearer)
        assert out.status_code == 204
        assert (await client.get("/api/v1/famille", headers=bearer)).status_code == 401


async def test_identity_gets_the_client_address_with_the_proxy_secret(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(401, "Identifiant ou mot de passe incorrect."))
    fake.on("POST", "/auth/password-reset", httpx.Response(202, json={}))
    settings = GatewaySettings(proxy_secret=SECRET)
    async with portal(fake, settings=settings) as client:
        await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "a@b.fr", "mot_de_passe": "x"}))
        await client.post("/mot-de-passe-oublie", data=gw.with_csrf(client, {"email": "a@b.fr"}))
    for path in ("/auth/token", "/auth/password-reset"):
        [sent] = fake.sent("POST", path)
        assert sent.headers["x-marelle-client-address"] == "127.0.0.1"
        assert sent.headers["x-marelle-proxy-secret"] == SECRET
        assert "x-client-ip" not in sent.headers


def test_cookies_are_secure_unless_turned_off(monkeypatch):
    monkeypatch.delenv("GATEWAY_COOKIE_SECURE", raising=False)
    assert GatewaySettings().cookie_secure is True


async def test_login_cookies_carry_secure_by_default(portal, fake, gw, monkeypatch):
    monkeypatch.delenv("GATEWAY_COOKIE_SECURE", raising=False)
    fake.on("POST", "/auth/token", httpx.Response(200, json={
        "access_token": fake.parent_token(), "refresh_token": "r", "expires_in": 900}))
    async with portal(fake, settings=GatewaySettings(kafka_enabled=False)) as client:
        response = await client.post("/connexion", data=gw.with_csrf(client, {
            "identifiant": "a@b.fr", "mot_de_passe": "x"}))
    cookies = response.headers.get_list("set-cookie")
    assert cookies and all("; secure" in c.lower() for c in cookies)


async def test_production_sends_hsts_and_development_does_not(portal):
    async with portal(settings=production()) as client:
        assert "max-age=" in (await client.get("/")).headers["strict-transport-security"]
    async with portal() as client:
        assert "strict-transport-security" not in (await client.get("/")).headers


async def test_pages_and_api_answers_are_not_cached_static_files_are(portal, fake, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        for path in ("/", "/tableau-de-bord", "/api/v1/famille"):
            assert (await client.get(path)).headers["cache-control"] == "no-store", path
        static = await client.get("/static/portal.css")
    assert static.headers.get("cache-control") != "no-store"


async def test_a_body_over_one_mebibyte_is_refused_in_french(portal, fake):
    big = b'{"email": "' + b"a" * (1 << 20) + b'", "password": "x"}'
    async with portal(fake) as client:
        declared = await client.post("/api/v1/auth/token", content=big,
                                     headers={"content-type": "application/json"})

        async def chunks():
            for _ in range(20):
                yield b"a" * 65536 * 2

        streamed = await client.post("/api/v1/auth/token", content=chunks(),
                                     headers={"content-type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "dépasse la taille permise" in response.json()["detail"]
    assert not fake.sent("POST", "/auth/token")


async def test_development_mode_is_said_in_the_footer_and_not_in_production(portal):
    async with portal() as client:
        assert "Mode développement : données de démonstration" in (await client.get("/")).text
    async with portal(settings=production()) as client:
        assert "Mode développement" not in (await client.get("/")).text


@pytest.mark.parametrize("secret", ["", "changeme", "court"])
def test_a_production_start_refuses_a_missing_or_known_proxy_secret(secret):
    with pytest.raises(UnsafeConfiguration, match="MARELLE_PROXY_SECRET"):
        create_app(GatewaySettings(environment="production", proxy_secret=secret))
    create_app(GatewaySettings(environment="development", proxy_secret=secret))
