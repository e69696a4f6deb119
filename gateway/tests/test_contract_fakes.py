"""The gateway's fakes of identity, enrolment and booking answer what the REAL services would,
and what the gateway sends booking is what booking accepts.

The real apps are built in-process (their `create_app`, no server, no database opened) and their
OpenAPI documents read with `app.openapi()`. For every route a fake implements, the route and
method must exist there, and each fake answer must validate against the response schema the
document declares for it (strictly: no undeclared property). Where the service declares no
response model (an untyped `dict` answer), the answer is checked against the contract model the
service is meant to declare (`marelle_contracts.http`), and the route is listed in `UNTYPED`:
the list must stay exact, so that a route gaining its model is then checked against it.

booking is checked route by route (`BOOKING_CONTRACT`, one test each): the gateway's pages and
JSON API are driven against `booking_fake.FakeBooking`, and every exchange with booking is
checked — the fake's answer against the real document's response, the body the gateway
forwarded against its request schema. A route missing from booking's document fails its own
test, by name. billing is checked the same way (`BILLING_CONTRACT`, `billing_fake.FakeBilling`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from marelle_contracts.dashboard import RequestItems
from marelle_contracts.http import billing as M
from marelle_contracts.http import booking as B
from marelle_contracts.http import enrolment as E
from marelle_contracts.http import queue as Q
from marelle_contracts.http import identity as I
from marelle_contracts.http.conformance import (
    check_answer,
    check_model,
    check_request,
    find_route,
)

from gateway.tests import billing_fake
from gateway.tests import booking_fake as bf
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
    ("enrolment", "GET", "/families/{family_id}/openings"): E.Openings,
    ("enrolment", "POST", "/families/{family_id}/tickets"): E.Ticket,
    ("enrolment", "GET", "/families/{family_id}/tickets"): E.Tickets,
    ("enrolment", "GET", "/families/{family_id}/tickets/{ticket_id}"): E.Ticket,
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
    ticket_body = E.RegistrationTicketIn(
        group_id=ef.GROUP_68, child_ids=[ef.LEA, ef.TOM]).model_dump(mode="json")
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
        ("GET", f"{family}/openings", None),
        ("POST", f"{family}/tickets", ticket_body),
        ("GET", f"{family}/tickets", None),
    ]
    for method, path, body in calls:
        request = httpx.Request(method, "http://127.0.0.1:8102" + path,
                                headers={**BEARER, "Idempotency-Key": "cle-de-test-1"},
                                json=body)
        yield "enrolment", method, path, fake(request), body
    for ticket_id in list(fake.tickets):  # queued, then decided
        for _ in range(2):
            path = f"{family}/tickets/{ticket_id}"
            request = httpx.Request("GET", "http://127.0.0.1:8102" + path, headers=BEARER)
            yield "enrolment", "GET", path, fake(request), None
    for (method, path), answer in recorder.routes.items():
        yield "identity", method, path, answer, None
    # conftest's FakeServices: identity's JWKS, every service's empty dashboard.
    from gateway.tests.conftest import JWKS  # noqa: PLC0415 (the fakes' own module)

    yield "identity", "GET", "/.well-known/jwks.json", httpx.Response(200, json=JWKS), None
    for service in ("identity", "billing"):
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


# --- booking, route by route -----------------------------------------------------------------

# Every booking route the gateway calls (and the fake implements), with its contract model.
BOOKING_CONTRACT: dict[tuple[str, str], type[BaseModel] | None] = {
    ("GET", "/families/{family_id}/registrations/{registration_id}/calendar"): B.CalendarMonth,
    ("POST", "/families/{family_id}/registrations/{registration_id}/reservations"):
        B.ReservationResults,
    ("POST", "/families/{family_id}/registrations/{registration_id}/typical-week"):
        B.ReservationResults,
    ("POST", "/families/{family_id}/registrations/{registration_id}/group-assignments"):
        B.ReservationResults,
    ("GET", "/families/{family_id}/waiting-days"): B.WaitingDays,
    ("GET", "/families/{family_id}/registrations/{registration_id}/shuttle-lines"):
        B.ShuttleLines,
    ("GET", "/families/{family_id}/registrations/{registration_id}/shuttles"):
        B.ShuttleBookings,
    ("POST", "/families/{family_id}/registrations/{registration_id}/shuttles"):
        B.ShuttleResults,
    ("GET", "/families/{family_id}/children/{child_id}/reservations.ics"): None,
    ("POST", "/families/{family_id}/children/{child_id}/calendar-feed"): B.CalendarFeed,
    ("GET", "/calendar-feeds/{token}.ics"): None,
    ("GET", "/families/{family_id}/requests"): RequestItems,
    # The opening queue (docs/opening-rush.md).
    ("POST", "/families/{family_id}/tickets"): Q.Ticket,
    ("GET", "/families/{family_id}/tickets/{ticket_id}"): Q.Ticket,
}
_BOOKING_ROUTES: dict[str, Any] = {"paths": {}}
for _method, _template in BOOKING_CONTRACT:
    _BOOKING_ROUTES["paths"].setdefault(_template, {})[_method.lower()] = {}


def _drive_the_gateway() -> list[tuple[httpx.Request, httpx.Response]]:
    """Every exchange between the gateway and the fake booking while a parent uses the pages
    (« Mes réservations » and its forms, « Liste d'attente », « Mes navettes », the calendar,
    the dashboard) and the JSON API."""
    from gateway.tests.conftest import FakeServices, parent_token, signed_in, with_csrf
    from marelle_gateway.config import GatewaySettings
    from marelle_gateway.main import create_app

    exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    class Recording(FakeServices):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.port == 8103:
                exchanges.append((request, response))
            return response

    fake = Recording()
    ef.FakeEnrolment(fake)
    booking = bf.FakeBooking(fake)
    base = f"/mes-inscriptions/{ef.R_VALID}"
    api = f"/api/v1/inscriptions/{ef.R_VALID}"
    y = ef.YEAR

    async def session() -> None:
        app = create_app(GatewaySettings(), transport=httpx.MockTransport(fake))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                         base_url="http://portail.test") as client:
                signed_in(client, parent_token())
                for path in (f"{base}/reservations", f"{base}/reservations?mois={y}-11",
                             f"{base}/liste-attente", f"{base}/navettes",
                             f"{base}/calendrier.ics", "/tableau-de-bord"):
                    assert (await client.get(path)).status_code == 200, path
                for path, data in (
                        (f"{base}/reservations", {
                            "cases": [f"{bf.OPEN[5]}|soir", f"{bf.FULL_DAY}|journee"],
                            "initial": [f"{bf.GROUP_FULL}|matin"], "groupe": ef.GROUP_911}),
                        (f"{base}/reservations/groupes", {
                            "jours": [str(bf.SHUTTLE_FULL)], "groupe": ef.GROUP_911}),
                        (f"{base}/reservations/semaine-type", {
                            "debut": str(bf.START), "fin": str(bf.END),
                            "jour-1": ["journee"], "jour-3": ["matin", "repas"],
                            "groupe": ef.GROUP_911}),
                        (f"{base}/navettes", {"arret": bf.STOP_TOWN_HALL, "sens": ["aller"],
                                              "jours": [str(bf.SHUTTLE_FULL)],
                                              "action": "annuler"}),
                        (f"{base}/abonnement", {})):
                    response = await client.post(path, data=with_csrf(client, data))
                    assert response.status_code == 200, (path, response.status_code)
                assert (await client.get(f"/calendrier/{booking.feed_token}.ics")
                        ).status_code == 200
                bearer = {"authorization": f"Bearer {parent_token()}"}
                for method, path, body in (
                        ("GET", f"{api}/calendrier?month={y}-10", None),
                        ("POST", f"{api}/reservations", {"changes": [
                            {"day": str(bf.OPEN[6]), "unit": "repas", "action": "reserver"}]}),
                        ("POST", f"{api}/semaine-type", {
                            "start": str(bf.START), "end": str(bf.END),
                            "days": [{"weekday": 2, "units": ["soir"]}]}),
                        ("POST", f"{api}/groupes", {"group_id": ef.GROUP_68,
                                                    "days": [str(bf.SHUTTLE_FULL)]}),
                        ("GET", "/api/v1/liste-attente", None),
                        ("GET", f"{api}/navettes/lignes", None),
                        ("GET", f"{api}/navettes", None),
                        ("POST", f"{api}/navettes", {
                            "stop_id": bf.STOP_SCHOOL, "directions": ["aller", "retour"],
                            "days": [str(bf.SHUTTLE_FULL)]}),
                        ("GET", f"/api/v1/enfants/{ef.LEA}/reservations.ics", None),
                        ("POST", f"/api/v1/enfants/{ef.LEA}/abonnement-calendrier", None)):
                    response = await client.request(method, path, json=body, headers=bearer)
                    assert response.status_code in (200, 201), (path, response.text)
                ticket = await client.post(
                    "/api/v1/tickets/reservations",
                    headers={**bearer, "idempotency-key": "ouverture-contrat-1"},
                    json={"registration_id": ef.R_VALID,
                          "days": [{"date": str(bf.OPEN[5]), "unit": "soir"}]})
                assert ticket.status_code == 202, ticket.text
                for _ in range(2):  # queued, then decided
                    read = await client.get(f"/api/v1/tickets/reservations/{ticket.json()['id']}",
                                            headers=bearer)
                    assert read.status_code == 200, read.text

    asyncio.run(session())
    return exchanges


@pytest.fixture(scope="module")
def booking_exchanges() -> list[tuple[httpx.Request, httpx.Response]]:
    return _drive_the_gateway()


def _check_exchanges(spec: dict, exchanges: list[tuple[httpx.Request, httpx.Response]],
                     routes: Any, contract: dict, method: str, route: str,
                     service: str, not_json: str) -> None:
    """The gateway's calls of one route, and the fake's answers, against the real OpenAPI."""
    mine = [(request, response) for request, response in exchanges
            if request.method == method and find_route(routes, method, request.url.path) == route]
    assert mine, f"{method} {route}: never called by the gateway in this session"
    assert find_route(spec, method, route) == route, (
        f"{method} {route}: absent from {service}'s OpenAPI document (not written yet?)")
    model = contract[(method, route)]
    problems: list[str] = []
    for request, response in mine:
        path = request.url.path
        json_body = _is_json(response)
        body = response.json() if response.content and json_body else None
        check = check_answer(spec, method, path, response.status_code, body,
                             json_body=json_body)
        problems += check.errors
        if model is not None and body is not None:
            problems += check_model(model, body)
            if check.typed:
                assert check.declared_model == model.__name__, (route, check.declared_model)
        elif model is None:
            # Not JSON: the gateway relays only that content type.
            assert response.headers["content-type"].startswith(not_json), route
        if request.content:
            problems += [f"request {e}"
                         for e in check_request(spec, method, path, json.loads(request.content))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("method,route", sorted(BOOKING_CONTRACT),
                         ids=[f"{m} {r}" for m, r in sorted(BOOKING_CONTRACT)])
def test_booking_fake_and_gateway_bodies_match_the_real_booking(openapi, booking_exchanges,
                                                                method, route):
    _check_exchanges(openapi["booking"], booking_exchanges, _BOOKING_ROUTES, BOOKING_CONTRACT,
                     method, route, "booking", "text/calendar")


def test_every_booking_route_of_the_gateway_is_in_the_contract_table(booking_exchanges):
    called = {(r.method, find_route(_BOOKING_ROUTES, r.method, r.url.path))
              for r, _ in booking_exchanges}
    assert None not in {route for _, route in called}, called
    assert called == set(BOOKING_CONTRACT)


# --- billing, route by route -----------------------------------------------------------------

# Every billing route the gateway calls (and the fake implements), with its contract model
# (None: a PDF).
BILLING_CONTRACT: dict[tuple[str, str], type[BaseModel] | None] = {
    ("GET", "/families/{family_id}/account"): M.AccountSummary,
    ("GET", "/families/{family_id}/invoices"): M.InvoiceList,
    ("GET", "/families/{family_id}/invoices/{invoice_id}"): M.InvoiceDetail,
    ("GET", "/families/{family_id}/invoices/{invoice_id}/pdf"): None,
    ("GET", "/families/{family_id}/registrations"): M.RegistrationMoneyList,
    ("POST", "/families/{family_id}/invoices/{invoice_id}/payments"): M.OnlinePaymentStart,
    ("POST", "/families/{family_id}/payments/return"): M.PaymentView,
    ("GET", "/families/{family_id}/payments"): M.PaymentList,
    ("GET", "/families/{family_id}/payments/{payment_id}"): M.PaymentView,
    ("GET", "/families/{family_id}/payments/{payment_id}/receipt.pdf"): None,
    ("GET", "/families/{family_id}/fiscal-attestations"): M.FiscalAttestations,
    ("POST", "/families/{family_id}/fiscal-attestations"): M.FiscalAttestation,
    ("GET", "/families/{family_id}/fiscal-attestations/{attestation_id}/pdf"): None,
    ("GET", "/families/{family_id}/requests"): RequestItems,
}
_BILLING_ROUTES: dict[str, Any] = {"paths": {}}
for _method, _template in BILLING_CONTRACT:
    _BILLING_ROUTES["paths"].setdefault(_template, {})[_method.lower()] = {}


def _drive_the_gateway_over_billing() -> list[tuple[httpx.Request, httpx.Response]]:
    """Every exchange between the gateway and the fake billing while a parent uses « Mon
    compte » (summary, invoices, an invoice and its PDF, paying, the return, the receipt, the
    detail per registration, the fiscal attestation), the dashboard and the JSON API."""
    from gateway.tests.conftest import FakeServices, parent_token, signed_in, with_csrf
    from marelle_gateway.config import GatewaySettings
    from marelle_gateway.main import create_app

    exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    class Recording(FakeServices):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.port == 8104:
                exchanges.append((request, response))
            return response

    fake = Recording()
    ef.FakeEnrolment(fake)
    billing = billing_fake.FakeBilling(fake)
    invoice = f"/mon-compte/factures/{billing_fake.FIRST}"

    async def session() -> None:
        app = create_app(GatewaySettings(), transport=httpx.MockTransport(fake))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                         base_url="http://portail.test") as client:
                signed_in(client, parent_token())
                for path in ("/mon-compte", "/mon-compte/detail-par-facture", invoice,
                             f"{invoice}/facture.pdf", f"{invoice}/payer",
                             "/mon-compte/detail-par-inscription",
                             "/mon-compte/attestation-fiscale",
                             f"/mon-compte/attestations/{billing_fake.ISSUED_ATTESTATION}"
                             "/attestation.pdf", "/tableau-de-bord"):
                    assert (await client.get(path)).status_code == 200, path
                response = await client.post(f"{invoice}/payer",
                                             data=with_csrf(client, {"montant": "12,50"}))
                assert response.status_code == 200, response.status_code
                [payment_id] = billing.payments
                back = await client.get(f"/mon-compte/paiement/retour?reference={payment_id}"
                                        "&resultat=accepte", follow_redirects=True)
                assert back.status_code == 200
                receipt = await client.get(f"/mon-compte/paiements/{payment_id}/ticket.pdf")
                assert receipt.status_code == 200
                response = await client.post("/mon-compte/attestation-fiscale", data=with_csrf(
                    client, {"annee": str(billing_fake.LAST_YEAR)}), follow_redirects=True)
                assert response.status_code == 200
                bearer = {"authorization": f"Bearer {parent_token()}"}
                for method, path, body in (
                        ("GET", "/api/v1/account", None),
                        ("GET", "/api/v1/invoices", None),
                        ("GET", f"/api/v1/invoices/{billing_fake.SECOND}", None),
                        ("GET", f"/api/v1/invoices/{billing_fake.SECOND}/pdf", None),
                        ("GET", "/api/v1/registrations", None),
                        ("POST", f"/api/v1/invoices/{billing_fake.SECOND}/payments", {}),
                        ("POST", "/api/v1/payments/return", {
                            "query_string": f"reference={payment_id}&resultat=accepte"}),
                        ("GET", "/api/v1/payments", None),
                        ("GET", f"/api/v1/payments/{payment_id}", None),
                        ("GET", f"/api/v1/payments/{payment_id}/receipt.pdf", None),
                        ("GET", "/api/v1/fiscal-attestations", None),
                        ("POST", "/api/v1/fiscal-attestations",
                         {"year": billing_fake.LAST_YEAR}),
                        ("GET", f"/api/v1/fiscal-attestations/"
                                f"{billing_fake.ISSUED_ATTESTATION}/pdf", None)):
                    response = await client.request(method, path, json=body, headers=bearer)
                    assert response.status_code in (200, 201), (path, response.text)

    asyncio.run(session())
    return exchanges


@pytest.fixture(scope="module")
def billing_exchanges() -> list[tuple[httpx.Request, httpx.Response]]:
    return _drive_the_gateway_over_billing()


@pytest.mark.parametrize("method,route", sorted(BILLING_CONTRACT),
                         ids=[f"{m} {r}" for m, r in sorted(BILLING_CONTRACT)])
def test_billing_fake_and_gateway_bodies_match_the_real_billing(openapi, billing_exchanges,
                                                                method, route):
    _check_exchanges(openapi["billing"], billing_exchanges, _BILLING_ROUTES, BILLING_CONTRACT,
                     method, route, "billing", "application/pdf")


def test_every_billing_route_of_the_gateway_is_in_the_contract_table(billing_exchanges):
    called = {(r.method, find_route(_BILLING_ROUTES, r.method, r.url.path))
              for r, _ in billing_exchanges}
    assert None not in {route for _, route in called}, called
    assert called == set(BILLING_CONTRACT)
