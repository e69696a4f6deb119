"""Identity under races: household versions, concurrent changes to one household, concurrent
logins against the throttle, and Argon2 off the event loop and outside any transaction.

Everything runs on SQLite and PostgreSQL; the concurrent requests are real concurrent requests
to the app (one event loop, several database connections).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from marelle_chassis import migrations
from marelle_chassis.messaging_tables import outbox_table
from marelle_identity.config import IdentitySettings
from marelle_identity.db import family as family_t
from marelle_identity.db import metadata
from marelle_identity.main import MIGRATIONS, create_app
from marelle_identity.usecases import common

pytestmark = pytest.mark.postgres


async def envelopes_of(app, family_id: str) -> list[dict]:
    async with app.state.uow_factory() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata))
                                          .order_by(outbox_table(metadata).c.id))).all()
    return [e for e in (json.loads(r.envelope) for r in rows) if e["key"] == family_id]


async def household_version(app, family_id: str) -> int:
    async with app.state.uow_factory() as uow:
        return await uow.session.scalar(select(family_t.c.version)
                                        .where(family_t.c.id == uuid.UUID(family_id)))


async def test_every_event_carries_the_next_household_version(identity):
    family_id, parent = await identity.family_with_account("Famille Caron", "caron@example.org")
    client = identity.client
    r = await client.post(f"/families/{family_id}/children", headers=parent, json={
        "first_name": "Tom", "last_name": "Caron", "birth_date": "2019-02-03"})
    await client.put(f"/families/{family_id}/children/{r.json()['id']}", headers=parent, json={
        "first_name": "Thomas", "last_name": "Caron", "birth_date": "2019-02-03"})
    await client.post(f"/families/{family_id}/guardians", headers=parent,
                      json={"first_name": "Marc", "last_name": "Caron"})
    r = await client.post(f"/families/{family_id}/contact-change-requests", headers=parent,
                          json={"home_phone": "01 23 45 67 89"})
    staff = await identity.staff_token()
    await client.post("/staff/contact-change-requests/decisions", headers=staff, json={
        "decisions": [{"request_id": r.json()["id"], "decision": "accept"}]})
    r = await client.put(f"/staff/families/{family_id}/email", headers=staff,
                         json={"email": "caron.nouveau@example.org"})
    assert r.status_code == 200
    # The new login email ended the family's sessions: it logs in again with it.
    parent = await identity.parent("caron.nouveau@example.org", "un-mot-de-passe")
    # A refused change bumps nothing: no event, no version.
    assert (await client.post(f"/families/{family_id}/guardians", headers=parent, json={
        "first_name": "Trop", "last_name": "Caron"})).status_code == 409

    envelopes = await envelopes_of(identity.app, family_id)
    assert [(e["event_type"], e["aggregate_version"]) for e in envelopes] == [
        ("identity.family_created", 1), ("identity.child_added", 2),
        ("identity.child_updated", 3), ("identity.guardian_added", 4),
        ("identity.contact_change_requested", 5),
        # Two events of one transaction: increasing versions, in the order they are published.
        ("identity.contact_change_accepted", 6), ("identity.contact_details_changed", 7),
        ("identity.email_changed", 8), ("identity.contact_details_changed", 9)]
    assert await household_version(identity.app, family_id) == 9


async def test_concurrent_changes_to_one_household_get_distinct_ordered_versions(identity):
    family_id, parent = await identity.family_with_account("Famille Brun", "brun@example.org")
    client = identity.client
    names = [f"Enfant{i}" for i in range(8)]
    responses = await asyncio.gather(*(
        client.post(f"/families/{family_id}/children", headers=parent, json={
            "first_name": name, "last_name": "Brun", "birth_date": "2018-01-01"})
        for name in names))
    assert [r.status_code for r in responses] == [201] * len(names)
    envelopes = await envelopes_of(identity.app, family_id)
    versions = [e["aggregate_version"] for e in envelopes]
    # No two events share a version, and the outbox (relayed in id order) carries them in order.
    assert versions == list(range(1, len(names) + 2))
    assert await household_version(identity.app, family_id) == len(names) + 1


async def test_concurrent_guardians_and_decisions_on_one_household(identity):
    family_id, parent = await identity.family_with_account("Famille Gris", "gris@example.org")
    client = identity.client
    # One guardian already: of five « Parent 2 » added at once, exactly one gets in.
    responses = await asyncio.gather(*(
        client.post(f"/families/{family_id}/guardians", headers=parent,
                    json={"first_name": f"Second{i}", "last_name": "Gris"}) for i in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    # Of two change requests sent at once, one waits and the other is refused.
    responses = await asyncio.gather(*(
        client.post(f"/families/{family_id}/contact-change-requests", headers=parent,
                    json={"home_phone": phone}) for phone in ("0123456789", "0145454545")))
    assert sorted(r.status_code for r in responses) == [201, 409]
    request_id = next(r.json()["id"] for r in responses if r.status_code == 201)
    # Two staff members deciding the same request at once: one decision only.
    staff = await identity.staff_token()
    results = await asyncio.gather(*(
        client.post("/staff/contact-change-requests/decisions", headers=staff, json={
            "decisions": [{"request_id": request_id, "decision": d, "reason": "Justificatif ?"}]})
        for d in ("accept", "refuse")))
    outcomes = [r.json()["results"][0] for r in results]
    assert sorted(o["ok"] for o in outcomes) == [False, True]
    assert "déjà été traitée" in next(o["detail"] for o in outcomes if not o["ok"])
    types = Counter(e["event_type"] for e in await envelopes_of(identity.app, family_id))
    assert types["identity.guardian_added"] == 1
    assert types["identity.contact_change_requested"] == 1
    assert types["identity.contact_change_accepted"] + types["identity.contact_change_refused"] == 1
    versions = [e["aggregate_version"] for e in await envelopes_of(identity.app, family_id)]
    assert versions == list(range(1, len(versions) + 1))


async def test_concurrent_guesses_cannot_slip_past_the_throttle(identity):
    """The password is checked outside any transaction: the attempt is counted before it is
    verified, so ten guesses sent at once get five answers and five refusals, not ten answers."""
    await identity.family_with_account("Famille Roy", "roy@example.org", "mot-de-passe-1")
    responses = await asyncio.gather(*(
        identity.login("roy@example.org", f"devine-{i}-devine") for i in range(10)))
    assert sorted(r.status_code for r in responses) == [401] * 5 + [429] * 5
    assert (await identity.login("roy@example.org", "mot-de-passe-1")).status_code == 429


async def test_concurrent_successes_from_one_address_are_not_counted_as_failures(identity):
    """Each attempt is counted before its password is checked; a success takes it back."""
    emails = [f"voisin{i}@example.org" for i in range(8)]
    for email in emails:
        await identity.signed_up(email, "mot-de-passe-1")
    # 40 good logins from one address (a town hall's shared connection), 8 at a time: more than
    # the address's 30 allowed failures, yet none refused.
    for _ in range(5):
        responses = await asyncio.gather(*(
            identity.login(email, "mot-de-passe-1", ip="198.51.100.20") for email in emails))
        assert [r.status_code for r in responses] == [200] * 8
    assert (await identity.login(emails[0], "mot-de-passe-1", ip="198.51.100.20")).status_code == 200


class SpyHasher:
    """Wraps the real Argon2 hasher: notes where each call runs and what is open meanwhile."""

    def __init__(self, real, engine) -> None:
        self.real = real
        self.engine = engine
        self.calls: list[tuple[str, bool, int]] = []

    def _note(self, what: str) -> None:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        self.calls.append((what, on_loop or threading.current_thread() is threading.main_thread(),
                           self.engine.sync_engine.pool.checkedout()))

    def hash(self, password: str) -> str:
        self._note("hash")
        return self.real.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self._note("verify")
        return self.real.verify(password_hash, password)


async def _confirm_from_queue(app, client: httpx.AsyncClient, to: str) -> None:
    import re

    from marelle_identity.db import email_message

    async with app.state.uow_factory() as uow:
        body = await uow.session.scalar(select(email_message.c.text_body)
                                        .where(email_message.c.to_address == to))
    token = re.search(r"jeton=([\w-]+)", body).group(1)
    r = await client.post("/auth/signup/confirm", json={"token": token})
    assert r.status_code == 204, r.text


async def test_argon2_runs_in_a_thread_and_outside_any_transaction(database_url, monkeypatch):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    # No mailer, no relay: the only database connections are the requests' own.
    app = create_app(IdentitySettings(database_url=database_url, kafka_enabled=False,
                                      mail_enabled=False))
    async with app.router.lifespan_context(app):
        spy = SpyHasher(common.hasher, app.state.runtime.engine)
        monkeypatch.setattr(common, "hasher", spy)
        from marelle_identity.usecases.accounts import ensure_staff_account

        await ensure_staff_account(app.state.uow_factory(), "chef@marelle.local",
                                   "mot-de-passe-chef", "Chef", ["administrator"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity.test") as c:
            r = await c.post("/auth/signup", json={
                "family_name": "Famille Fil", "email": "fil@example.org",
                "password": "mot-de-passe-1", "guardian": {"first_name": "A", "last_name": "Fil"}})
            assert r.status_code == 202
            # The emails stay queued (no mailer here): the link is read from the queue.
            await _confirm_from_queue(app, c, "fil@example.org")
            ok = await c.post("/auth/token", json={"email": "fil@example.org",
                                                   "password": "mot-de-passe-1"})
            assert ok.status_code == 200
            for email, password in [("fil@example.org", "pas-le-bon-1"),
                                    ("inconnu@example.org", "pas-le-bon-1")]:
                r = await c.post("/auth/token", json={"email": email, "password": password})
                assert r.status_code == 401
            parent = {"Authorization": f"Bearer {ok.json()['access_token']}"}
            r = await c.post("/me/password", headers=parent, json={
                "current_password": "mot-de-passe-1", "new_password": "mot-de-passe-2"})
            assert r.status_code == 204
            staff = await c.post("/auth/staff/token", json={"email": "chef@marelle.local",
                                                            "password": "mot-de-passe-chef"})
            assert staff.status_code == 200
            r = await c.post("/staff/accounts", json={
                "email": "agent@marelle.local", "display_name": "Agent",
                "password": "mot-de-passe-agent", "roles": ["manager"]},
                headers={"Authorization": f"Bearer {staff.json()['access_token']}"})
            assert r.status_code == 201
    kinds = Counter(what for what, _, _ in spy.calls)
    assert kinds["hash"] >= 4 and kinds["verify"] >= 5, kinds
    assert [c for c in spy.calls if c[1]] == [], "Argon2 ran on the event loop"
    assert [c for c in spy.calls if c[2]] == [], "Argon2 ran while a connection was checked out"
