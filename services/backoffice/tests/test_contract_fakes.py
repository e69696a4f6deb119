"""The back-office's sample answers are ones the REAL services could send.

The real apps are built in-process (`create_app`, no server, no database opened) and their
OpenAPI documents read with `app.openapi()`. For every route the samples stand for, the route
and method must exist there and the sample must validate against the declared response schema
(strictly: no undeclared property). Booking's routes are checked one test per route the fake
implements (a route missing from booking's OpenAPI fails its own named test), and so are the
request bodies the back-office's pages send there; billing's likewise (`billing_fake.py`).
Every sample is also checked against its contract model (`marelle_contracts.http`), which must be
the one the route declares; `UNTYPED` lists exactly the routes that declare none (today: none), so
that a route losing its model is caught.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from marelle_chassis.audit import AuditEntries
from marelle_chassis.catalogue_copy import PeriodCopy
from marelle_contracts.http import billing as BL
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

from marelle_backoffice import identity as bo_identity

from . import billing_fake as bf
from . import booking_sample as bs
from . import enrolment_sample as es
from .conftest import csrf_of, sign_in
from . import sample as s
from .test_admin import AUDIT, NO_PARKED, PARKED, PARKED_BILLING, RETRIED
from .test_audit import SERVICE_AUDIT
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
    ("identity", "GET", "/staff/accounts", s.STAFF_ACCOUNTS, bo_identity.StaffAccountsOut),
    ("enrolment", "GET", "/staff/catalogue", es.CATALOGUE, E.Catalogue),
    ("enrolment", "GET", "/staff/registrations", es.QUEUE, E.StaffRegistrations),
    ("enrolment", "GET", f"/staff/groups/{es.FULL_GROUP_ID}/waiting-list", es.WAITING,
     E.WaitingList),
    ("enrolment", "GET", "/staff/attestation-requests", es.ATTESTATIONS, E.StaffAttestations),
    ("enrolment", "GET", "/staff/attestation-requests", es.ISSUED, E.StaffAttestations),
    ("enrolment", "GET", "/staff/classes", es.CLASSES, E.SchoolClasses),
    ("enrolment", "GET", "/staff/classes/children", es.CLASS_CHILDREN, E.ClassChildren),
    ("enrolment", "GET", f"/staff/openings/{es.PERIOD_ID}", es.OPENING, E.OpeningStatus),
    # Each service's staff audit log (the chassis router, issue #11).
    *[(service, "GET", "/staff/audit", body, AuditEntries)
      for service, body in SERVICE_AUDIT.items()],
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



# --- identity: the staff accounts and staff login routes of `sample.StaffIdentity` --------------

_ACCOUNT = f"/staff/accounts/{s.NEWCOMER_ID}"
# (method, path, status, sample answer, its model); a None model: no JSON body (204, problems).
# Every status the fake answers, errors included: identity must declare each.
IDENTITY_ANSWERS: list[tuple[str, str, int, Any, type[BaseModel] | None]] = [
    ("GET", "/staff/accounts", 200, s.STAFF_ACCOUNTS, bo_identity.StaffAccountsOut),
    *[(method, f"{_ACCOUNT}/{action}", status, None, None)
      for method, action in (("POST", "disable"), ("POST", "enable"), ("PUT", "roles"))
      for status in (204, 404, 409, 422)],
    ("POST", "/auth/staff/token", 200, {"access_token": "x", "refresh_token": None,
                                        "token_type": "Bearer", "expires_in": 900}, I.TokensOut),
    ("POST", "/auth/staff/token", 401, None, None),
    ("POST", "/auth/staff/password", 204, None, None),
    ("POST", "/auth/staff/password", 400, None, None),
    ("POST", "/auth/staff/password", 422, None, None),
    # Not yet declared by identity's OpenAPI though identity answers them (to add when it does):
    # 403 of `/auth/staff/token` (disabled, one-time password) and of `/auth/staff/password`.
]


@pytest.mark.parametrize("method,path,status,body,model", IDENTITY_ANSWERS,
                         ids=[f"{m} {p} {s}" for m, p, s, *_ in IDENTITY_ANSWERS])
def test_each_identity_answer_of_the_fake_is_one_identity_could_send(openapi, method, path,
                                                                     status, body, model):
    spec = openapi["identity"]
    assert find_route(spec, method, path), f"{method} {path}: absent de l'OpenAPI d'identity"
    check = check_answer(spec, method, path, status, body, json_body=model is not None)
    assert not check.errors, "\n".join(check.errors)
    if model is not None:
        assert not check_model(model, body)
        assert check.declared_model == model.__name__, (path, check.declared_model)


async def _set_roles(client):
    await client.post(f"/agents/{s.NEWCOMER_ID}/roles", data={
        "csrf": await csrf_of(client, "/agents"), "roles": ["administrator", "manager"]})


async def _staff_password(client):
    await client.post("/connexion/nouveau-mot-de-passe", data={
        "csrf": await csrf_of(client), "identifiant": "nouvel.agent@ville.test",
        "mot_de_passe_actuel": "provisoire-123", "nouveau_mot_de_passe": "un nouveau mot de passe",
        "confirmation": "un nouveau mot de passe"})


async def _staff_login(client):
    await client.post("/connexion", data={"csrf": await csrf_of(client),
                                          "identifiant": "camille@ville.test",
                                          "mot_de_passe": "le bon mot de passe"})


# (method, identity path, the page action that sends its body)
IDENTITY_BODIES = [
    ("PUT", f"{_ACCOUNT}/roles", _set_roles),
    ("POST", "/auth/staff/password", _staff_password),
    ("POST", "/auth/staff/token", _staff_login),
]


@pytest.mark.parametrize("method,path,send", IDENTITY_BODIES,
                         ids=[f"{m} {p}" for m, p, _ in IDENTITY_BODIES])
async def test_each_body_the_backoffice_sends_is_one_identity_accepts(openapi, backoffice, fake,
                                                                      method, path, send):
    spec = openapi["identity"]
    s.StaffIdentity(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=("administrator",), sub=s.ADMIN_ID)
        await send(client)
    [request] = fake.sent(method, "identity", path)
    assert find_route(spec, method, path), f"{method} {path}: absent de l'OpenAPI d'identity"
    errors = check_request(spec, method, path, json.loads(request.content))
    assert not errors, "\n".join(errors)


# --- billing: per route the fake implements (billing's routes are written alongside) -------------

FID = bf.FAMILY_ID
# (method, path, status, sample answer, its model); a None model: no JSON body (204, XML, CSV).
BILLING_ANSWERS: list[tuple[str, str, int, Any, type[BaseModel] | None]] = [
    ("GET", "/staff/regies", 200, bf.REGIES, BL.Regies),
    ("POST", "/staff/regies", 201, bf.REGIE, BL.Regie),
    ("PUT", "/staff/regies/ENF", 200, bf.REGIE, BL.Regie),
    ("GET", "/staff/brackets", 200, bf.BRACKETS, BL.Brackets),
    ("PUT", "/staff/brackets", 200, bf.BRACKETS, BL.Brackets),
    ("GET", "/staff/tariffs", 200, bf.TARIFFS, BL.Tariffs),
    ("POST", "/staff/tariffs", 201, bf.TARIFF, BL.Tariff),
    ("PUT", f"/staff/tariffs/{bf.TARIFF_ID}", 200, bf.TARIFF, BL.Tariff),
    ("DELETE", f"/staff/tariffs/{bf.TARIFF_ID}", 204, None, None),
    ("GET", f"/staff/families/{FID}/profile", 200, bf.PROFILE, BL.FinancialProfile),
    ("PUT", f"/staff/families/{FID}/profile", 200, bf.PROFILE, BL.FinancialProfile),
    ("GET", f"/staff/families/{FID}/account", 200, bf.ACCOUNT, BL.AccountSummary),
    ("GET", "/staff/invoices", 200, bf.FAMILY_INVOICES, BL.InvoiceList),
    ("GET", f"/staff/invoices/{bf.INVOICE_ID}", 200, bf.INVOICE_DETAIL, BL.InvoiceDetail),
    ("POST", "/staff/payments", 201, bf.RECEIPT, BL.PaymentView),
    ("GET", "/staff/payments", 200, bf.PAYMENTS, BL.PaymentList),
    ("GET", f"/staff/families/{FID}/mandates", 200, bf.MANDATES, BL.Mandates),
    ("POST", f"/staff/families/{FID}/mandates", 201, bf.MANDATE, BL.Mandate),
    ("DELETE", f"/staff/mandates/{bf.MANDATE_ID}", 204, None, None),
    ("POST", "/staff/runs", 202, bf.RUNNING, BL.Run),
    ("GET", "/staff/runs", 200, bf.RUNS, BL.Runs),
    ("GET", f"/staff/runs/{bf.RUN_ID}", 200, bf.RUNNING, BL.Run),
    ("GET", f"/staff/runs/{bf.DRAFT_RUN_ID}", 200, bf.DRAFT_RUN, BL.Run),
    ("GET", f"/staff/runs/{bf.DRAFT_RUN_ID}/invoices", 200, bf.RUN_INVOICES, BL.InvoiceList),
    ("POST", f"/staff/runs/{bf.DRAFT_RUN_ID}/recompute", 202, bf.DRAFT_RUN, BL.Run),
    ("POST", f"/staff/runs/{bf.DRAFT_RUN_ID}/finalise", 200, bf.FINAL_RUN, BL.Run),
    ("DELETE", f"/staff/runs/{bf.DRAFT_RUN_ID}", 204, None, None),
    ("POST", "/staff/sepa/collections", 201, bf.COLLECTION, BL.SepaCollection),
    ("GET", f"/staff/sepa/collections/{bf.COLLECTION_ID}/pain.008.xml", 200, None, None),
    ("POST", "/staff/imports/invoices", 200, bf.IMPORT_RESULT, BL.ImportResult),
    ("GET", "/staff/reports", 200, bf.REPORT, BL.Report),
    ("GET", "/staff/reports.csv", 200, None, None),
    ("GET", "/staff/exports/accounting.csv", 200, None, None),
]


def _billing_route(spec: dict[str, Any], method: str, path: str) -> str:
    """The route's template; a route billing does not declare fails the test that needs it."""
    route = find_route(spec, method, path)
    assert route is not None, f"{method} {path}: absent de l'OpenAPI de billing"
    return route


@pytest.mark.parametrize("method,path,status,body,model", BILLING_ANSWERS,
                         ids=[f"{m} {p} {s}" for m, p, s, *_ in BILLING_ANSWERS])
def test_each_billing_answer_of_the_fake_is_one_billing_could_send(openapi, method, path,
                                                                   status, body, model):
    spec = openapi["billing"]
    _billing_route(spec, method, path)
    check = check_answer(spec, method, path, status, body, json_body=model is not None)
    assert not check.errors, "\n".join(check.errors)
    if model is not None:
        assert not check_model(model, body)
        assert check.declared_model == model.__name__, (path, check.declared_model)


async def _post_billing(client, path: str, data: dict[str, Any], page: str | None = None):
    await client.post(path, data={"csrf": await csrf_of(client, page or path), **data})


_FINANCES = f"/familles/{FID}/finances"


async def _new_regie(client):
    await _post_billing(client, "/facturation/regies/nouvelle", {
        "code": "CANT", "nom": "Régie cantine", "prefixe-facture": "C", "prefixe-avoir": "CA",
        "delai": "20", "paiement-partiel": "oui", "backend": "dummy", "options": "a=b",
        "creancier-nom": "Ville", "creancier-iban": "FR7630006000011234567890189",
        "creancier-bic": "AGRIFRPP", "creancier-ics": "FR12ZZZ123456"})


async def _edit_regie(client):
    await _post_billing(client, "/facturation/regies/ENF/modifier", {
        "nom": "Régie enfance", "prefixe-facture": "F", "prefixe-avoir": "AV", "delai": "30",
        "backend": "dummy"})


async def _brackets(client):
    await _post_billing(client, "/facturation/tranches", {
        "lignes": "2", "tranche-0-code": "A", "tranche-0-libelle": "Tranche A",
        "tranche-0-min": "0", "tranche-0-max": "650", "tranche-1-code": "B",
        "tranche-1-libelle": "Tranche B", "tranche-1-min": "651"})


_TARIFF_FORM = {"regie": "ENF", "activite": "AUTOMNE", "unite": "repas", "libelle": "Repas",
                "du": "01/09/2026", "au": "31/08/2027", "repas": "oui", "prix-A-tous": "1,20",
                "prix-B-resident": "2,50", "prix-defaut-non_resident": "5", "presence": "oui",
                "majoration": "1,50", "absence": "50"}


async def _new_tariff(client):
    await _post_billing(client, "/facturation/tarifs/nouveau", _TARIFF_FORM)


async def _edit_tariff(client):
    await _post_billing(client, f"/facturation/tarifs/{bf.TARIFF_ID}/modifier", _TARIFF_FORM)


async def _profile(client):
    await _post_billing(client, f"{_FINANCES}/profil", {
        "profil-qf": "712", "profil-date": "03/02/2026", "profil-source": "caf",
        "profil-revenus": "28 500", "profil-annee": "2025", "profil-enfants": "2",
        "profil-resident": "oui", "profil-motif": "Attestation CAF"}, _FINANCES)


async def _payment(client):
    await _post_billing(client, f"{_FINANCES}/paiement", {
        "paiement-regie": "ENF", "paiement-moyen": "cheque", "paiement-montant": "40",
        "paiement-date": "05/11/2026", "paiement-cheque-emetteur": "Claire Martin",
        "paiement-cheque-banque": "Banque Postale", "paiement-cheque-numero": "0001234",
        f"imputation-{bf.INVOICE_ID}": "15,50"}, _FINANCES)


async def _mandate(client):
    await _post_billing(client, f"{_FINANCES}/mandats", {
        "mandat-regie": "ENF", "mandat-reference": "MARELLE-ENF-0002",
        "mandat-titulaire": "Claire Martin", "mandat-iban": "FR7630006000011234567890189",
        "mandat-bic": "AGRIFRPP", "mandat-date": "01/09/2026"}, _FINANCES)


async def _run(client):
    await _post_billing(client, "/facturation/facturations", {"regie": "ENF", "mois": "2026-10"})


async def _sepa(client):
    await _post_billing(client, "/facturation/prelevements", {"regie": "ENF",
                                                              "date": "05/12/2026"})


async def _import(client):
    await _post_billing(client, "/facturation/reprise", {
        "regie": "ENF", "csv": f"famille;numero;date;montant\n{FID};ANC-41;30/06/2026;40,00\n"})


# (method, billing path, the page action that sends its body)
BILLING_BODIES = [
    ("POST", "/staff/regies", _new_regie),
    ("PUT", "/staff/regies/ENF", _edit_regie),
    ("PUT", "/staff/brackets", _brackets),
    ("POST", "/staff/tariffs", _new_tariff),
    ("PUT", f"/staff/tariffs/{bf.TARIFF_ID}", _edit_tariff),
    ("PUT", f"/staff/families/{FID}/profile", _profile),
    ("POST", "/staff/payments", _payment),
    ("POST", f"/staff/families/{FID}/mandates", _mandate),
    ("POST", "/staff/runs", _run),
    ("POST", "/staff/sepa/collections", _sepa),
    ("POST", "/staff/imports/invoices", _import),
]


@pytest.mark.parametrize("method,path,send", BILLING_BODIES,
                         ids=[f"{m} {p}" for m, p, _ in BILLING_BODIES])
async def test_each_body_the_backoffice_sends_is_one_billing_accepts(openapi, backoffice, fake,
                                                                     method, path, send):
    """The bodies are captured from the pages themselves, then checked against the request
    schema billing's real OpenAPI declares for the route."""
    spec = openapi["billing"]
    bf.with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        await send(client)
    [request] = fake.sent(method, "billing", path)
    _billing_route(spec, method, path)
    errors = check_request(spec, method, path, json.loads(request.content))
    assert not errors, "\n".join(errors)


# --- identity: the staff's TOTP second factor (`test_totp.IdentityTotp`) ------------------------

import pyotp  # noqa: E402

from . import test_totp as totp_fake  # noqa: E402

TOTP_ANSWERS: list[tuple[str, str, int, Any, type[BaseModel] | None]] = [
    ("GET", "/auth/staff/totp", 200, {"enabled": False, "pending": True, "required": False},
     bo_identity.TotpStatusOut),
    ("POST", "/auth/staff/totp/setup", 200,
     {"secret": "JBSWY3DPEHPK3PXP",
      "otpauth_uri": "otpauth://totp/Marelle:camille%40ville.test?secret=JBSWY3DPEHPK3PXP"
                     "&issuer=Marelle"}, bo_identity.TotpSetupOut),
    ("POST", "/auth/staff/totp/setup", 409, None, None),
    ("POST", "/auth/staff/totp/confirm", 204, None, None),
    ("POST", "/auth/staff/totp/confirm", 422, None, None),
    ("DELETE", "/auth/staff/totp", 204, None, None),
    ("DELETE", "/auth/staff/totp", 422, None, None),
    ("POST", "/auth/staff/token", 401, None, None),  # raison code_totp_requis
]


@pytest.mark.parametrize("method,path,status,body,model", TOTP_ANSWERS,
                         ids=[f"{m} {p} {s}" for m, p, s, *_ in TOTP_ANSWERS])
def test_each_totp_answer_of_the_fake_is_one_identity_could_send(openapi, method, path, status,
                                                                 body, model):
    test_each_identity_answer_of_the_fake_is_one_identity_could_send(openapi, method, path,
                                                                     status, body, model)


async def _totp_login(client, fake):
    fake.secret = pyotp.random_base32()
    await client.post("/connexion", data={"csrf": await csrf_of(client),
                                          "identifiant": "camille@ville.test",
                                          "mot_de_passe": totp_fake.PASSWORD,
                                          "code_totp": pyotp.TOTP(fake.secret).now()})


async def _totp_confirm(client, fake):
    csrf = await csrf_of(client, "/double-authentification")
    await client.post("/double-authentification/configurer", data={"csrf": csrf})
    await client.post("/double-authentification/confirmer", data={
        "csrf": csrf, "code": pyotp.TOTP(fake.pending).now()})


async def _totp_remove(client, fake):
    fake.secret = pyotp.random_base32()
    await client.post("/double-authentification/retirer", data={
        "csrf": await csrf_of(client, "/double-authentification"),
        "code": pyotp.TOTP(fake.secret).now()})


TOTP_BODIES = [
    ("POST", "/auth/staff/token", _totp_login),
    ("POST", "/auth/staff/totp/confirm", _totp_confirm),
    ("DELETE", "/auth/staff/totp", _totp_remove),
]


@pytest.mark.parametrize("method,path,send", TOTP_BODIES,
                         ids=[f"{m} {p}" for m, p, _ in TOTP_BODIES])
async def test_each_totp_body_the_backoffice_sends_is_one_identity_accepts(openapi, backoffice,
                                                                           fake, method, path,
                                                                           send):
    spec = openapi["identity"]
    identity = totp_fake.IdentityTotp(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        await send(client, identity)
    [request] = fake.sent(method, "identity", path)
    assert find_route(spec, method, path), f"{method} {path}: absent de l'OpenAPI d'identity"
    errors = check_request(spec, method, path, json.loads(request.content))
    assert not errors, "\n".join(errors)
