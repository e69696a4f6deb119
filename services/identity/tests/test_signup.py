"""Online sign-up (issue #11): the account is active only once the emailed link is opened; the
answer never tells whether the address already has an account (its owner gets an email
instead); the household stays « à vérifier » for staff; no unauthenticated household creation
is left."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from marelle_chassis.messaging_tables import outbox_table
from marelle_identity.db import metadata

pytestmark = pytest.mark.postgres


def _body(email: str, password: str = "mot-de-passe-neuf", name: str = "Famille Nouvelle") -> dict:
    return {"family_name": name, "email": email, "password": password,
            "guardian": {"first_name": "Ana", "last_name": "Nouvelle"}}


async def _family_events(app) -> list[dict]:
    async with app.state.uow_factory() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata).c.envelope))).all()
    return [e for e in (json.loads(r.envelope) for r in rows)
            if e["event_type"] == "identity.family_created"]


async def test_signup_activates_the_account_only_through_the_emailed_link(identity):
    r = await identity.client.post("/auth/signup", json=_body("nouvelle@example.org"))
    assert r.status_code == 202, r.text
    # Not before the address is confirmed: French 403, and only to who knows the password.
    r = await identity.login("nouvelle@example.org", "mot-de-passe-neuf")
    assert r.status_code == 403 and r.json()["detail"].startswith("Confirmez votre adresse")
    wrong = await identity.login("nouvelle@example.org", "pas-le-bon-mot")
    assert wrong.status_code == 401

    message = await identity.mail.wait_for("nouvelle@example.org", "Confirmez votre adresse")
    assert "/inscription/confirmer?jeton=" in identity.mail.text(message)
    token = identity.mail.link_token(message)
    r = await identity.client.post("/auth/signup/confirm", json={"token": token})
    assert r.status_code == 204
    again = await identity.client.post("/auth/signup/confirm", json={"token": token})
    assert again.status_code == 400 and "n'est plus valide" in again.json()["detail"]
    forged = await identity.client.post("/auth/signup/confirm", json={"token": "x" * 43})
    assert forged.status_code == 400

    parent = await identity.parent("nouvelle@example.org", "mot-de-passe-neuf")
    family_id = (await _family_events(identity.app))[0]["key"]
    family = (await identity.client.get(f"/families/{family_id}", headers=parent)).json()
    # Still « à vérifier » for the structure, and announced so to the other services.
    assert family["needs_review"] is True
    assert [p["first_name"] for p in family["persons"]] == ["Ana"]
    [created] = await _family_events(identity.app)
    assert created["payload"]["needs_review"] is True


async def test_signup_answers_the_same_for_a_known_address(identity):
    await identity.family_with_account("Famille Connue", "connue@example.org", "mot-de-passe-1")
    new = await identity.client.post("/auth/signup", json=_body("inconnue@example.org"))
    known = await identity.client.post("/auth/signup",
                                       json=_body("Connue@EXAMPLE.org", "autre-mot-de-passe"))
    assert (known.status_code, known.json()) == (new.status_code, new.json())
    assert known.status_code == 202
    assert set(known.headers) - {"content-length"} == set(new.headers) - {"content-length"}

    # The owner is told someone tried; no link, no new household, the password unchanged.
    warning = await identity.mail.wait_for("connue@example.org", "Tentative d'inscription")
    assert "Quelqu'un a tenté de créer un compte avec votre adresse" in identity.mail.text(warning)
    assert "jeton=" not in identity.mail.text(warning)
    await identity.mail.wait_for("inconnue@example.org", "Confirmez votre adresse")
    await asyncio.sleep(0.2)
    assert not [m for m in identity.mail.messages
                if m["To"] == "connue@example.org" and "Confirmez" in str(m["Subject"])]
    assert [e["payload"]["email"] for e in await _family_events(identity.app)
            if e["payload"]["needs_review"]] == ["inconnue@example.org"]
    assert (await identity.login("connue@example.org", "mot-de-passe-1")).status_code == 200
    assert (await identity.login("connue@example.org", "autre-mot-de-passe")).status_code == 401


async def test_invalid_form_is_refused_before_the_address_is_looked_up(identity):
    """A form refused for a new address is refused the same way for a known one."""
    await identity.family_with_account("Famille Connue", "connue@example.org")
    for email in ("connue@example.org", "inconnue@example.org"):
        r = await identity.client.post("/auth/signup", json={**_body(email), "family_name": "  "})
        assert r.status_code == 422, r.text
    assert [m for m in identity.mail.messages if "inscription" in str(m["Subject"]).lower()] == []


async def test_second_signup_of_an_unconfirmed_address_resends_the_link(identity):
    """The first password stays: a second sign-up cannot choose the password of an account
    someone else is about to confirm."""
    assert (await identity.client.post("/auth/signup", json=_body("deux@example.org",
                                                                  "premier-mot-de-passe"))
            ).status_code == 202
    assert (await identity.client.post("/auth/signup", json=_body("deux@example.org",
                                                                  "second-mot-de-passe"))
            ).status_code == 202
    await identity.mail.wait_for("deux@example.org", "Confirmez votre adresse")
    deadline = asyncio.get_running_loop().time() + 10
    while len([m for m in identity.mail.messages if m["To"] == "deux@example.org"]) < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    links = [identity.mail.link_token(m) for m in identity.mail.messages if m["To"] == "deux@example.org"]
    # Only the newest link works; one household.
    assert (await identity.client.post("/auth/signup/confirm", json={"token": links[0]})
            ).status_code == 400
    assert (await identity.client.post("/auth/signup/confirm", json={"token": links[1]})
            ).status_code == 204
    assert len(await _family_events(identity.app)) == 1
    assert (await identity.login("deux@example.org", "second-mot-de-passe")).status_code == 401
    assert (await identity.login("deux@example.org", "premier-mot-de-passe")).status_code == 200


async def test_no_unauthenticated_household_creation_is_left(identity):
    r = await identity.client.post("/provisional/families", json={
        "name": "Famille Fantôme", "child": {"first_name": "Léo", "last_name": "Fantôme",
                                            "birth_date": "2018-01-01"}})
    assert r.status_code in (404, 405)
    r = await identity.client.post("/staff/families", json={
        "name": "Famille Fantôme", "email": "fantome@example.org",
        "guardian": {"first_name": "A", "last_name": "Fantôme"}, "children": []})
    assert r.status_code == 401
    assert "/provisional/families" not in (await identity.client.get("/openapi.json")).json()["paths"]
    assert await _family_events(identity.app) == []


async def test_staff_review_is_published_once_for_the_other_services(identity):
    r = await identity.client.post("/auth/signup", json=_body("revue@example.org"))
    assert r.status_code == 202, r.text
    family_id = (await _family_events(identity.app))[0]["key"]
    staff = await identity.staff_token()
    for _ in range(2):  # a second click changes nothing and publishes nothing
        r = await identity.client.post(f"/staff/families/{family_id}/review", headers=staff)
        assert r.status_code == 204, r.text
    async with identity.app.state.uow_factory() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata).c.envelope))).all()
    envelopes = [json.loads(r.envelope) for r in rows]
    reviewed = [e for e in envelopes if e["event_type"] == "identity.family_reviewed"]
    assert [e["payload"]["family_id"] for e in reviewed] == [family_id]
    created = next(e for e in envelopes if e["event_type"] == "identity.family_created"
                   and e["key"] == family_id)
    # Newer than the creation: enrolment applies it over the « à vérifier » it holds.
    assert reviewed[0]["aggregate_version"] > created["aggregate_version"]
