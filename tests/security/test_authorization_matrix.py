"""The authorization matrix, generated from each service's own OpenAPI document: every operation
(a new one joins by existing) is called anonymously and with forged tokens (401), by a parent on
staff operations (403), by the parent of another household with household A's ids (403/404);
every refusal is problem+json and shows nothing of household A.

Operations anyone may call are listed, with the reason, in `support.PUBLIC`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.services import Target
from tests.security.support import (
    Household,
    Operation,
    forged,
    is_problem,
    is_public,
    leaks,
    operations,
    url,
)

pytestmark = pytest.mark.timeout(300)


async def _call(t: Target, op: Operation, path: str, headers: dict[str, str]) -> Any:
    return await t.client.request(op.method.upper(), path, headers=headers,
                                  json={} if op.has_body else None)


def _refused(problems: list[str], op: Operation, who: str, r: Any, allowed: set[int],
             a: Household, path: str) -> None:
    if r.status_code not in allowed:
        problems.append(f"{op.key} ({who}) : {r.status_code} au lieu de {sorted(allowed)} "
                        f"— {r.text[:200]}")
        return
    if not is_problem(r):
        problems.append(f"{op.key} ({who}) : réponse {r.status_code} sans problem+json")
    if found := leaks(r.text, a, path):
        problems.append(f"{op.key} ({who}) : la réponse montre {found}")


async def test_every_operation_refuses_who_it_must(target: Target) -> None:
    t, a, b = target, target.a, target.b
    ops = operations(t.spec())
    assert len(ops) > 10
    problems: list[str] = []
    bad_tokens = forged(a.family_id)
    reached_a = 0
    for op in ops:
        path = url(op, a.ids)
        if is_public(op.method, op.path):
            if op.protected:
                problems.append(f"{op.key} : listée publique mais documentée protégée")
            continue
        if not op.protected:
            problems.append(f"{op.key} : ni protégée (schéma bearer) ni listée publique")
        for who, headers in bad_tokens.items():
            r = await _call(t, op, path, headers)
            _refused(problems, op, who, r, {401}, a, path)
        if op.path.startswith("/staff/"):
            r = await _call(t, op, path, a.headers)
            _refused(problems, op, "parent sur une opération du personnel", r, {403}, a, path)
        if "{family_id}" in op.path:
            mine = await _call(t, op, path, a.headers)
            reached_a += mine.status_code < 300
            # B with every id of A's...
            r = await _call(t, op, path, b.headers)
            _refused(problems, op, "parent d'un autre foyer", r, {403, 404}, a, path)
            # ...and B with its own family id but A's child, registration, invoice…
            if len(op.params) > 1:
                crossed = url(op, {**a.ids, "family_id": b.family_id})
                r = await _call(t, op, crossed, b.headers)
                allowed = {403, 404} | ({409, 422} if op.has_body else set())
                _refused(problems, op, "autre foyer, ses propres id de foyer", r, allowed, a,
                         crossed)
    # The seeded ids are real: household A itself reaches its own data (else B's 404s above
    # would prove nothing).
    assert reached_a > 0 or not any("{family_id}" in op.path for op in ops)
    assert problems == [], "\n".join(problems)


async def test_the_documented_security_is_the_real_one(target: Target) -> None:
    """An operation answers 401 to an anonymous call exactly when its document says bearer."""
    mismatches = []
    for op in operations(target.spec()):
        r = await _call(target, op, url(op, target.a.ids), {})
        if (r.status_code == 401) != op.protected:
            mismatches.append(f"{op.key}: {r.status_code}, documentée "
                              f"{'protégée' if op.protected else 'publique'}")
    assert mismatches == []
