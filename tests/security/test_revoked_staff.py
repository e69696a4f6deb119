"""The authorization matrix's revoked staff tokens: the token of a staff account that an
administrator then disabled (identity's `POST /staff/accounts/{id}/disable`, which ends every
session of the account), and the token of a session ended by a logout, are refused (401,
problem+json) by every protected operation of every service, read from its own OpenAPI.

Identity checks its own revocations; every other service learns them from identity's
`identity.sessions_revoked` events, here taken from identity's outbox and applied to the
service's revocations the way its revocation feed applies what it reads from the topic. Before
the revocation, the same tokens open the staff operations (else the 401s would prove nothing)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from marelle_chassis.messaging_tables import outbox_table
from marelle_contracts import Envelope
from tests.security.services import Target, open_service
from tests.security.support import is_problem, is_public, leaks, operations, url
from tests.support import tokens

pytestmark = pytest.mark.timeout(300)

ROLES = ["administrator", "manager"]

# Found by this test in code outside it, reported for a fix; held strictly (an operation listed
# here that starts refusing fails the test until its line is removed). Identity's chassis routes
# check tokens with `app.state.token_verifier`, built in identity's main.py without revocations:
# a disabled administrator's token still reaches them until it expires (15 min).
KNOWN: dict[str, str] = {}


@asynccontextmanager
async def _identity(target: Target, tmp_path: Path) -> AsyncIterator[Target]:
    if target.name == "identity":
        yield target
        return
    async with open_service("identity",
                            f"sqlite+aiosqlite:///{tmp_path / 'identity.sqlite3'}") as identity:
        yield identity


def _token(account_id: str) -> dict[str, str]:
    """An access token of the account, for a session of its own (as identity signs them)."""
    return tokens._sign({"sub": account_id, "kind": "staff", "roles": ROLES,  # noqa: SLF001
                         "email": "agent.revoque@ville.test", "name": "Agent Révoqué",
                         "sid": str(uuid.uuid4())})


async def _revocations(identity: Target, seen: set[str]) -> list[Envelope]:
    """identity.sessions_revoked events written to identity's outbox since `seen`."""
    runtime = identity.app.state.runtime
    table = outbox_table(runtime.metadata)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(table.c.event_id, table.c.envelope).where(
            table.c.event_type == "identity.sessions_revoked").order_by(table.c.id))).all()
    fresh = [Envelope.model_validate(json.loads(r.envelope)) for r in rows
             if str(r.event_id) not in seen]
    seen.update(str(r.event_id) for r in rows)
    return fresh


def _apply(target: Target, events: list[Envelope]) -> None:
    assert events, "identity a publié la révocation"
    if target.name != "identity":  # identity reads its own table
        for envelope in events:
            assert target.app.state.runtime.revocations.apply(envelope)


async def _reached(target: Target, headers: dict[str, str]) -> int:
    """How many of the target's staff GET operations answer 2xx with these headers."""
    count = 0
    for op in operations(target.spec()):
        if op.method == "get" and op.path.startswith("/staff/") and not op.params:
            r = await target.client.get(op.path, headers=headers)
            count += r.status_code < 300
    return count


async def _refused_everywhere(target: Target, headers: dict[str, str], who: str) -> list[str]:
    problems = []
    for op in operations(target.spec()):
        if is_public(op.method, op.path):
            continue
        path = url(op, target.a.ids)
        r = await target.client.request(op.method.upper(), path, headers=headers,
                                        json={} if op.has_body else None)
        if f"{target.name} {op.key}" in KNOWN:
            if r.status_code == 401:
                problems.append(f"{target.name} {op.key} : corrigé, à retirer de KNOWN")
            continue
        if r.status_code != 401:
            problems.append(f"{target.name} {op.key} ({who}) : {r.status_code} au lieu de 401 "
                            f"— {r.text[:200]}")
        elif not is_problem(r):
            problems.append(f"{target.name} {op.key} ({who}) : 401 sans problem+json")
        elif found := leaks(r.text, target.a, path):
            problems.append(f"{target.name} {op.key} ({who}) : la réponse montre {found}")
    return problems


async def test_a_disabled_staff_account_s_and_a_logged_out_session_s_tokens_are_refused(
        target: Target, tmp_path: Path) -> None:
    async with _identity(target, tmp_path) as identity:
        seen: set[str] = set()
        await _revocations(identity, seen)
        r = await identity.client.post("/staff/accounts", headers=identity.staff, json={
            "email": "agent.revoque@ville.test", "display_name": "Agent Révoqué",
            "password": "un mot de passe assez long", "roles": ROLES})
        assert r.status_code == 201, r.text
        account_id = r.json()["id"]
        kept, logged_out = _token(account_id), _token(account_id)
        # Both sessions open the staff operations before anything is revoked.
        assert await _reached(target, kept) > 0
        assert await _reached(target, logged_out) > 0

        # One session ends (the back-office's logout): its token only.
        r = await identity.client.post("/auth/logout", headers=logged_out)
        assert r.status_code == 204, r.text
        _apply(target, await _revocations(identity, seen))
        problems = await _refused_everywhere(target, logged_out, "session fermée")
        assert await _reached(target, kept) > 0, "l'autre session du compte reste ouverte"

        # An administrator disables the account: every session of it ends.
        r = await identity.client.post(f"/staff/accounts/{account_id}/disable",
                                       headers=identity.staff)
        assert r.status_code == 204, r.text
        _apply(target, await _revocations(identity, seen))
        problems += await _refused_everywhere(target, kept, "compte du personnel désactivé")
    assert problems == [], "\n".join(problems)
