"""An administrator's first TOTP enrolment at the login, when the city requires a second factor
for administrators (`IDENTITY_TOTP_REQUIRED_FOR_ADMINS`), through the back-office's pages
against the REAL identity app (in-process, SQLite, no broker): identity answers the right
password with `totp_a_configurer` and a `jeton_configuration`; the back-office shows the secret,
confirms the first code with that token, then the password and a code open the session."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import unescape
from pathlib import Path

import httpx
import pyotp
import pytest

from marelle_chassis import migrations

from marelle_backoffice.clients import UpstreamProblem
from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.main import create_app

from .conftest import BASE_URL, SERVICE_URLS, csrf_of

ADMIN = ("admin.totp@ville.test", "un mot de passe d'administrateur")
IDENTITY_PORT = httpx.URL(SERVICE_URLS["identity"]).port


class _ToIdentity(httpx.AsyncBaseTransport):
    """Identity's calls to the real app; the other services are down (not needed here)."""

    def __init__(self, identity_app) -> None:
        self.identity = httpx.ASGITransport(identity_app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == IDENTITY_PORT:
            return await self.identity.handle_async_request(request)
        raise httpx.ConnectError("connection refused", request=request)


@pytest.fixture
async def identity_app(tmp_path: Path):
    from marelle_identity.config import IdentitySettings
    from marelle_identity.main import MIGRATIONS
    from marelle_identity.main import create_app as create_identity
    from marelle_identity.usecases.accounts import ensure_staff_account

    url = f"sqlite+aiosqlite:///{tmp_path / 'identity.sqlite3'}"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    app = create_identity(IdentitySettings(
        database_url=url, kafka_enabled=False, mail_enabled=False,
        identity_url=SERVICE_URLS["identity"], totp_required_for_admins=True))
    async with app.router.lifespan_context(app):
        await ensure_staff_account(app.state.uow_factory(), *ADMIN, "Alix Admin",
                                   ["administrator", "manager"])
        yield app


@asynccontextmanager
async def _backoffice(identity_app) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(BackofficeSettings(), transport=_ToIdentity(identity_app))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


async def _login(client: httpx.AsyncClient, **extra: str) -> httpx.Response:
    return await client.post("/connexion", data={
        "csrf": await csrf_of(client), "identifiant": ADMIN[0], "mot_de_passe": ADMIN[1],
        **extra})


def _code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def test_identity_s_extra_problem_members_are_kept():
    answer = httpx.Response(403, json={
        "type": "about:blank", "title": "Interdit", "status": 403, "detail": "À configurer.",
        "raison": "totp_a_configurer", "jeton_configuration": "abc", "expires_in": 600})
    problem = UpstreamProblem.from_response(answer)
    assert problem.reason == "totp_a_configurer"
    assert problem.extra == {"jeton_configuration": "abc", "expires_in": 600}


async def test_an_administrator_enrols_at_the_first_login_then_logs_in_with_a_code(identity_app):
    async with _backoffice(identity_app) as client:
        shown = await _login(client)
        assert shown.status_code == 200, shown.text
        html = unescape(shown.text)
        assert "Configurer la double authentification" in html
        assert "obligatoire" in html  # identity's sentence says why
        secret = re.search(r'<code id="secret-totp">([A-Z2-7]+)</code>', shown.text).group(1)
        assert f"secret={secret}" in html and "otpauth://totp/" in html
        assert shown.headers["cache-control"] == "no-store"
        # No session yet, and the enrolment token is never in the page.
        cookies = shown.headers.get_list("set-cookie")
        assert not [c for c in cookies if c.startswith("marelle_staff=")]
        [enrol] = [c for c in cookies if c.startswith("marelle_staff_totp=")]
        assert "HttpOnly" in enrol and "Path=/connexion/double-authentification" in enrol
        assert enrol.split(";")[0].split("=", 1)[1] not in shown.text
        assert (await client.get("/")).status_code in (303, 307)

        csrf = await csrf_of(client)
        wrong = await client.post("/connexion/double-authentification", data={
            "csrf": csrf, "code": "000000" if _code(secret) != "000000" else "111111"})
        assert wrong.status_code == 422
        assert "incorrect" in unescape(wrong.text)

        done = await client.post("/connexion/double-authentification",
                                 data={"csrf": csrf, "code": _code(secret)})
        assert done.status_code == 303
        assert done.headers["location"] == "/connexion?motif=totp_active"
        notice = await client.get(done.headers["location"])
        assert "Double authentification activée" in notice.text

        # The password alone no longer opens a session: the code is asked...
        asked = await _login(client)
        assert asked.status_code == 200 and 'name="code_totp"' in asked.text
        # ...and with it (a later code: each is used once), the administrator is in.
        ok = await _login(client, code_totp=_code(secret, 1))
        assert ok.status_code == 303, ok.text
        home = await client.get("/")
        assert home.status_code == 200
        assert "Alix Admin" in home.text


async def test_the_enrolment_form_without_its_token_goes_back_to_the_login(identity_app):
    async with _backoffice(identity_app) as client:
        r = await client.post("/connexion/double-authentification",
                              data={"csrf": await csrf_of(client), "code": "123456"})
    assert r.status_code == 303 and r.headers["location"] == "/connexion?motif=expiree"
