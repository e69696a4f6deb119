"""Values at the edges, in every parameter of every operation (path and query), as the caller
the operation is for: integers beyond 64 bits and negative, a NUL character, a long string. A
database driver that overflows or chokes must never become a 500: the answer is a documented
4xx (problem+json). On SQLite and on PostgreSQL (their drivers refuse different things)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.security.services import SERVICES, Target, open_service
from tests.security.support import (
    KNOWN_BUGS,
    Operation,
    is_problem,
    is_public,
    known_bug,
    operations,
)

pytestmark = pytest.mark.timeout(300)

EDGES: dict[str, Any] = {
    "entier de 70 bits": 2 ** 70,
    "entier négatif": -(2 ** 63) - 1,
    "caractère NUL": "a\x00b",
    "chaîne de 1 000 caractères": "é" * 1000,
}


@pytest.fixture(params=SERVICES)
async def any_db_target(request: pytest.FixtureRequest, database_url: str):
    async with open_service(request.param, database_url) as t:
        t.database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
        yield t


def _headers(t: Target, op: Operation) -> dict[str, str]:
    if op.path.startswith("/families/"):
        return t.a.headers
    return {} if is_public(op.method, op.path) else t.staff


def _request(t: Target, op: Operation, edge: Any) -> tuple[str, dict[str, str]]:
    """The path with household A's family id and `edge` in every other parameter."""
    path, query = op.path.replace("{family_id}", str(t.a.family_id)), {}
    for p in op.spec.get("parameters", []):
        if p["in"] == "path" and p["name"] != "family_id":
            path = path.replace("{" + p["name"] + "}", quote(str(edge), safe=""))
        elif p["in"] == "query":
            query[p["name"]] = str(edge)
    return path, query


async def test_edge_values_never_cause_a_server_error(any_db_target: Target) -> None:
    t = any_db_target
    problems: list[str] = []
    known_failing: set[str] = set()
    for op in operations(t.spec()):
        if not any(p["in"] in ("path", "query") and p["name"] != "family_id"
                   for p in op.spec.get("parameters", [])):
            continue
        for label, edge in EDGES.items():
            path, query = _request(t, op, edge)
            try:
                r = await t.client.request(op.method.upper(), path, params=query,
                                           headers=_headers(t, op),
                                           json={} if op.has_body else None)
            except httpx.InvalidURL:
                continue  # the client itself refuses to send it
            documented = {int(c) for c in op.spec["responses"] if c.isdigit()}
            found = None
            if r.status_code >= 500 and r.status_code != 503:
                found = f"{op.key} ({label}) : {r.status_code} — {r.text[:200]}"
            elif r.status_code not in documented:
                found = f"{op.key} ({label}) : {r.status_code} non documenté — {r.text[:200]}"
            elif r.status_code >= 400 and not is_problem(r):
                found = f"{op.key} ({label}) : {r.status_code} sans problem+json"
            if found and known_bug(op.key, t.database):
                known_failing.add(op.key)
            elif found:
                problems.append(found)
    here = {op.key for op in operations(t.spec())}
    fixed = [key for key in KNOWN_BUGS
             if (key in here or key.removesuffix(f" [{t.database}]") in here)
             and key.removesuffix(f" [{t.database}]") not in known_failing]
    problems += [f"{key} : corrigé, à retirer de support.KNOWN_BUGS" for key in fixed]
    assert problems == [], "\n".join(problems)
