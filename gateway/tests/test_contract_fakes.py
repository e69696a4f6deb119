"""The gateway's fakes of identity and enrolment answer what the REAL services would.

The real apps are built in-process (their `create_app`, no server, no database opened) and their
OpenAPI documents read with `app.openapi()`. For every route a fake implements, the route and
method must exist there, and each fake answer must validate against the response schema the
document declares for it (strictly: no undeclared property). Where the service declares no
response model (an untyped `dict` answer), the answer is checked against the contract model the
service is meant to declare (`marelle_contracts.http`), and the route is listed in `UNTYPED`:
the list must stay exact, so that a route gaining its model is then checked against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from marelle_contracts.dashboard import RequestItems
from marelle_contracts.http import enrolment as E
from marelle_contracts.http import identity as I
from marelle_contracts.http.conformance import check_answer, check_model, check_request

from gateway.tests import enrolment_fake as ef

BEARER = {"authorization": "Bearer jeton"}


def service_openapi(service: str) -> dict[str, Any]:
    """The real service's OpenAPI document, from its own app (its tests' settings)."""
    if service == "identity":
        from marelle_identity.config import IdentitySettings as Settings
        from marelle_identity.main import create_app
    elif service == "enrolment":
        from marelle_enrolment.config import EnrolmentSettings as Settings
        from marelle_enrolment.main import create_app
    elif service == "booking":
        from marelle_booking.config import BookingSettings as Settings
        from marelle_booking.main import create_app
    else:
        from marelle_billing.config import BillingSettings as Settings
        from marelle_billing.main import create_app
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", kafka_enabled=False))
    return app.openapi()


@pytest.fixture(scope="module")
def openapi() -> dict[str, dict[str, Any]]:
    return {name: service_openapi(name) for name in ("identity", "enrolment", "booking",
                                                     "billing")}


# The contract model of each route the fakes implement (None: no JSON body, or no model).
CONTRACT: dict[tuple[str, str, str], type[BaseModel] | None] = {
    ("identity", "GET", "/.well-known/jwks.json"): None,
    ("identity", "GET", "/families/{family_id}"): I.Family,
    ("identity", "GET", "/families/{family_id}/requests"): RequestItems,
    ("enrolment", "GET", "/families/{family_id}/children/{child_id}/offer"): E.Offer,
    ("enrolment", "GET", "/families/{family_id}/registrations"): E.Registrations,
    ("enrolment", "POST", "/families/{family_id}/registrations"): E.RegistrationResults,
    ("enrolment", "GET", "/families/{family_id}/registrations/{registration_id}"): E.Registration,
    ("enrolment", "POST", "/families/{family_id}/registrations/{registration_id}/cancel"): None,
    ("enrolment", "POST",
     "/families/{family_id}/registrations/{registration_id}/attestation-requests"): E.Attestation,
    ("enrolment", "GET", "/families/{family_id}/attestations"): E.Attestations,
    ("enrolment", "GET", "/families/{family_id}/attestations/{attestation_id}/pdf"): None,
    ("enrolment", "GET", "/families/{family_id}/requests"): RequestItems,
    ("booking", "GET", "/families/{family_id}/requests"): RequestItems,
    ("billing", "GET", "/families/{family_id}/requests"): RequestItems,
}

# Routes whose real answer is an undescribed object today (the endpoint returns a `dict`
# without `response_model`): their fakes are checked against CONTRACT's model instead.
UNTYPED = {
    ("identity", "GET", "/.well-known/jwks.json"),
}


class _Recorder:
    """Stands for `FakeServices`: what `FakeEnrolment` registers besides itself."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], httpx.Response] = {}
        self.handler: Any = None

    def serve(self, service: str, handler: Any) -> None:
        self.handler = handler

    def on(self, method: str, path: str, answer: httpx.Response, **_: Any) -> None:
        self.routes[(method, path)] = answer


def fake_answers() -> Iterator[tuple[str, str, str, httpx.Response, Any]]:
    """(service, method, concrete path, the fake's answer, the request body) for every route
    the gateway's fakes implement, as they answer the gateway's own calls."""
    recorder = _Recorder()
    fake = ef.FakeEnrolment(recorder)
    family = f"/families/{ef.FAMILY_ID}"
    request_body = E.RegistrationRequestIn(
        child_id=ef.LEA, group_id=ef.GROUP_68, typical_week=[E.WeekdayIn(weekday=3)],
        memo="Merci", duplicate_for=[ef.TOM]).model_dump(mode="json")
    calls = [
        ("GET", f"{family}/children/{ef.LEA}/offer", None),
        ("GET", f"{family}/registrations", None),
        ("GET", f"{family}/registrations/{ef.R_VALID}", None),
        ("POST", f"{family}/registrations", request_body),
        ("POST", f"{family}/registrations/{ef.R_VALID}/attestation-requests", None),
        ("GET", f"{family}/attestations", None),
        ("GET", f"{family}/attestations/{ef.ISSUED}/pdf", None),
        ("GET", f"{family}/requests", None),
        ("POST", f"{family}/registrations/{ef.R_PENDING}/cancel", None),
    ]
    for method, path, body in calls:
        request = httpx.Request(method, "http://127.0.0.1:8102" + path, headers=BEARER,
                                json=body)
        yield "enrolment", method, path, fake(request), body
    for (method, path), answer in recorder.routes.items():
        yield "identity", method, path, answer, None
    # conftest's FakeServices: identity's JWKS, every service's empty dashboard.
    from gateway.tests.conftest import JWKS  # noqa: PLC0415 (the fakes' own module)

    yield "identity", "GET", "/.well-known/jwks.json", httpx.Response(200, json=JWKS), None
    for service in ("identity", "booking", "billing"):
        yield service, "GET", f"{family}/requests", httpx.Response(200, json=ef.NO_REQUESTS), None


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def test_every_fake_answer_is_one_the_real_service_could_send(openapi):
    seen: set[tuple[str, str, str]] = set()
    untyped: set[tuple[str, str, str]] = set()
    problems: list[str] = []
    for service, method, path, response, sent in fake_answers():
        body = response.json() if response.content and _is_json(response) else None
        check = check_answer(openapi[service], method, path, response.status_code, body,
                             json_body=_is_json(response))
        problems += [f"[{service}] {e}" for e in check.errors]
        if check.route is None:
            continue
        key = (service, method, check.route)
        seen.add(key)
        assert key in CONTRACT, f"{key}: a fake route without its contract model in CONTRACT"
        model = CONTRACT[key]
        if body is not None and not check.typed:
            untyped.add(key)
        if model is not None and body is not None:
            problems += [f"[{service}] {method} {path}: {e}" for e in check_model(model, body)]
            if check.typed:
                # The service's declared model is the contract's (not a copy of its own).
                assert check.declared_model == model.__name__, (key, check.declared_model)
        if sent is not None:
            problems += [f"[{service}] request {e}"
                         for e in check_request(openapi[service], method, path, sent)]
    assert not problems, "\n".join(problems)
    assert seen == set(CONTRACT), f"routes not exercised: {set(CONTRACT) - seen}"
    assert untyped == UNTYPED, (
        f"now typed (remove from UNTYPED): {sorted(UNTYPED - untyped)}; "
        f"lost their response model: {sorted(untyped - UNTYPED)}")


def test_a_fake_that_differs_from_the_service_is_caught(openapi):
    """The check bites: a changed field, a missing one, an extra one, an unknown route."""
    spec = openapi["identity"]
    path = f"/families/{ef.FAMILY_ID}"
    assert not check_answer(spec, "GET", path, 200, ef.FAMILY).errors
    wrong_type = {**ef.FAMILY, "needs_review": "non"}
    missing = {k: v for k, v in ef.FAMILY.items() if k != "name"}
    extra = {**ef.FAMILY, "persons": [{**ef.FAMILY["persons"][0], "surnom": "Clo"}]}
    for body in (wrong_type, missing, extra):
        assert check_answer(spec, "GET", path, 200, body).errors, body
    assert check_answer(spec, "GET", "/families/x/photos", 200, {}).errors
    assert check_answer(spec, "DELETE", path, 200, {}).errors


def test_a_service_model_change_breaks_the_fakes(openapi):
    """What a service's response model change does to the check: its document says a field
    is now required (or of another type), and the fakes built from yesterday's model fail."""
    spec = json.loads(json.dumps(openapi["identity"]))
    family = spec["components"]["schemas"]["Family"]
    family["properties"]["code_foyer"] = {"type": "string"}
    family.setdefault("required", []).append("code_foyer")
    check = check_answer(spec, "GET", f"/families/{ef.FAMILY_ID}", 200, ef.FAMILY)
    assert any("code_foyer" in e for e in check.errors), check.errors
    spec = json.loads(json.dumps(openapi["identity"]))
    spec["components"]["schemas"]["Person"]["properties"]["age"] = {"type": "string"}
    assert check_answer(spec, "GET", f"/families/{ef.FAMILY_ID}", 200, ef.FAMILY).errors


def test_the_gateway_reads_the_services_models():
    """One definition: the gateway's models are the contract's classes, not copies."""
    from marelle_gateway import enrolment_models, models
    from marelle_gateway.api import registrations

    assert enrolment_models.Registration is E.Registration
    assert enrolment_models.Offer is E.Offer
    assert models.Family is I.Family and models.Contact is I.Contact
    assert issubclass(registrations.RegistrationIn, E.RegistrationRequestIn)
