"""Login, sessions, throttling, password reset and invitations (real database, real SMTP)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from marelle_identity.usecases import accounts, common, throttling

pytestmark = pytest.mark.postgres


async def test_login_refresh_rotation_and_logout(identity, monkeypatch):
    await identity.family_with_account("Famille Durand", "durand@example.org", "mot-de-passe-1")
    r = await identity.login("durand@example.org", "mot-de-passe-1")
    assert r.status_code == 200
    first = r.json()
    assert first["token_type"] == "Bearer" and first["expires_in"] == 900

    r = await identity.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    # A second tab refreshing with the same token at the same moment is not logged out...
    r = await identity.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    # ...but once the grace period is over, the rotated token no longer works.
    later = common.now() + timedelta(minutes=1)
    monkeypatch.setattr(accounts, "now", lambda: later)
    r = await identity.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    monkeypatch.undo()
    await identity.client.post("/auth/logout", json={"refresh_token": second["refresh_token"]})
    r = await identity.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401 and "reconnectez-vous" in r.json()["detail"]


async def test_wrong_password_and_unknown_address_get_the_same_answer(identity):
    await identity.family_with_account("Famille Roux", "roux@example.org", "mot-de-passe-1")
    wrong = await identity.login("roux@example.org", "nope-nope-nope")
    unknown = await identity.login("personne@example.org", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"] == "Identifiant ou mot de passe incorrect."


async def test_guessing_slows_the_address_down_but_never_locks_the_owner_out(identity, monkeypatch):
    """Five wrong passwords from one address slow that address down for that account (429,
    Retry-After, French message); the owner, from their own address, still logs in at once. With
    the former per-account lock, the owner's login would have been refused too."""
    await identity.family_with_account("Famille Petit", "petit@example.org", "mot-de-passe-1")
    attacker, owner = "198.51.100.66", "192.0.2.10"
    for _ in range(5):
        r = await identity.login("petit@example.org", "mauvais-mot", ip=attacker)
        assert r.status_code == 401
    blocked = await identity.login("petit@example.org", "mot-de-passe-1", ip=attacker)
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert "Trop de tentatives de connexion : réessayez dans 15 minutes" in blocked.json()["detail"]
    # The owner, from another address, is not locked out.
    assert (await identity.login("petit@example.org", "mot-de-passe-1", ip=owner)).status_code == 200
    # Another account from the attacker's address is not affected either (up to the address's
    # own, higher limit).
    await identity.family_with_account("Famille Grand", "grand@example.org", "mot-de-passe-2")
    assert (await identity.login("grand@example.org", "mot-de-passe-2", ip=attacker)).status_code == 200
    # Once the window is over, the attacker's address may try again.
    later = common.now() + timedelta(minutes=16)
    monkeypatch.setattr(throttling, "now", lambda: later)
    assert (await identity.login("petit@example.org", "mot-de-passe-1", ip=attacker)).status_code == 200


async def test_an_address_guessing_many_accounts_is_throttled(identity):
    await identity.family_with_account("Famille Leroy", "leroy@example.org", "mot-de-passe-1")
    for i in range(30):
        r = await identity.login(f"cible{i}@example.org", "devine-devine", ip="198.51.100.7")
        assert r.status_code == 401
    r = await identity.login("leroy@example.org", "mot-de-passe-1", ip="198.51.100.7")
    assert r.status_code == 429
    # The owner, from another address, is not locked out.
    assert (await identity.login("leroy@example.org", "mot-de-passe-1", ip="192.0.2.9")).status_code == 200


async def test_password_reset_never_tells_whether_an_address_exists(identity):
    await identity.family_with_account("Famille Blanc", "blanc@example.org", "mot-de-passe-1")
    sent_before = len(identity.mail.messages)
    unknown = await identity.client.post("/auth/password-reset", json={"email": "x@example.org"})
    known = await identity.client.post("/auth/password-reset", json={"email": "blanc@example.org"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    message = await identity.mail.wait_for("blanc@example.org", "Réinitialisation")
    assert len([m for m in identity.mail.messages[sent_before:] if m["To"] == "x@example.org"]) == 0
    assert "valable 60 minutes" in identity.mail.text(message)
    assert message.get_body(preferencelist=("html",)) is not None


async def test_reset_link_works_once_ends_sessions_and_expires(identity, monkeypatch):
    await identity.family_with_account("Famille Noir", "noir@example.org", "ancien-mot-de-passe")
    session = (await identity.login("noir@example.org", "ancien-mot-de-passe")).json()
    await identity.client.post("/auth/password-reset", json={"email": "noir@example.org"})
    token = identity.mail.link_token(await identity.mail.wait_for("noir@example.org", "Réinit"))

    check = await identity.client.post("/auth/one-time-token", json={"token": token, "purpose": "reset"})
    assert check.json() == {"email": "noir@example.org", "purpose": "reset"}
    weak = await identity.client.post("/auth/password-reset/confirm",
                                      json={"token": token, "password": "court"})
    assert weak.status_code == 422 and weak.json()["erreurs"][0]["champ"] == "password"
    ok = await identity.client.post("/auth/password-reset/confirm",
                                    json={"token": token, "password": "nouveau-mot-de-passe"})
    assert ok.status_code == 204
    again = await identity.client.post("/auth/password-reset/confirm",
                                       json={"token": token, "password": "encore-un-autre"})
    assert again.status_code == 400 and "n'est plus valide" in again.json()["detail"]
    assert (await identity.login("noir@example.org", "ancien-mot-de-passe")).status_code == 401
    assert (await identity.login("noir@example.org", "nouveau-mot-de-passe")).status_code == 200
    # The session opened with the old password is over.
    r = await identity.client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 401

    await identity.client.post("/auth/password-reset", json={"email": "noir@example.org"})
    await identity.mail.wait_for("noir@example.org", "Réinit")
    token = identity.mail.link_token([m for m in identity.mail.messages
                                      if m["To"] == "noir@example.org"][-1])
    later = common.now() + timedelta(hours=2)
    monkeypatch.setattr(accounts, "now", lambda: later)
    expired = await identity.client.post("/auth/password-reset/confirm",
                                         json={"token": token, "password": "trop-tard-1234"})
    assert expired.status_code == 400


async def test_invitation_link_is_single_use_and_a_new_one_replaces_it(identity):
    staff = await identity.staff_token()
    r = await identity.client.post("/staff/families", headers=staff, json={
        "name": "Famille Morel", "email": "morel@example.org",
        "guardian": {"first_name": "Paul", "last_name": "Morel"}, "children": []})
    family_id = r.json()["family_id"]
    first = identity.mail.link_token(await identity.mail.wait_for("morel@example.org", "accès"))
    assert (await identity.login("morel@example.org", "quelque-chose")).status_code == 401
    r = await identity.client.post(f"/staff/families/{family_id}/invitation", headers=staff)
    assert r.status_code == 202
    await asyncio_sleep_until(lambda: len([m for m in identity.mail.messages
                                           if m["To"] == "morel@example.org"]) == 2)
    second = identity.mail.link_token([m for m in identity.mail.messages
                                       if m["To"] == "morel@example.org"][-1])
    stale = await identity.client.post("/auth/invitation/accept",
                                       json={"token": first, "password": "mon-mot-de-passe"})
    assert stale.status_code == 400
    ok = await identity.client.post("/auth/invitation/accept",
                                    json={"token": second, "password": "mon-mot-de-passe"})
    assert ok.status_code == 204
    assert (await identity.login("morel@example.org", "mon-mot-de-passe")).status_code == 200
    r = await identity.client.post(f"/staff/families/{family_id}/invitation", headers=staff)
    assert r.status_code == 409


async def test_change_password_needs_the_current_one(identity):
    family_id, parent = await identity.family_with_account("Famille Vert", "vert@example.org",
                                                           "mot-de-passe-1")
    r = await identity.client.post("/me/password", headers=parent, json={
        "current_password": "faux-faux-faux", "new_password": "mot-de-passe-2"})
    assert r.status_code == 400 and r.json()["erreurs"][0]["champ"] == "current_password"
    r = await identity.client.post("/me/password", headers=parent, json={
        "current_password": "mot-de-passe-1", "new_password": "mot-de-passe-2"})
    assert r.status_code == 204
    assert (await identity.login("vert@example.org", "mot-de-passe-2")).status_code == 200


async def asyncio_sleep_until(predicate, timeout: float = 10.0) -> None:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
