"""GDPR (issue #11): the family's export, its deletion request and the anonymisation once staff
accept it, the log of staff reads of a household, TOTP secrets encrypted at rest."""

from __future__ import annotations

import json
import uuid

import pyotp
import pytest
from sqlalchemy import select

from marelle_chassis.messaging_tables import outbox_table
from marelle_identity import secretbox
from marelle_identity.db import account, email_message, family, metadata, person, staff_account

pytestmark = pytest.mark.postgres

MANAGER = ("gestionnaire@marelle.local", "marelle-gestion")


async def _events(identity, key: str) -> list[dict]:
    async with identity.app.state.uow_factory() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
    envelopes = [json.loads(r.envelope) for r in rows]
    return [e for e in envelopes if e["key"] == key]


async def _with_phone(identity, family_id, parent) -> None:
    """A household with a guardian's mobile and a home phone, accepted by staff."""
    r = await identity.client.post(f"/families/{family_id}/contact-change-requests",
                                   headers=parent, json={"home_phone": "01 23 45 67 89"})
    assert r.status_code == 201, r.text
    staff = await identity.staff_token()
    r = await identity.client.post("/staff/contact-change-requests/decisions", headers=staff,
                                   json={"decisions": [{"request_id": r.json()["id"],
                                                        "decision": "accept"}]})
    assert r.json()["results"][0]["ok"], r.text


async def test_the_export_holds_the_household_and_never_a_hash_token_or_secret(identity):
    family_id, parent = await identity.family_with_account("Famille Roux", "roux@example.org")
    await _with_phone(identity, family_id, parent)
    r = await identity.client.get(f"/families/{family_id}/export", headers=parent)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["household"]["name"] == "Famille Roux"
    assert data["household"]["home_phone"] == "+33123456789"
    assert {(p["role"], p["first_name"]) for p in data["persons"]} == {("guardian", "Claire"),
                                                                       ("child", "Léa")}
    assert data["accounts"] == [{**data["accounts"][0], "email": "roux@example.org",
                                 "role": "famille", "status": "active"}]
    assert [q["kind"] for q in data["requests"]] == ["coordonnees"]
    assert data["sessions"] and not data["sessions"][0]["ended"]
    text = r.text
    async with identity.app.state.uow_factory() as uow:
        hashed = await uow.session.scalar(select(account.c.password_hash))
    assert hashed not in text and "argon2" not in text and "token" not in text
    assert parent["Authorization"].split()[1] not in text
    # Another household's export is not found; staff have their own routes.
    other_id, other = await identity.family_with_account("Famille Blanc", "blanc@example.org")
    assert (await identity.client.get(f"/families/{family_id}/export", headers=other)
            ).status_code == 404


async def test_deletion_request_once_then_administrator_anonymises_everything(identity):
    family_id, parent = await identity.family_with_account("Famille Morel", "morel@example.org")
    await _with_phone(identity, family_id, parent)
    r = await identity.client.post(f"/families/{family_id}/deletion-requests", headers=parent,
                                   json={"reason": "Nous déménageons."})
    assert r.status_code == 201 and r.json()["status"] == "en_attente"
    request_id = r.json()["id"]
    again = await identity.client.post(f"/families/{family_id}/deletion-requests",
                                       headers=parent, json={})
    assert again.status_code == 409 and "déjà en attente" in again.json()["detail"]

    # A manager cannot decide; an administrator sees it pending.
    manager = await identity.staff_token(MANAGER)
    assert (await identity.client.get("/staff/deletion-requests", headers=manager)
            ).status_code == 403
    admin = await identity.staff_token()
    pending = (await identity.client.get("/staff/deletion-requests", headers=admin)).json()
    assert [(i["id"], i["family_name"]) for i in pending["items"]] == [(request_id,
                                                                        "Famille Morel")]
    no_reason = await identity.client.post(f"/staff/deletion-requests/{request_id}/decision",
                                           headers=admin, json={"decision": "refuse"})
    assert no_reason.status_code == 422 and "motif" in no_reason.json()["detail"]

    r = await identity.client.post(f"/staff/deletion-requests/{request_id}/decision",
                                   headers=admin, json={"decision": "accept"})
    assert r.status_code == 200 and r.json()["status"] == "acceptee", r.text
    twice = await identity.client.post(f"/staff/deletion-requests/{request_id}/decision",
                                       headers=admin, json={"decision": "accept"})
    assert twice.status_code == 409

    fid = uuid.UUID(family_id)
    async with identity.app.state.uow_factory() as uow:
        f = (await uow.session.execute(select(family).where(family.c.id == fid))).one()
        people = (await uow.session.execute(select(person).where(
            person.c.family_id == fid))).all()
        acct = (await uow.session.execute(select(account).where(
            account.c.family_id == fid))).one()
        mails = (await uow.session.execute(select(email_message).where(
            email_message.c.to_address == "morel@example.org"))).all()
    assert (f.name, f.email, f.home_phone, f.anonymised_at is not None) == (
        "Anonyme", None, None, True)
    assert {(p.first_name, p.last_name) for p in people} == {("Anonyme", "Anonyme")}
    child = next(p for p in people if p.role == "child")
    assert (child.birth_date.month, child.birth_date.day, child.birth_date.year) == (1, 1, 2017)
    assert all(p.mobile_phone is None and p.work_phone is None for p in people)
    assert acct.status == "disabled" and acct.password_hash is None
    assert "morel" not in acct.email and mails == []

    # The session ended at once, the login is gone, and no new request is possible.
    assert (await identity.client.get(f"/families/{family_id}", headers=parent)).status_code == 401
    assert (await identity.login("morel@example.org", "un-mot-de-passe")).status_code == 401

    # One event for the copies, at the household's latest version, after the revocation.
    events = await _events(identity, family_id)
    anonymised = [e for e in events if e["event_type"] == "identity.household_anonymised"]
    assert len(anonymised) == 1
    assert anonymised[0]["aggregate_version"] == max(e["aggregate_version"] for e in events)
    payload = anonymised[0]["payload"]
    assert payload["name"] == "Anonyme"
    assert [(c["first_name"], c["birth_date"]) for c in payload["children"]] == [
        ("Anonyme", "2017-01-01")]
    assert len(payload["guardian_ids"]) == 1
    revoked = await _events(identity, str(acct.id))
    assert [e["payload"]["reason"] for e in revoked] == ["account_disabled"]

    # Audited, without the erased values.
    audit = (await identity.client.get("/staff/audit", headers=admin)).json()["items"]
    line = next(a for a in audit if a["action"] == "foyer.anonymise")
    assert line["target"] == f"foyer:{family_id}" and "Morel" not in json.dumps(line)


async def test_a_refused_deletion_keeps_the_data_and_tells_the_reason(identity):
    family_id, parent = await identity.family_with_account("Famille Petit", "petit@example.org")
    r = await identity.client.post(f"/families/{family_id}/deletion-requests", headers=parent,
                                   json={})
    admin = await identity.staff_token()
    r = await identity.client.post(f"/staff/deletion-requests/{r.json()['id']}/decision",
                                   headers=admin, json={"decision": "refuse",
                                                        "reason": "Facture impayée en cours."})
    assert r.status_code == 200 and r.json()["status"] == "refusee"
    mine = (await identity.client.get(f"/families/{family_id}/deletion-requests",
                                      headers=parent)).json()["items"]
    assert [(m["status"], m["decision_reason"]) for m in mine] == [
        ("refusee", "Facture impayée en cours.")]
    assert (await identity.client.get(f"/families/{family_id}", headers=parent)
            ).json()["name"] == "Famille Petit"
    # A new request is possible once the previous one was answered.
    assert (await identity.client.post(f"/families/{family_id}/deletion-requests",
                                       headers=parent, json={})).status_code == 201
    audit = (await identity.client.get("/staff/audit", headers=admin)).json()["items"]
    assert any(a["action"] == "suppression.refusee" for a in audit)


async def test_each_staff_read_of_a_household_is_logged(identity):
    family_id, _ = await identity.family_with_account("Famille Faure", "faure@example.org")
    admin = await identity.staff_token()
    manager = await identity.staff_token(MANAGER)
    for headers in (admin, manager, admin):
        r = await identity.client.get(f"/staff/families/{family_id}", headers=headers)
        assert r.status_code == 200
    detail = r.json()
    assert [x["staff_email"] for x in detail["reads"]] == [
        "admin@marelle.local", "gestionnaire@marelle.local", "admin@marelle.local"]
    assert detail["reads"][0]["what"] == "fiche_foyer"
    reads = (await identity.client.get(f"/staff/families/{family_id}/reads",
                                       headers=manager)).json()["items"]
    assert len(reads) == 3  # listing the reads is not itself a read of the file


async def test_totp_secrets_are_encrypted_at_rest(identity):
    manager = await identity.staff_token(MANAGER)
    r = await identity.client.post("/auth/staff/totp/setup", headers=manager)
    secret = r.json()["secret"]
    r = await identity.client.post("/auth/staff/totp/confirm", headers=manager,
                                   json={"code": pyotp.TOTP(secret).now()})
    assert r.status_code == 204, r.text
    async with identity.app.state.uow_factory() as uow:
        stored = await uow.session.scalar(select(staff_account.c.totp_secret).where(
            staff_account.c.email == MANAGER[0]))
    assert secret not in stored and secretbox.unseal(None, stored) == secret
    # The login still checks codes against it.
    import time
    r = await identity.client.post("/auth/staff/token", json={
        "email": MANAGER[0], "password": MANAGER[1],
        "totp_code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert r.status_code == 200, r.text


def test_production_refuses_a_missing_or_development_totp_key():
    from marelle_identity.config import IdentitySettings
    from marelle_identity.main import production_problems

    def problems(**values):
        return " ".join(production_problems(IdentitySettings(
            environment="production", kafka_enabled=False, portal_url="https://x.example",
            proxy_secret="p" * 40, **values)))

    assert "IDENTITY_TOTP_KEY est absent" in problems()
    assert "publiée" in problems(totp_key=secretbox.DEVELOPMENT_KEY)
    assert "clé Fernet" in problems(totp_key="trop-courte")
    assert "IDENTITY_TOTP_KEY" not in problems(
        totp_key="Zm9yLXRlc3RzLW9ubHktYS1yZWFsLWtleS0wMDAwMDA=")


def test_the_staff_password_route_declares_its_403():
    from marelle_identity.config import IdentitySettings
    from marelle_identity.main import create_app

    app = create_app(IdentitySettings(environment="development", kafka_enabled=False,
                                      database_url="sqlite+aiosqlite:///:memory:"))
    operation = app.openapi()["paths"]["/auth/staff/password"]["post"]
    assert "403" in operation["responses"]


async def test_the_migration_encrypts_the_secrets_already_stored(database_url):
    """0008 on a database where 0007 stored TOTP secrets in clear; and back."""
    import asyncio
    import uuid as uuid_
    from datetime import UTC, datetime

    from sqlalchemy import text

    from marelle_chassis import db, migrations
    from marelle_identity.main import MIGRATIONS

    async def execute(sql: str, **params):
        engine = db.create_engine(database_url)  # a new one each time: the schema changes
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params)
                return result.scalar() if result.returns_rows else None
        finally:
            await engine.dispose()

    clear = "JBSWY3DPEHPK3PXP"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url, "0007")
    staff_id = uuid_.uuid4()
    await execute(
        "INSERT INTO staff_account (id, email, display_name, password_hash, roles, created_at, "
        "session_version, must_change_password, totp_secret) VALUES (:id, 'a@b.fr', 'A', 'x', "
        "'manager', :at, 0, :no, :secret)",
        id=staff_id.hex if database_url.startswith("sqlite") else staff_id,
        at=datetime.now(UTC), no=False, secret=clear)
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    stored = await execute("SELECT totp_secret FROM staff_account")
    assert stored != clear and secretbox.unseal(None, stored) == clear
    await asyncio.to_thread(migrations.downgrade, MIGRATIONS, database_url, "0007")
    assert await execute("SELECT totp_secret FROM staff_account") == clear
