"""Sessions end at once: logout, password change or reset, login email changed by staff, staff
account disabled or its roles changed, a stolen refresh token replayed. Each ending revokes the
refresh tokens (and, for the whole account, its pending links), refuses the access tokens on
identity's own routes at once, and publishes `identity.sessions_revoked` in the same transaction.
"""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from marelle_chassis.messaging_tables import outbox_table
from marelle_identity.db import metadata
from marelle_identity.usecases import accounts, common

pytestmark = pytest.mark.postgres

ENDED = "Cette session a été fermée ; reconnectez-vous."


async def revocations(identity, account_id: str) -> list[dict]:
    """The `sessions_revoked` payloads published about an account, oldest first."""
    async with identity.app.state.uow_factory() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
    envelopes = [json.loads(r.envelope) for r in rows]
    return [e["payload"] for e in envelopes
            if e["event_type"] == "identity.sessions_revoked" and e["key"] == account_id]


def claims(access_token: str) -> dict:
    return jwt.decode(access_token, options={"verify_signature": False})


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def open_session(identity, email: str, password: str, ip: str = "203.0.113.1") -> dict:
    r = await identity.login(email, password, ip=ip)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_session_id_is_kept_across_rotations(identity):
    await identity.family_with_account("Famille Sid", "sid@example.org", "mot-de-passe-1")
    first = await open_session(identity, "sid@example.org", "mot-de-passe-1")
    other = await open_session(identity, "sid@example.org", "mot-de-passe-1")
    r = await identity.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    rotated = r.json()
    assert claims(rotated["access_token"])["sid"] == claims(first["access_token"])["sid"]
    assert claims(other["access_token"])["sid"] != claims(first["access_token"])["sid"]
    assert isinstance(claims(first["access_token"])["iat"], int | float)


async def test_logout_ends_that_session_at_once_and_only_that_one(identity):
    family_id, _ = await identity.family_with_account("Famille Fin", "fin@example.org",
                                                      "mot-de-passe-1")
    phone = await open_session(identity, "fin@example.org", "mot-de-passe-1")
    laptop = await open_session(identity, "fin@example.org", "mot-de-passe-1")
    page = f"/families/{family_id}"
    assert (await identity.client.get(page, headers=bearer(phone))).status_code == 200

    r = await identity.client.post("/auth/logout", json={"refresh_token": phone["refresh_token"]})
    assert r.status_code == 204
    # The access token still has 15 minutes to live, yet it is refused now.
    r = await identity.client.get(page, headers=bearer(phone))
    assert r.status_code == 401 and r.json()["detail"] == ENDED
    r = await identity.client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert r.status_code == 401
    # The other device's session goes on.
    assert (await identity.client.get(page, headers=bearer(laptop))).status_code == 200
    sub = claims(phone["access_token"])["sub"]
    [event] = await revocations(identity, sub)
    assert event["session_id"] == claims(phone["access_token"])["sid"]
    assert event["reason"] == "logout"
    # Logging out twice publishes nothing more.
    await identity.client.post("/auth/logout", json={"refresh_token": phone["refresh_token"]})
    assert len(await revocations(identity, sub)) == 1


async def test_staff_logout_with_the_access_token_ends_the_session(identity):
    """The back-office has no refresh token: it logs out with its bearer token."""
    staff = await identity.staff_token()
    assert (await identity.client.get("/staff/families", headers=staff)).status_code == 200
    r = await identity.client.post("/auth/logout", headers=staff)
    assert r.status_code == 204
    r = await identity.client.get("/staff/families", headers=staff)
    assert r.status_code == 401 and r.json()["detail"] == ENDED
    assert (await identity.client.get("/staff/families",
                                      headers=await identity.staff_token())).status_code == 200


async def test_password_change_ends_every_session_and_pending_link(identity):
    family_id, _ = await identity.family_with_account("Famille Clef", "clef@example.org",
                                                      "mot-de-passe-1")
    one = await open_session(identity, "clef@example.org", "mot-de-passe-1")
    two = await open_session(identity, "clef@example.org", "mot-de-passe-1")
    await identity.client.post("/auth/password-reset", json={"email": "clef@example.org"})
    link = identity.mail.link_token(await identity.mail.wait_for("clef@example.org", "Réinit"))

    r = await identity.client.post("/me/password", headers=bearer(one), json={
        "current_password": "mot-de-passe-1", "new_password": "mot-de-passe-2"})
    assert r.status_code == 204
    for tokens in (one, two):
        r = await identity.client.get(f"/families/{family_id}", headers=bearer(tokens))
        assert r.status_code == 401 and r.json()["detail"] == ENDED
        r = await identity.client.post("/auth/refresh",
                                       json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401
    r = await identity.client.post("/auth/password-reset/confirm",
                                   json={"token": link, "password": "un-troisieme-mot"})
    assert r.status_code == 400  # the pending link was spent
    [event] = await revocations(identity, claims(one["access_token"])["sub"])
    assert event["session_id"] is None and event["reason"] == "password_changed"
    # A new login right away (same second) is not caught by the revocation.
    fresh = await open_session(identity, "clef@example.org", "mot-de-passe-2")
    assert (await identity.client.get(f"/families/{family_id}",
                                      headers=bearer(fresh))).status_code == 200


async def test_password_reset_ends_every_session(identity):
    family_id, _ = await identity.family_with_account("Famille Oubli", "oubli@example.org",
                                                      "mot-de-passe-1")
    old = await open_session(identity, "oubli@example.org", "mot-de-passe-1")
    await identity.client.post("/auth/password-reset", json={"email": "oubli@example.org"})
    link = identity.mail.link_token(await identity.mail.wait_for("oubli@example.org", "Réinit"))
    r = await identity.client.post("/auth/password-reset/confirm",
                                   json={"token": link, "password": "nouveau-mot-de-passe"})
    assert r.status_code == 204
    r = await identity.client.get(f"/families/{family_id}", headers=bearer(old))
    assert r.status_code == 401
    [event] = await revocations(identity, claims(old["access_token"])["sub"])
    assert event["session_id"] is None and event["reason"] == "password_reset"


async def test_staff_changing_the_login_email_ends_the_family_sessions(identity):
    family_id, _ = await identity.family_with_account("Famille Adresse", "adresse@example.org",
                                                      "mot-de-passe-1")
    session = await open_session(identity, "adresse@example.org", "mot-de-passe-1")
    staff = await identity.staff_token()
    r = await identity.client.put(f"/staff/families/{family_id}/email", headers=staff,
                                  json={"email": "nouvelle.adresse@example.org"})
    assert r.status_code == 200, r.text
    r = await identity.client.get(f"/families/{family_id}", headers=bearer(session))
    assert r.status_code == 401
    r = await identity.client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 401
    [event] = await revocations(identity, claims(session["access_token"])["sub"])
    assert event["session_id"] is None and event["reason"] == "email_changed"


async def test_a_rotated_refresh_token_replayed_after_the_grace_ends_the_whole_chain(
        identity, monkeypatch):
    """Theft detection: the owner and a thief both hold the session; once one of them rotated
    it, the other's replay (past the 30 s grace) ends the session for both, and says so."""
    family_id, _ = await identity.family_with_account("Famille Vol", "vol@example.org",
                                                      "mot-de-passe-1")
    stolen = await open_session(identity, "vol@example.org", "mot-de-passe-1")
    r = await identity.client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    owner = r.json()  # the owner rotated: `stolen` is now a rotated token
    later = common.now() + timedelta(minutes=1)
    monkeypatch.setattr(accounts, "now", lambda: later)
    r = await identity.client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert r.status_code == 401
    monkeypatch.undo()
    # The newer token of the chain is revoked too, and its access token refused at once.
    r = await identity.client.post("/auth/refresh", json={"refresh_token": owner["refresh_token"]})
    assert r.status_code == 401
    r = await identity.client.get(f"/families/{family_id}", headers=bearer(owner))
    assert r.status_code == 401 and r.json()["detail"] == ENDED
    sub = claims(owner["access_token"])["sub"]
    [event] = await revocations(identity, sub)
    assert event["reason"] == "token_reuse"
    assert event["session_id"] == claims(owner["access_token"])["sid"]
    # Replaying again publishes nothing more (the chain is already over).
    await identity.client.post("/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert len(await revocations(identity, sub)) == 1


async def test_a_replay_within_the_grace_after_logout_is_refused(identity):
    await identity.family_with_account("Famille Grace", "grace@example.org", "mot-de-passe-1")
    first = await open_session(identity, "grace@example.org", "mot-de-passe-1")
    r = await identity.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    second = r.json()
    await identity.client.post("/auth/logout", json={"refresh_token": second["refresh_token"]})
    # Still within the 30 s grace of `first`'s rotation, but the session has ended.
    r = await identity.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401


async def staff_member(identity, email: str = "agent@marelle.local",
                       roles: list[str] | None = None) -> tuple[str, dict[str, str]]:
    admin = await identity.staff_token()
    r = await identity.client.post("/staff/accounts", headers=admin, json={
        "email": email, "display_name": "Agent", "password": "mot-de-passe-agent",
        "roles": roles or ["manager"]})
    assert r.status_code == 201, r.text
    return r.json()["id"], await identity.staff_token((email, "mot-de-passe-agent"))


async def test_disabling_a_staff_account_ends_its_sessions_at_once(identity):
    agent_id, agent = await staff_member(identity)
    admin = await identity.staff_token()
    assert (await identity.client.get("/staff/families", headers=agent)).status_code == 200
    manager = await identity.staff_token(("gestionnaire@marelle.local", "marelle-gestion"))
    r = await identity.client.post(f"/staff/accounts/{agent_id}/disable", headers=manager)
    assert r.status_code == 403  # administrators only

    r = await identity.client.post(f"/staff/accounts/{agent_id}/disable", headers=admin)
    assert r.status_code == 204
    r = await identity.client.get("/staff/families", headers=agent)
    assert r.status_code == 401 and r.json()["detail"] == ENDED
    r = await identity.client.post("/auth/staff/token", json={
        "email": "agent@marelle.local", "password": "mot-de-passe-agent"})
    assert r.status_code == 403 and "désactivé" in r.json()["detail"]
    [event] = await revocations(identity, agent_id)
    assert event["session_id"] is None and event["reason"] == "account_disabled"
    listed = (await identity.client.get("/staff/accounts", headers=admin)).json()["items"]
    assert [a["disabled"] for a in listed if a["id"] == agent_id] == [True]

    r = await identity.client.post(f"/staff/accounts/{agent_id}/enable", headers=admin)
    assert r.status_code == 204
    assert (await identity.client.get(
        "/staff/families", headers=await identity.staff_token(("agent@marelle.local",
                                                               "mot-de-passe-agent")))
            ).status_code == 200
    # The old session stays over.
    assert (await identity.client.get("/staff/families", headers=agent)).status_code == 401


async def test_an_administrator_cannot_lock_themselves_out(identity):
    admin = await identity.staff_token()
    me = claims(admin["Authorization"].split()[1])["sub"]
    r = await identity.client.post(f"/staff/accounts/{me}/disable", headers=admin)
    assert r.status_code == 409 and "propre compte" in r.json()["detail"]
    r = await identity.client.put(f"/staff/accounts/{me}/roles", headers=admin,
                                  json={"roles": ["manager"]})
    assert r.status_code == 409
    r = await identity.client.post("/staff/accounts/00000000-0000-0000-0000-000000000000/disable",
                                   headers=admin)
    assert r.status_code == 404 and r.json()["detail"] == "Ce compte du personnel est introuvable."


async def test_changing_roles_holds_at_once(identity):
    agent_id, agent = await staff_member(identity, roles=["administrator", "manager"])
    assert (await identity.client.get("/staff/accounts", headers=agent)).status_code == 200
    admin = await identity.staff_token()
    r = await identity.client.put(f"/staff/accounts/{agent_id}/roles", headers=admin,
                                  json={"roles": ["manager"]})
    assert r.status_code == 204
    assert (await identity.client.get("/staff/accounts", headers=agent)).status_code == 401
    again = await identity.staff_token(("agent@marelle.local", "mot-de-passe-agent"))
    assert (await identity.client.get("/staff/accounts", headers=again)).status_code == 403
    r = await identity.client.put(f"/staff/accounts/{agent_id}/roles", headers=admin,
                                  json={"roles": []})
    assert r.status_code == 422


async def test_a_one_time_password_must_be_changed_before_any_session(identity):
    from marelle_identity.main import create_admin

    settings = identity.app.state.settings
    password = await create_admin(settings, "premiere@marelle.local", "Première")
    assert password and len(password) >= 16
    assert await create_admin(settings, "premiere@marelle.local", "Première") is None
    r = await identity.client.post("/auth/staff/token", json={
        "email": "premiere@marelle.local", "password": password})
    assert r.status_code == 403 and "Changez votre mot de passe" in r.json()["detail"]
    r = await identity.client.post("/auth/staff/password", json={
        "email": "premiere@marelle.local", "current_password": "pas-le-bon-du-tout",
        "new_password": "mon-mot-de-passe-a-moi"})
    assert r.status_code == 400
    r = await identity.client.post("/auth/staff/password", json={
        "email": "premiere@marelle.local", "current_password": password,
        "new_password": password})
    assert r.status_code == 422
    r = await identity.client.post("/auth/staff/password", json={
        "email": "premiere@marelle.local", "current_password": password,
        "new_password": "mon-mot-de-passe-a-moi"})
    assert r.status_code == 204
    admin = await identity.staff_token(("premiere@marelle.local", "mon-mot-de-passe-a-moi"))
    assert (await identity.client.get("/staff/accounts", headers=admin)).status_code == 200
    r = await identity.client.post("/auth/staff/token", json={
        "email": "premiere@marelle.local", "password": password})
    assert r.status_code == 401
