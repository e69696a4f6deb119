"""The staff's TOTP second factor, and authentication events in the audit log (issue #11)."""

from __future__ import annotations

import time

import pyotp
import pytest

pytestmark = pytest.mark.postgres

ADMIN = ("admin@marelle.local", "marelle-admin")  # as in conftest
MANAGER = ("gestionnaire@marelle.local", "marelle-gestion")


async def _login(identity, who=ADMIN, code: str | None = None, ip: str | None = None):
    body = {"email": who[0], "password": who[1]}
    if code is not None:
        body["totp_code"] = code
    return await identity.client.post("/auth/staff/token", json=body)


def _later(secret: str, steps: int = 1) -> str:
    """The code of a coming time step (still accepted: clock drift), since one code works once."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


async def _enrol(identity, headers) -> str:
    r = await identity.client.post("/auth/staff/totp/setup", headers=headers)
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={secret}" in r.json()["otpauth_uri"]
    r = await identity.client.post("/auth/staff/totp/confirm", headers=headers,
                                   json={"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 204, r.text
    return secret


async def _audit(identity) -> list[dict]:
    r = await identity.client.get("/staff/audit", headers=await _admin_headers(identity))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _admin_headers(identity) -> dict[str, str]:
    r = await _login(identity, ADMIN)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_once_enrolled_the_staff_login_needs_a_valid_unused_code(identity):
    manager = await identity.staff_token(MANAGER)
    r = await identity.client.get("/auth/staff/totp", headers=manager)
    assert r.json() == {"enabled": False, "pending": False, "required": False}
    secret = await _enrol(identity, manager)
    assert (await identity.client.get("/auth/staff/totp", headers=manager)).json()["enabled"]

    missing = await _login(identity, MANAGER)
    assert missing.status_code == 401
    assert missing.json()["raison"] == "code_totp_requis"
    assert "code de vérification" in missing.json()["detail"]
    wrong = await _login(identity, MANAGER, "000000" if _later(secret) != "000000" else "111111")
    assert wrong.status_code == 401 and wrong.json()["raison"] == "code_totp_requis"
    # A wrong password with a good code says nothing about the code.
    r = await identity.client.post("/auth/staff/token", json={
        "email": MANAGER[0], "password": "pas-le-bon", "totp_code": _later(secret)})
    assert r.status_code == 401 and "raison" not in r.json()

    code = _later(secret)
    assert (await _login(identity, MANAGER, code)).status_code == 200
    # The same code again (watched over a shoulder, replayed): refused.
    replay = await _login(identity, MANAGER, code)
    assert replay.status_code == 401 and replay.json()["raison"] == "code_totp_requis"


async def test_wrong_codes_are_throttled_like_wrong_passwords(identity):
    await _enrol(identity, await identity.staff_token(MANAGER))
    for _ in range(5):
        assert (await _login(identity, MANAGER, "12345 6")).status_code == 401
    r = await _login(identity, MANAGER, "123456")
    assert r.status_code == 429, r.text


async def test_enrolment_needs_a_valid_code_and_removal_too(identity):
    manager = await identity.staff_token(MANAGER)
    r = await identity.client.post("/auth/staff/totp/confirm", headers=manager,
                                   json={"code": "123456"})
    assert r.status_code == 409  # nothing to confirm yet
    r = await identity.client.post("/auth/staff/totp/setup", headers=manager)
    secret = r.json()["secret"]
    wrong = str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6)
    r = await identity.client.post("/auth/staff/totp/confirm", headers=manager,
                                   json={"code": wrong})
    assert r.status_code == 422 and r.json()["erreurs"][0]["champ"] == "code"
    assert (await _login(identity, MANAGER)).status_code == 200  # not active before confirmed
    r = await identity.client.post("/auth/staff/totp/confirm", headers=manager,
                                   json={"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 204
    r = await identity.client.post("/auth/staff/totp/setup", headers=manager)
    assert r.status_code == 409  # already active: remove it first

    r = await identity.client.request("DELETE", "/auth/staff/totp", headers=manager,
                                      json={"code": wrong})
    assert r.status_code == 422
    assert (await _login(identity, MANAGER)).json()["raison"] == "code_totp_requis"
    r = await identity.client.request("DELETE", "/auth/staff/totp", headers=manager,
                                      json={"code": _later(secret)})
    assert r.status_code == 204, r.text
    assert (await _login(identity, MANAGER)).status_code == 200


async def test_a_parent_token_cannot_enrol(identity):
    _, parent = await identity.family_with_account("Famille Totp", "totp@example.org")
    r = await identity.client.post("/auth/staff/totp/setup", headers=parent)
    assert r.status_code == 403
    assert (await identity.client.post("/auth/staff/totp/setup")).status_code == 401


async def test_when_required_an_administrator_gets_only_an_enrolment_token(identity):
    identity.app.state.settings.totp_required_for_admins = True
    r = await _login(identity, ADMIN)
    assert r.status_code == 403, r.text
    assert r.json()["raison"] == "totp_a_configurer"
    assert "obligatoire" in r.json()["detail"]
    setup = {"Authorization": f"Bearer {r.json()['jeton_configuration']}"}
    # The restricted token opens the enrolment routes, nothing else.
    assert (await identity.client.get("/staff/families", headers=setup)).status_code == 403
    assert (await identity.client.get("/staff/audit", headers=setup)).status_code == 403
    r = await identity.client.post("/me/password", headers=setup, json={
        "current_password": ADMIN[1], "new_password": "un-autre-mot-de-passe"})
    assert r.status_code == 403
    assert (await identity.client.get("/auth/staff/totp", headers=setup)).json()["required"]
    secret = await _enrol(identity, setup)
    # Its session ended with the enrolment.
    assert (await identity.client.get("/auth/staff/totp", headers=setup)).status_code == 401

    r = await _login(identity, ADMIN, _later(secret))
    assert r.status_code == 200, r.text
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await identity.client.get("/staff/families", headers=admin)).status_code == 200
    # Required: it cannot be removed.
    r = await identity.client.request("DELETE", "/auth/staff/totp", headers=admin,
                                      json={"code": _later(secret, -1)})
    assert r.status_code == 409
    # A manager is not concerned.
    assert (await _login(identity, MANAGER)).status_code == 200


async def test_authentication_events_are_in_the_audit_log(identity):
    manager = await identity.staff_token(MANAGER)
    assert (await identity.client.post("/auth/staff/token", json={
        "email": MANAGER[0], "password": "pas-le-bon"})).status_code == 401
    assert (await identity.client.post("/auth/staff/token", json={
        "email": "personne@marelle.local", "password": "pas-le-bon"})).status_code == 401
    secret = await _enrol(identity, manager)
    assert (await _login(identity, MANAGER)).status_code == 401
    r = await identity.client.request("DELETE", "/auth/staff/totp", headers=manager,
                                      json={"code": _later(secret)})
    assert r.status_code == 204, r.text
    r = await identity.client.post("/me/password", headers=manager, json={
        "current_password": MANAGER[1], "new_password": "un-autre-mot-de-passe"})
    assert r.status_code == 204, r.text
    _, _parent = await identity.family_with_account("Famille Journal", "journal@example.org")
    await identity.login("journal@example.org", "pas-le-bon")

    items = await _audit(identity)
    mine = [(i["action"], (i["details"] or {}).get("motif")) for i in items
            if i["staff_email"] == MANAGER[0]]
    for expected in [("connexion.reussie", None), ("connexion.echouee", "identifiants"),
                     ("agent.totp_active", None), ("connexion.echouee", "code_totp_absent"),
                     ("agent.totp_retire", None), ("mot_de_passe.modifie", None)]:
        assert expected in mine, (expected, mine)
    unknown = [i for i in items if i["staff_email"] == "personne@marelle.local"]
    assert unknown and unknown[0]["staff_id"] is None
    assert unknown[0]["action"] == "connexion.echouee"
    assert unknown[0]["details"]["compte"] == "inconnu"
    family = {(i["action"], i["details"]["compte"]) for i in items
              if i["staff_email"] == "journal@example.org"}
    assert {("invitation.acceptee", "famille"), ("connexion.reussie", "famille"),
            ("connexion.echouee", "famille")} <= family
    ok = next(i for i in items if i["staff_email"] == MANAGER[0]
              and i["action"] == "connexion.reussie")
    assert ok["staff_id"] and ok["target"].startswith("agent:") and ok["details"]["adresse"]
