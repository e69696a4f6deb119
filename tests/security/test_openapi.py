"""What each service's OpenAPI document says: the bearer scheme on protected operations,
problem+json for every error, the error statuses; and every request body bounded (strings,
lists, maps), service-local bodies included."""

from __future__ import annotations

from typing import Any

import pytest

from marelle_chassis.openapi import document_api
from marelle_contracts.http.conformance import unbounded
from tests.security.support import operations

SQLITE = "sqlite+aiosqlite:///:memory:"


def _apps() -> dict[str, Any]:
    from marelle_billing.config import BillingSettings
    from marelle_billing.main import create_app as billing
    from marelle_booking.config import BookingSettings
    from marelle_booking.main import create_app as booking
    from marelle_enrolment.config import EnrolmentSettings
    from marelle_enrolment.main import create_app as enrolment
    from marelle_identity.config import IdentitySettings
    from marelle_identity.main import create_app as identity

    return {
        "identity": identity(IdentitySettings(database_url=SQLITE, kafka_enabled=False)),
        "enrolment": enrolment(EnrolmentSettings(database_url=SQLITE, kafka_enabled=False)),
        "booking": booking(BookingSettings(database_url=SQLITE, kafka_enabled=False)),
        "billing": billing(BillingSettings(database_url=SQLITE, kafka_enabled=False)),
    }


def _gateway() -> Any:
    from marelle_gateway.main import create_app

    return create_app()


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return _apps()


def _documented(app: Any, **options: Any) -> dict[str, Any]:
    document_api(app, **options)  # a no-op when the app already does it
    return app.openapi()


def test_every_service_documents_its_api_itself(apps: dict[str, Any]) -> None:
    """`create_service_app` post-processes the document (no test helper needed)."""
    missing = [name for name, app in apps.items()
               if not getattr(app.state, "openapi_documented", False)]
    assert missing == [], "create_service_app must call marelle_chassis.openapi.document_api(app)"


@pytest.mark.parametrize("name", ["identity", "enrolment", "booking", "billing"])
def test_protected_operations_carry_the_bearer_scheme_and_problem_answers(
        apps: dict[str, Any], name: str) -> None:
    spec = _documented(apps[name])
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    ops = operations(spec)
    assert any(op.protected for op in ops)
    for op in ops:
        responses = op.spec["responses"]
        errors = {int(c) for c in responses if c.isdigit() and int(c) >= 400}
        assert 503 in errors, op.key
        for code in errors:
            content = responses[str(code)]["content"]
            assert list(content) == ["application/problem+json"], (op.key, code)
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}
        if op.protected:
            assert op.spec["security"] == [{"bearer": []}]
            assert 401 in errors, op.key
        else:
            assert op.spec["security"] == [], op.key
        if op.path.startswith("/staff/"):
            assert op.protected and 403 in errors, op.key
        if op.params:
            assert 404 in errors and 422 in errors, op.key
        if op.has_body:
            assert 422 in errors, op.key
        if op.path.startswith("/auth/token") or op.path == "/auth/staff/token":
            assert {401, 429} <= errors, op.key


def test_the_gateway_api_is_documented_too() -> None:
    app = _gateway()
    spec = _documented(app, relayed=True, prefix="/api/v1")
    ops = operations(spec, "/api/v1")
    assert ops
    protected = [op for op in ops if op.protected]
    assert protected
    for op in protected:
        errors = {int(c) for c in op.spec["responses"] if int(c) >= 400}
        assert {401, 403, 404, 502, 503} <= errors, op.key


@pytest.mark.parametrize("name", ["identity", "enrolment", "booking", "billing", "gateway"])
def test_every_request_body_is_bounded(apps: dict[str, Any], name: str) -> None:
    """The bodies a service really reads (its document's `requestBody`s), service-local models
    included: no unbounded string, list or map."""
    spec = (_gateway() if name == "gateway" else apps[name]).openapi()
    components = spec.get("components", {})
    problems = []
    for op in operations(spec):
        for media in op.spec.get("requestBody", {}).get("content", {}).values():
            problems += [f"{op.key}: {p}" for p in unbounded(media.get("schema", {}), components)]
    assert problems == []
