"""The back-office's sample answers are ones the REAL services could send.

The real apps are built in-process (`create_app`, no server, no database opened) and their
OpenAPI documents read with `app.openapi()`. For every route the samples stand for, the route
and method must exist there and the sample must validate against the declared response schema
(strictly: no undeclared property). Booking's routes are checked one test per route the fake
implements (a route missing from booking's OpenAPI fails its own named test), and so are the
request bodies the back-office's pages send there. Every sample is also checked against its
contract model (`marelle_contracts.http`), which must be the one the route declares; `UNTYPED`
lists exactly the routes that declare none (today: none), so that a route losing its model is
caught.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from marelle_chassis.catalogue_copy import PeriodCopy
from marelle_contracts.http import booking as B
from marelle_contracts.http import enrolment as E
from marelle_contracts.http import identity as I
from marelle_contracts.http import platform as P
from marelle_contracts.http.conformance import (
    check_answer,
    check_model,
    check_request,
    find_route,
)

from . import booking_sample as bs
from . import enrolment_sample as es
from .conftest import csrf_of, sign_in
from . import sample as s
from .test_admin import AUDIT, NO_PARKED, PARKED, PARKED_BILLING, RETRIED
from .test_bookings import ROLL_CALL_API, calendar_form, with_booking


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


# --- booking: per route the fake implements (booking's routes are written alongside) -------------

PID = es.PERIOD_ID
# (method, path, status, sample answer, its model); a None model: no JSON body (204, SVG, CSV).
BOOKING_ANSWERS: list[tuple[str, str, int, Any, type[BaseModel] | None]] = [
    ("GET", f"/staff/periods/{PID}", 200, bs.PERIOD, PeriodCopy),
    ("GET", f"/staff/calendars/{PID}", 200, bs.CALENDAR, B.CalendarSettings),
    ("PUT", f"/staff/calendars/{PID}", 200, bs.CALENDAR, B.CalendarSettings),
    ("GET", f"/staff/calendars/{PID}/days/{bs.DAY}/waiting-list", 200, bs.DAY_WAITING,
     B.DayWaitingList),
    ("POST", f"/staff/reservations/{bs.WAIT_ZOE}/promote", 204, None, None),
    ("POST", f"/staff/reservations/{bs.WAIT_ZOE}/cancel", 204, None, None),
    ("GET", f"/staff/calendars/{PID}/occupancy", 200, bs.OCCUPANCY, B.Occupancy),
    ("GET", f"/staff/calendars/{PID}/occupancy.csv", 200, None, None),
    ("GET", f"/staff/calendars/{PID}/occupancy.svg", 200, None, None),
    ("GET", f"/staff/calendars/{PID}/days/{bs.DAY}/children", 200, bs.DAY_LIST, B.DayList),
    ("GET", "/staff/shuttle-lines", 200, bs.SHUTTLE_LINES, B.ShuttleLines),
    ("POST", "/staff/shuttle-lines", 201, bs.CREATED, B.Created),
    ("PUT", f"/staff/shuttle-lines/{bs.LINE_ID}", 204, None, None),
    ("GET", ROLL_CALL_API, 200, bs.ROLL_CALL, B.RollCall),
    ("GET", ROLL_CALL_API, 200, bs.LOCKED_ROLL_CALL, B.RollCall),
    ("PUT", ROLL_CALL_API, 200, bs.ROLL_CALL, B.RollCall),
    ("POST", ROLL_CALL_API + "/lock", 200, bs.LOCKED_ROLL_CALL, B.RollCall),
    ("POST", ROLL_CALL_API + "/unlock", 200, bs.ROLL_CALL, B.RollCall),
]


def _present(spec: dict[str, Any], method: str, path: str) -> str:
    """The route's template; a route booking does not declare fails the test that needs it."""
    route = find_route(spec, method, path)
    assert route is not None, f"{method} {path}: absent de l'OpenAPI de booking"
    return route


@pytest.mark.parametrize("method,path,status,body,model", BOOKING_ANSWERS,
                         ids=[f"{m} {p} {s}" for m, p, s, *_ in BOOKING_ANSWERS])
def test_each_booking_answer_of_the_fake_is_one_booking_could_send(openapi, method, path,
                                                                   status, body, model):
    spec = openapi["booking"]
    _present(spec, method, path)
    check = check_answer(spec, method, path, status, body, json_body=model is not None)
    assert not check.errors, "\n".join(check.errors)
    if model is not None:
        assert not check_model(model, body)
        assert check.declared_model == model.__name__, (path, check.declared_model)


async def _calendar(client, fake):
    path = f"/reservations/periodes/{PID}/calendrier"
    fake.on("PUT", "booking", f"/staff/calendars/{PID}", bs.CALENDAR)
    await client.post(path, data=calendar_form(await csrf_of(client, path)))


async def _new_line(client, fake):
    path = f"/reservations/periodes/{PID}/navettes/nouvelle"
    fake.on("POST", "booking", "/staff/shuttle-lines", httpx.Response(201, json=bs.CREATED))
    await client.post(path, data={"csrf": await csrf_of(client, path), "nom": "Ligne 2",
                                  "places": "25", "arrets": "2", "arret-0-nom": "Gare",
                                  "arret-0-matin": "07:50", "arret-1-nom": "Centre",
                                  "arret-1-soir": "18:10"})


async def _edit_line(client, fake):
    path = f"/reservations/periodes/{PID}/navettes/{bs.LINE_ID}/modifier"
    fake.on("PUT", "booking", f"/staff/shuttle-lines/{bs.LINE_ID}", httpx.Response(204))
    await client.post(path, data={"csrf": await csrf_of(client, path), "nom": "Ligne 1",
                                  "places": "30", "arrets": "1", "arret-0-nom": "Mairie",
                                  "arret-0-matin": "08:05", "arret-0-soir": "17:40"})


_ROLL_CALL_PAGE = f"/reservations/periodes/{PID}/groupes/{es.GROUP_ID}/jours/{bs.DAY}/pointage"


async def _roll_call(client, fake):
    fake.on("PUT", "booking", ROLL_CALL_API, bs.ROLL_CALL)
    await client.post(_ROLL_CALL_PAGE, data={
        "csrf": await csrf_of(client, _ROLL_CALL_PAGE), "action": "enregistrer",
        f"statut-{bs.CHILD_LEA}": "present", f"statut-{bs.CHILD_HUGO}": "absent_justifie",
        f"motif-{bs.CHILD_HUGO}": "maladie", "ajout": es.REG_ZOE.replace("e", "c", 1)})


async def _unlock(client, fake):
    fake.on("GET", "booking", ROLL_CALL_API, bs.LOCKED_ROLL_CALL)
    fake.on("POST", "booking", ROLL_CALL_API + "/unlock", bs.ROLL_CALL)
    await client.post(_ROLL_CALL_PAGE, data={
        "csrf": await csrf_of(client, _ROLL_CALL_PAGE), "action": "deverrouiller",
        "motif-deverrouillage": "Oubli de Zoé"})


# (method, booking path, the page action that sends its body)
BOOKING_BODIES = [
    ("PUT", f"/staff/calendars/{PID}", _calendar),
    ("POST", "/staff/shuttle-lines", _new_line),
    ("PUT", f"/staff/shuttle-lines/{bs.LINE_ID}", _edit_line),
    ("PUT", ROLL_CALL_API, _roll_call),
    ("POST", ROLL_CALL_API + "/unlock", _unlock),
]


@pytest.mark.parametrize("method,path,send", BOOKING_BODIES,
                         ids=[f"{m} {p}" for m, p, _ in BOOKING_BODIES])
async def test_each_body_the_backoffice_sends_is_one_booking_accepts(openapi, backoffice, fake,
                                                                     method, path, send):
    """The bodies are captured from the pages themselves, then checked against the request
    schema booking's real OpenAPI declares for the route."""
    spec = openapi["booking"]
    with_booking(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        await send(client, fake)
    [request] = fake.sent(method, "booking", path)
    _present(spec, method, path)
    errors = check_request(spec, method, path, json.loads(request.content))
    assert not errors, "\n".join(errors)

