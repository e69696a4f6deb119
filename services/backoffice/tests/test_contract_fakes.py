"""The back-office's sample answers are ones the REAL services could send.

The real apps are built in-process (`create_app`, no server, no database opened) and their
OpenAPI documents read with `app.openapi()`. For every route the samples stand for, the route
and method must exist there and the sample must validate against the declared response schema
(strictly: no undeclared property). Every sample is also checked against its contract model
(`marelle_contracts.http`), which must be the one the route declares; `UNTYPED` lists exactly
the routes that declare none (today: none), so that a route losing its model is caught.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from marelle_contracts.http import enrolment as E
from marelle_contracts.http import identity as I
from marelle_contracts.http import platform as P
from marelle_contracts.http.conformance import check_answer, check_model

from . import enrolment_sample as es
from .conftest import sign_in
from . import sample as s
from .test_admin import AUDIT, NO_PARKED, PARKED, PARKED_BILLING, RETRIED


SERVICES = ("identity", "enrolment", "booking", "billing")


def service_openapi(service: str) -> dict[str, Any]:
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
    return {name: service_openapi(name) for name in SERVICES}


# (service, method, path, sample answer, the contract model of that answer)
SAMPLES: list[tuple[str, str, str, Any, type[BaseModel]]] = [
    ("identity", "GET", "/staff/families", s.SEARCH, I.FamilySummaries),
    ("identity", "GET", f"/staff/families/{s.FAMILY_ID}", s.FAMILY, I.StaffFamilyDetail),
    ("identity", "GET", "/staff/contact-change-requests", s.PENDING, I.PendingContactChanges),
    ("identity", "GET", "/staff/audit", AUDIT, I.AuditLog),
    ("enrolment", "GET", "/staff/catalogue", es.CATALOGUE, E.Catalogue),
    ("enrolment", "GET", "/staff/registrations", es.QUEUE, E.StaffRegistrations),
    ("enrolment", "GET", f"/staff/groups/{es.FULL_GROUP_ID}/waiting-list", es.WAITING,
     E.WaitingList),
    ("enrolment", "GET", "/staff/attestation-requests", es.ATTESTATIONS, E.StaffAttestations),
    ("enrolment", "GET", "/staff/attestation-requests", es.ISSUED, E.StaffAttestations),
    # Every service's outbox relay (the chassis mounts the same router on each).
    *[(service, "GET", "/staff/outbox/parked", body, P.ParkedRows)
      for service in SERVICES for body in (PARKED, PARKED_BILLING, NO_PARKED)],
    *[(service, "POST", "/staff/outbox/parked/42/retry", RETRIED, P.ParkedRow)
      for service in SERVICES],
]

UNTYPED: set[tuple[str, str, str]] = set()


def test_every_sample_is_an_answer_the_real_service_could_send(openapi):
    problems: list[str] = []
    untyped = set()
    for service, method, path, body, model in SAMPLES:
        check = check_answer(openapi[service], method, path, 200, body)
        problems += [f"[{service}] {e}" for e in check.errors]
        problems += [f"[{service}] {method} {path}: {e}" for e in check_model(model, body)]
        if check.route is None:
            continue
        if check.typed:
            assert check.declared_model == model.__name__, (path, check.declared_model)
        else:
            untyped.add((service, method, check.route))
    assert not problems, "\n".join(problems)
    assert untyped == UNTYPED, (
        f"now typed (remove from UNTYPED): {sorted(UNTYPED - untyped)}; "
        f"lost their response model: {sorted(untyped - UNTYPED)}")


async def test_an_answer_of_another_shape_is_an_outage_not_a_guess(backoffice, fake):
    """The clients read the answers with the services' models: a catalogue whose ids are not
    ids is « service unavailable », never a half-rendered page."""
    broken = {"facilities": [{**es.CATALOGUE["facilities"][0], "id": "pas-un-identifiant"}]}
    fake.on("GET", "enrolment", "/staff/catalogue", broken)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/catalogue")
    assert response.status_code == 503
