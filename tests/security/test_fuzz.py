"""schemathesis against each service's own OpenAPI document: a bounded number of generated
requests per operation (valid and invalid), as staff on staff operations and as household A's
parent on its own (its real family id in the path, so the requests reach the use cases). No
answer may be a 5xx other than the documented 503, and every answer must conform to the
document (status, content type, schema).

Runs on its own event loop (hypothesis drives a synchronous test), with the service on a fresh
SQLite database; `MARELLE_FUZZ_EXAMPLES` raises the number of examples for a longer hunt."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.services import SERVICES, Target, open_service
from tests.security.support import KNOWN_BUGS, Household, is_public

EXAMPLES = int(os.environ.get("MARELLE_FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

pytestmark = pytest.mark.timeout(600)

# `support.KNOWN_BUGS` operations are not fuzzed until fixed (test_edges holds them strictly).


@asynccontextmanager
async def _gateway() -> AsyncIterator[Target]:
    """The gateway's JSON API, the services behind answering 404 (test_gateway_matrix's fake):
    what the gateway itself does with any input (validation, relaying, errors)."""
    from marelle_chassis.openapi import document_api
    from marelle_gateway.config import GatewaySettings
    from marelle_gateway.main import create_app
    from tests.security.test_gateway_matrix import Upstreams

    app = create_app(GatewaySettings(), transport=httpx.MockTransport(Upstreams()))
    document_api(app, relayed=True, prefix="/api/v1")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://portail.test") as c:
            household = Household(uuid.uuid4())
            # Every /api/v1 operation is the parent's: the parent token everywhere.
            yield Target("gateway", app, c, household, household, household.headers)


@pytest.mark.parametrize("name", [*SERVICES, "gateway"])
def test_generated_requests_get_documented_answers_and_never_a_5xx(name: str, tmp_path) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        target = loop.run_until_complete(stack.enter_async_context(
            _gateway() if name == "gateway" else
            open_service(name, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")))
        spec = target.spec()
        if name == "gateway":  # its API, not its pages
            spec = {**spec, "paths": {p: o for p, o in spec["paths"].items()
                                      if p.startswith("/api/v1")}}
        schema = schemathesis.openapi.from_dict(spec)
        failures: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            failures += _fuzz(loop, target, operation)
        assert failures == [], "\n\n".join(failures)
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()


def _fuzz(loop: asyncio.AbstractEventLoop, target: Any, operation: Any) -> list[str]:
    path, method = operation.path, operation.method.upper()
    if path.startswith("/sandbox-bank") or path.startswith("/payments/callback"):
        # The payment provider's pages and notifications: forms and signatures of the
        # provider's protocol, tested with the provider (billing's tests).
        return []
    if f"{method} {path}" in KNOWN_BUGS:
        return []
    failures: list[str] = []
    if path.startswith("/families/") or path.startswith("/api/v1/") and not is_public(method, path):
        headers = target.a.headers
    elif is_public(method, path):
        headers = {}
    else:
        headers = target.staff

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        if "family_id" in (case.path_parameters or {}):
            case.path_parameters["family_id"] = str(target.a.family_id)
        kwargs = case.as_transport_kwargs(base_url=str(target.client.base_url), headers=headers)
        kwargs.pop("follow_redirects", None)
        kwargs.pop("allow_redirects", None)
        response = loop.run_until_complete(target.client.request(**{
            k: v for k, v in kwargs.items()
            if k in ("method", "url", "headers", "params", "json", "content", "data", "files")
            and (v or k == "json" and "json" in kwargs)}))
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 (reported together)
            # Collected rather than raised: every operation gets its examples, and the report
            # lists every failing operation at once.
            why = [line.strip() for line in str(exc).splitlines() if line.strip()[:4] in
                   ("- ST", "Rece", "Docu")] or [str(exc)[:300]]
            failures.append(f"{method} {path} → {response.status_code} {response.text[:200]}\n"
                            f"  {case.as_curl_command()}\n  " + " | ".join(why))

    run()
    return failures[:2]
