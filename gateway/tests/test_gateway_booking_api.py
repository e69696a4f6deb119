"""JSON API of bookings: thin bearer-token proxies to booking (the family always the token's,
booking's limits checked here in French, statuses and problem+json passed through, a French
503 when booking is down)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest

from marelle_contracts.http import booking as B

from gateway.tests import booking_fake as bf
from gateway.tests import enrolment_fake as ef

FAMILY = f"/families/{ef.FAMILY_ID}"
UPSTREAM = f"{FAMILY}/registrations/{ef.R_VALID}"
API = f"/api/v1/inscriptions/{ef.R_VALID}"
Y = ef.YEAR


def bearer(fake) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.parent_token()}"}


async def call(portal, fake, method: str, path: str, **kwargs) -> httpx.Response:
    async with portal(fake) as client:
        return await client.request(method, path, headers=bearer(fake), **kwargs)


async def test_the_month_grid(portal, fake, booking):
    response = await call(portal, fake, "GET", f"{API}/calendrier?month={Y}-11")
    assert response.status_code == 200
    month = B.CalendarMonth.model_validate(response.json())
    assert month.month == f"{Y}-11" and month.previous_month == f"{Y}-10"
    [sent] = fake.sent("GET", f"{UPSTREAM}/calendar", "booking")
    assert sent.url.params["month"] == f"{Y}-11"
    assert sent.headers["authorization"].startswith("Bearer ")
    bad = await call(portal, fake, "GET", f"{API}/calendrier?month=novembre")
    assert bad.status_code == 422
    assert len(fake.sent("GET", f"{UPSTREAM}/calendar", "booking")) == 1


async def test_changes_are_forwarded_without_any_family_from_the_client(portal, fake, booking):
    body = {"family_id": str(uuid.uuid4()), "changes": [
        {"day": str(bf.OPEN[5]), "unit": "soir", "action": "reserver"},
        {"day": str(bf.FULL_DAY), "unit": "journee", "action": "reserver",
         "group_id": ef.GROUP_911},
        {"day": str(bf.GROUP_FULL), "unit": "matin", "action": "annuler"}]}
    response = await call(portal, fake, "POST", f"{API}/reservations", json=body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["ok"], r["status"], r["position"]) for r in results] == [
        (True, "reservee", None), (True, "liste_attente", 2), (True, "annulee", None)]
    assert booking.posted["reservations"] == [{"changes": [
        {**c, "group_id": c.get("group_id")} for c in body["changes"]]}]


@pytest.mark.parametrize("route,body,field", [
    ("reservations", {"changes": []}, "changes"),
    ("reservations", {"changes": [{"day": f"{Y}-10-26", "unit": "soir",
                                   "action": "reserver"}] * 401}, "changes"),
    ("reservations", {"changes": [{"day": f"{Y}-10-26", "unit": "Soir !",
                                   "action": "reserver"}]}, "changes.0.unit"),
    ("reservations", {"changes": [{"day": f"{Y}-10-26", "unit": "soir",
                                   "action": "supprimer"}]}, "changes.0.action"),
    ("semaine-type", {"start": f"{Y}-10-20", "end": f"{Y}-11-03",
                      "days": [{"weekday": 8, "units": []}]}, "days.0.weekday"),
    ("semaine-type", {"start": f"{Y}-10-20", "end": f"{Y}-11-03",
                      "days": [{"weekday": d % 7 + 1} for d in range(8)]}, "days"),
    ("groupes", {"group_id": ef.GROUP_911, "days": []}, "days"),
    ("groupes", {"group_id": ef.GROUP_911,
                 "days": [f"{Y}-10-26"] * 63}, "days"),
    ("navettes", {"stop_id": bf.STOP_TOWN_HALL, "directions": [], "days": [f"{Y}-10-26"]},
     "directions"),
    ("navettes", {"stop_id": bf.STOP_TOWN_HALL, "directions": ["aller"],
                  "days": [f"{Y}-10-26"], "action": "voler"}, "action"),
])
async def test_bookings_limits_are_checked_here_in_french(portal, fake, booking, route, body,
                                                         field):
    """The contract's limits (booking's own): refused by the gateway, never forwarded."""
    response = await call(portal, fake, "POST", f"{API}/{route}", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Données invalides"
    assert field in [e["champ"] for e in problem["erreurs"]], problem["erreurs"]
    # French messages, never pydantic's English ones.
    assert all(e["message"] and "should" not in e["message"] and "Input" not in e["message"]
               for e in problem["erreurs"]), problem["erreurs"]
    assert not booking.posted


async def test_the_limit_itself_goes_through(portal, fake, booking):
    days = [str(bf.START + timedelta(days=i % 15)) for i in range(62)]
    response = await call(portal, fake, "POST", f"{API}/groupes",
                          json={"group_id": ef.GROUP_911, "days": days})
    assert response.status_code == 200
    assert len(booking.posted["group-assignments"][0]["days"]) == 62


async def test_typical_week_and_groups(portal, fake, booking):
    week = {"start": str(bf.START), "end": str(bf.END),
            "days": [{"weekday": 1, "units": ["journee"]}]}
    response = await call(portal, fake, "POST", f"{API}/semaine-type", json=week)
    assert response.status_code == 200
    assert booking.posted["typical-week"] == [{**week, "group_id": None}]
    groups = await call(portal, fake, "POST", f"{API}/groupes",
                        json={"group_id": ef.GROUP_911, "days": [str(bf.GROUP_FULL)]})
    [result] = groups.json()["results"]
    assert result["ok"] is False
    assert result["detail"] == "Le groupe 9-11 ans est complet ce jour-là."


async def test_waiting_days_and_shuttles(portal, fake, booking):
    waiting = await call(portal, fake, "GET", "/api/v1/liste-attente")
    assert [(w["day"], w["position"]) for w in waiting.json()["items"]] == [
        (str(bf.WAITING), 3)]
    lines = await call(portal, fake, "GET", f"{API}/navettes/lignes")
    assert lines.json()["items"][0]["name"] == "Ligne 1"
    mine = await call(portal, fake, "GET", f"{API}/navettes")
    assert [s["stop_name"] for s in mine.json()["items"]] == ["Mairie"]
    booked = await call(portal, fake, "POST", f"{API}/navettes", json={
        "stop_id": bf.STOP_TOWN_HALL, "directions": ["aller"],
        "days": [str(bf.SHUTTLE_FULL)]})
    assert booked.status_code == 200
    assert booked.json()["results"] == [{
        "day": str(bf.SHUTTLE_FULL), "direction": "aller", "ok": False,
        "detail": "Plus de place dans la navette ce jour-là (20 places)."}]


async def test_a_registration_not_validated_is_bookings_409_passed_through(portal, fake,
                                                                          booking):
    response = await call(portal, fake, "GET",
                          f"/api/v1/inscriptions/{ef.R_PENDING}/calendrier")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Les réservations ne sont possibles que")


async def test_another_familys_registration_is_a_404(portal, fake, booking):
    response = await call(portal, fake, "GET", f"/api/v1/inscriptions/{uuid.uuid4()}/calendrier")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_calendar_ics_and_subscription(portal, fake, booking):
    ics = await call(portal, fake, "GET", f"/api/v1/enfants/{ef.LEA}/reservations.ics")
    assert ics.status_code == 200 and ics.content == bf.ICS_BODY
    assert ics.headers["content-type"].startswith("text/calendar")
    other = await call(portal, fake, "GET", f"/api/v1/enfants/{uuid.uuid4()}/reservations.ics")
    assert other.status_code == 404
    feed = await call(portal, fake, "POST", f"/api/v1/enfants/{ef.LEA}/abonnement-calendrier")
    assert feed.status_code == 201
    assert feed.json() == {"url": f"http://portail.test/calendrier/{booking.feed_token}.ics"}


async def test_no_token_is_a_401_and_booking_down_a_french_503(portal, fake, booking, gw):
    async with portal(fake) as client:
        response = await client.get(f"{API}/calendrier")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    fake.serve("booking", gw.all_down)
    down = await call(portal, fake, "GET", "/api/v1/liste-attente")
    assert down.status_code == 503
    assert down.json()["detail"] == ("Le service des réservations est momentanément "
                                     "indisponible. Réessayez dans quelques minutes.")


async def test_the_api_reads_the_services_models():
    """One definition: the API's bodies are booking's contract classes, subclassed only to drop
    unknown top-level fields."""
    from marelle_gateway.api import booking as api

    for ours, theirs in ((api.ReservationChangesRequest, B.ReservationChangesIn),
                         (api.TypicalWeekRequest, B.TypicalWeekIn),
                         (api.GroupAssignmentRequest, B.GroupAssignmentIn),
                         (api.ShuttleBookingRequest, B.ShuttleBookingIn)):
        assert issubclass(ours, theirs) and ours.model_config["extra"] == "ignore"
        assert set(ours.model_fields) == set(theirs.model_fields)


async def test_the_openapi_document_lists_the_booking_routes(portal, fake):
    async with portal(fake) as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/inscriptions/{registration_id}/calendrier",
                 "/api/v1/inscriptions/{registration_id}/reservations",
                 "/api/v1/inscriptions/{registration_id}/semaine-type",
                 "/api/v1/inscriptions/{registration_id}/groupes",
                 "/api/v1/liste-attente",
                 "/api/v1/inscriptions/{registration_id}/navettes",
                 "/api/v1/inscriptions/{registration_id}/navettes/lignes",
                 "/api/v1/enfants/{child_id}/reservations.ics",
                 "/api/v1/enfants/{child_id}/abonnement-calendrier"):
        assert path in spec["paths"], path
    body = spec["paths"]["/api/v1/inscriptions/{registration_id}/reservations"]["post"]
    assert body["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ReservationChangesRequest")
