"""Safe by default (#11) in the back-office: logout ends the session at once and asks identity
to end it everywhere, the client address reaches identity with the proxy secret, Secure cookies,
HSTS, no-store, development mode said, production refused without its secret."""

from __future__ import annotations

import httpx
import pytest

from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.main import create_app
from marelle_chassis.settings import UnsafeConfiguration

from .conftest import csrf_of, make_token

SECRET = "secret-de-proxy-de-test-" + "s" * 20


async def test_after_logout_a_copy_of_the_staff_cookie_is_refused_at_once(backoffice, fake):
    fake.on("GET", "identity", "/staff/contact-change-requests", {"items": []})
    fake.on("GET", "identity", "/staff/families", {"items": []})
    fake.on("POST", "identity", "/auth/logout", httpx.Response(204))
    stolen = make_token(roles=("administrator",))
    async with backoffice(fake, proxy_secret=SECRET) as client:
        client.cookies.set("marelle_staff", stolen, domain="agents.test")
        assert (await client.get("/")).status_code == 200
        csrf = await csrf_of(client, "/sante")
        await client.post("/deconnexion", data={"csrf": csrf})
        client.cookies.set("marelle_staff", stolen, domain="agents.test")  # the copy
        replay = await client.get("/")
    assert replay.status_code == 303 and replay.headers["location"].startswith("/connexion")
    [sent] = fake.sent("POST", "identity", "/auth/logout")
    assert sent.headers["authorization"] == f"Bearer {stolen}"
    assert sent.headers["x-marelle-proxy-secret"] == SECRET


async def test_logout_still_ends_the_session_here_when_identity_is_down(backoffice):
    stolen = make_token()

    def jwks_only(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with backoffice(jwks_only) as client:
        csrf = await csrf_of(client, "/connexion")
        client.cookies.set("marelle_staff", stolen, domain="agents.test")
        response = await client.post("/deconnexion", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?motif=deconnexion"


def test_cookies_are_secure_unless_turned_off(monkeypatch):
    monkeypatch.delenv("BACKOFFICE_COOKIE_SECURE", raising=False)
    assert BackofficeSettings().cookie_secure is True


async def test_hsts_in_production_and_no_store_on_pages(backoffice):
    async with backoffice(environment="production", proxy_secret=SECRET) as client:
        page = await client.get("/connexion")
        assert "max-age=" in page.headers["strict-transport-security"]
        assert page.headers["cache-control"] == "no-store"
        assert "Mode développement" not in page.text
    async with backoffice() as client:
        page = await client.get("/connexion")
    assert "strict-transport-security" not in page.headers
    assert "Mode développement : données de démonstration" in page.text


@pytest.mark.parametrize("secret", ["", "changeme", "court"])
def test_a_production_start_refuses_a_missing_or_known_proxy_secret(secret):
    with pytest.raises(UnsafeConfiguration, match="MARELLE_PROXY_SECRET"):
        create_app(BackofficeSettings(environment="production", proxy_secret=secret))
