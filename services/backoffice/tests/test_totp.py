"""The staff's TOTP second factor in the back-office: the login form asks for the code when
identity says `code_totp_requis`; « Double authentification » enrols, confirms and removes it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pyotp

from .conftest import csrf_of, make_token, problem, sign_in

TOTP_NEEDED = ("Saisissez le code de vérification à six chiffres affiché par votre application "
               "d'authentification.")
TOTP_WRONG = "Le code de vérification est incorrect ou a expiré ; saisissez le code affiché."
WRONG_CODE = "Le code de vérification est incorrect ou a expiré."
PASSWORD = "le bon mot de passe"


class IdentityTotp:
    """Identity's staff login and /auth/staff/totp routes for one staff member, with identity's
    rules (services/identity usecases/totp.py) and real codes (pyotp)."""

    def __init__(self, fake: Any) -> None:
        self.secret: str | None = None
        self.pending: str | None = None
        self.used: set[str] = set()
        fake.on("POST", "identity", "/auth/staff/token", self._login)
        fake.on("GET", "identity", "/auth/staff/totp", lambda _: {
            "enabled": self.secret is not None, "pending": self.pending is not None,
            "required": False})
        fake.on("POST", "identity", "/auth/staff/totp/setup", self._setup)
        fake.on("POST", "identity", "/auth/staff/totp/confirm", self._confirm)
        fake.on("DELETE", "identity", "/auth/staff/totp", self._remove)

    def _valid(self, secret: str | None, code: str | None) -> bool:
        if not secret or not code or code in self.used:
            return False
        ok = pyotp.TOTP(secret).verify(code, valid_window=1)
        if ok:
            self.used.add(code)
        return ok

    def _login(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["password"] != PASSWORD:
            return problem(401, "Identifiant ou mot de passe incorrect.")
        if self.secret is not None and not self._valid(self.secret, body.get("totp_code")):
            answer = problem(401, TOTP_WRONG if body.get("totp_code") else TOTP_NEEDED)
            data = json.loads(answer.content) | {"raison": "code_totp_requis"}
            return httpx.Response(401, json=data,
                                  headers={"content-type": "application/problem+json"})
        return httpx.Response(200, json={"access_token": make_token(), "refresh_token": None,
                                         "token_type": "Bearer", "expires_in": 900})

    def _setup(self, _: httpx.Request) -> Any:
        if self.secret is not None:
            return problem(409, "La double authentification est déjà activée sur ce compte ; "
                                "retirez-la d'abord pour en configurer une nouvelle.")
        self.pending = pyotp.random_base32()
        return {"secret": self.pending, "otpauth_uri": pyotp.TOTP(self.pending).provisioning_uri(
            name="camille@ville.test", issuer_name="Marelle")}

    def _wrong(self) -> httpx.Response:
        return problem(422, WRONG_CODE, [{"champ": "code", "message": WRONG_CODE}])

    def _confirm(self, request: httpx.Request) -> httpx.Response:
        if not self._valid(self.pending, json.loads(request.content)["code"]):
            return self._wrong()
        self.secret, self.pending = self.pending, None
        return httpx.Response(204)

    def _remove(self, request: httpx.Request) -> httpx.Response:
        if not self._valid(self.secret, json.loads(request.content)["code"]):
            return self._wrong()
        self.secret = None
        return httpx.Response(204)


def _code(secret: str, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


async def _login(client, **extra: str) -> httpx.Response:
    return await client.post("/connexion", data={
        "csrf": await csrf_of(client), "identifiant": "camille@ville.test",
        "mot_de_passe": PASSWORD, **extra})


async def test_the_login_asks_for_the_code_when_identity_needs_it(backoffice, fake):
    identity = IdentityTotp(fake)
    identity.secret = pyotp.random_base32()
    async with backoffice(fake) as client:
        asked = await _login(client)
        assert asked.status_code == 200
        assert "Code de vérification (application d&#39;authentification)" in asked.text
        assert 'name="code_totp"' in asked.text and 'autocomplete="one-time-code"' in asked.text
        assert TOTP_NEEDED.replace("'", "&#39;") in asked.text
        assert "marelle_staff=" not in asked.headers.get("set-cookie", "")

        empty = await _login(client, code_totp="")
        assert empty.status_code == 422 and 'name="code_totp"' in empty.text
        wrong = await _login(client, code_totp="000000" if _code(identity.secret) != "000000"
                             else "111111")
        assert wrong.status_code == 422
        assert TOTP_WRONG.replace("'", "&#39;") in wrong.text
        assert 'name="code_totp"' in wrong.text

        ok = await _login(client, code_totp=_code(identity.secret))
    assert ok.status_code == 303, ok.text
    sent = [json.loads(r.content) for r in fake.sent("POST", "identity", "/auth/staff/token")]
    assert "totp_code" not in sent[0]  # the first form has no code field
    assert sent[-1]["totp_code"] == _code(identity.secret)


async def test_a_staff_member_enrols_confirms_and_removes_the_second_factor(backoffice, fake):
    identity = IdentityTotp(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get("/double-authentification")
        assert page.status_code == 200 and "Double authentification" in page.text
        assert "n&#39;est pas activée" in page.text

        setup = await client.post("/double-authentification/configurer", data={
            "csrf": await csrf_of(client, "/double-authentification")})
        assert setup.status_code == 200
        assert identity.pending in setup.text
        assert "otpauth://totp/" in setup.text
        assert setup.headers["cache-control"] == "no-store"

        csrf = await csrf_of(client, "/double-authentification")
        wrong = await client.post("/double-authentification/confirmer",
                                  data={"csrf": csrf, "code": "12345 6"})
        assert wrong.status_code == 422 and WRONG_CODE in wrong.text
        assert identity.secret is None

        secret = identity.pending
        done = await client.post("/double-authentification/confirmer",
                                 data={"csrf": csrf, "code": _code(secret)})
        assert done.status_code == 303
        assert done.headers["location"] == "/double-authentification?message=active"
        assert identity.secret == secret
        enabled = await client.get(done.headers["location"])
        assert "est activée sur votre compte" in enabled.text
        assert "Retirer la double authentification" in enabled.text

        # Removal needs a valid code too.
        refused = await client.post("/double-authentification/retirer",
                                    data={"csrf": csrf, "code": "000000"})
        assert refused.status_code == 422 and identity.secret == secret
        removed = await client.post("/double-authentification/retirer",
                                    data={"csrf": csrf, "code": _code(secret, 1)})
        assert removed.status_code == 303 and identity.secret is None
    [sent] = fake.sent("DELETE", "identity", "/auth/staff/totp")[-1:]
    assert sent.headers["authorization"].startswith("Bearer ")


async def test_the_page_needs_a_session_and_its_forms_a_csrf_token(backoffice, fake):
    IdentityTotp(fake)
    async with backoffice(fake) as client:
        response = await client.get("/double-authentification")
        assert response.status_code in (303, 307) and "/connexion" in response.headers["location"]
        sign_in(client)
        forged = await client.post("/double-authentification/configurer")
    assert forged.status_code == 403
    assert not fake.sent("POST", "identity", "/auth/staff/totp/setup")
