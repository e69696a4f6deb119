"""The opening queue for bookings through the gateway's JSON API (`/api/v1/tickets/reservations`,
docs/opening-rush.md): the family is the token's, the Idempotency-Key goes through, booking's
limits are checked here in French, booking's statuses and problem+json pass through, a French
503 when booking is down; and every exchange with the fake booking is one the real booking's
OpenAPI allows."""

from __future__ import annotations

import uuid

import httpx
import pytest

from marelle_contracts.http import booking as B
from marelle_contracts.http import queue as Q

from gateway.tests import booking_fake as bf
from gateway.tests import enrolment_fake as ef

API = "/api/v1/tickets/reservations"
UPSTREAM = f"/families/{ef.FAMILY_ID}/tickets"


def headers(fake, key: str | None = "ouverture-ete-lea-1") -> dict[str, str]:
    out = {"Authorization": f"Bearer {fake.parent_token()}"}
    if key is not None:
        out["Idempotency-Key"] = key
    return out


def days(*pairs) -> list[dict[str, str]]:
    return [{"date": str(d), "unit": u} for d, u in pairs]


async def test_a_ticket_then_its_outcomes(portal, fake, booking):
    body = {"family_id": str(uuid.uuid4()), "registration_id": ef.R_VALID,
            "days": days((bf.OPEN[5], "soir"), (bf.FULL_DAY, "journee"),
                         (bf.TOO_LATE, "matin"))}
    async with portal(fake) as client:
        ack = await client.post(API, json=body, headers=headers(fake))
        assert ack.status_code == 202, ack.text
        ticket = Q.Ticket.model_validate(ack.json())
        assert (ticket.kind, ticket.status, ticket.position, ticket.ahead) == (
            "reservation", "en_file", 120, 119)
        [sent] = fake.sent("POST", UPSTREAM, "booking")
        assert sent.headers["idempotency-key"] == "ouverture-ete-lea-1"
        assert sent.headers["authorization"].startswith("Bearer ")
        # No family from the client; booking's defaults made explicit.
        assert booking.posted["tickets"] == [{
            "registration_id": ef.R_VALID, "days": body["days"],
            "if_some_full": "prendre_le_reste"}]

        queued = await client.get(f"{API}/{ticket.id}", headers=headers(fake, None))
        assert queued.status_code == 200 and queued.json()["status"] == "en_file"
        final = (await client.get(f"{API}/{ticket.id}", headers=headers(fake, None))).json()
    assert final["status"] == "traite" and final["ahead"] == 0
    assert [(o["status"], o["ok"]) for o in final["outcomes"]] == [
        ("reservee", True), ("liste_attente", True), ("refusee", False)]
    assert final["outcomes"][2]["detail"].startswith("Délai de réservation dépassé")


async def test_the_same_key_answers_the_same_ticket(portal, fake, booking):
    body = {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "soir"))}
    async with portal(fake) as client:
        first = await client.post(API, json=body, headers=headers(fake))
        again = await client.post(API, json=body, headers=headers(fake))
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert booking.ticket_keys == ["ouverture-ete-lea-1"] * 2
    assert len(booking.tickets) == 1


async def test_all_or_nothing_waitlists_every_day(portal, fake, booking):
    body = {"registration_id": ef.R_VALID, "if_some_full": "tout_ou_rien",
            "days": days((bf.OPEN[5], "soir"), (bf.FULL_DAY, "journee"))}
    async with portal(fake) as client:
        ack = (await client.post(API, json=body, headers=headers(fake))).json()
        await client.get(f"{API}/{ack['id']}", headers=headers(fake, None))
        final = (await client.get(f"{API}/{ack['id']}", headers=headers(fake, None))).json()
    assert final["if_some_full"] == "tout_ou_rien"
    assert [o["status"] for o in final["outcomes"]] == ["liste_attente"] * 2


@pytest.mark.parametrize("key,body,field", [
    (None, {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "soir"))},
     "Idempotency-Key"),
    ("court", {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "soir"))},
     "Idempotency-Key"),
    ("cle avec espaces", {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "soir"))},
     "Idempotency-Key"),
    ("ouverture-1", {"registration_id": ef.R_VALID, "days": []}, "days"),
    ("ouverture-1", {"registration_id": ef.R_VALID,
                     "days": days(*[(bf.OPEN[5], "soir")] * 251)}, "days"),
    ("ouverture-1", {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "Soir !"))},
     "days.0.unit"),
    ("ouverture-1", {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "soir")),
                     "if_some_full": "au_hasard"}, "if_some_full"),
    ("ouverture-1", {"registration_id": "pas-un-uuid", "days": days((bf.OPEN[5], "soir"))},
     "registration_id"),
])
async def test_limits_and_the_key_are_checked_here_in_french(portal, fake, booking, key, body,
                                                             field):
    async with portal(fake) as client:
        response = await client.post(API, json=body, headers=headers(fake, key))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Données invalides"
    assert any(field in e["champ"] for e in problem["erreurs"]), problem["erreurs"]
    assert all("should" not in e["message"] and "Input" not in e["message"]
               for e in problem["erreurs"]), problem["erreurs"]
    assert not fake.sent("POST", UPSTREAM, "booking")


async def test_bookings_refusals_pass_through(portal, fake, booking):
    async with portal(fake) as client:
        pending = await client.post(API, json={"registration_id": ef.R_PENDING,
                                               "days": days((bf.OPEN[5], "soir"))},
                                    headers=headers(fake, "cle-en-attente"))
        unknown = await client.post(API, json={"registration_id": ef.R_VALID,
                                               "days": days((bf.OPEN[5], "piscine"))},
                                    headers=headers(fake, "cle-piscine"))
        other = await client.get(f"{API}/{uuid.uuid4()}", headers=headers(fake, None))
        bad_id = await client.get(f"{API}/pas-un-ticket", headers=headers(fake, None))
    assert pending.status_code == 409
    assert "validée" in pending.json()["detail"]
    assert unknown.status_code == 422
    assert "n'existe pas" in unknown.json()["detail"]
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert bad_id.status_code == 422


async def test_no_token_is_a_401_and_booking_down_a_french_503(portal, fake, booking, gw):
    body = {"registration_id": ef.R_VALID, "days": days((bf.OPEN[5], "soir"))}
    async with portal(fake) as client:
        response = await client.post(API, json=body, headers={"Idempotency-Key": "sans-jeton"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    fake.serve("booking", gw.all_down)
    async with portal(fake) as client:
        down = await client.post(API, json=body, headers=headers(fake))
    assert down.status_code == 503
    assert down.json()["detail"] == ("Le service des réservations est momentanément "
                                     "indisponible. Réessayez dans quelques minutes.")


async def test_the_api_reads_bookings_model_and_documents_the_routes(portal, fake):
    from marelle_gateway.api import tickets_reservations as api

    ours, theirs = api.ReservationTicketRequest, B.BookingTicketRequest
    assert issubclass(ours, theirs) and ours.model_config["extra"] == "ignore"
    assert set(ours.model_fields) == set(theirs.model_fields)
    async with portal(fake) as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
    post = spec["paths"][API]["post"]
    assert {"202", "200", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
               for p in post["parameters"])
    assert f"{API}/{{ticket_id}}" in spec["paths"]


# --- the fake against the real booking ---------------------------------------------------------

TICKET_CONTRACT: dict[tuple[str, str], type | None] = {
    ("POST", "/families/{family_id}/tickets"): Q.Ticket,
    ("GET", "/families/{family_id}/tickets/{ticket_id}"): Q.Ticket,
}


def test_the_fake_and_the_gateways_bodies_match_the_real_booking():
    """What the gateway sends booking and what the fake answers (202, 200, 404, 409, 422),
    against booking's own OpenAPI document."""
    import asyncio

    from gateway.tests.conftest import FakeServices, parent_token
    from gateway.tests.test_contract_fakes import _check_exchanges, service_openapi
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
    bf.FakeBooking(fake)

    async def session() -> None:
        app = create_app(GatewaySettings(), transport=httpx.MockTransport(fake))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                         base_url="http://portail.test") as client:
                bearer = {"authorization": f"Bearer {parent_token()}"}
                ids = []
                for reg, key, unit in ((ef.R_VALID, "contrat-1", "journee"),
                                       (ef.R_VALID, "contrat-1", "journee"),
                                       (ef.R_PENDING, "contrat-2", "soir"),
                                       (ef.R_VALID, "contrat-3", "piscine")):
                    r = await client.post(API, headers={**bearer, "Idempotency-Key": key},
                                          json={"registration_id": reg,
                                                "days": days((bf.FULL_DAY, unit))})
                    ids.append(r.json().get("id"))
                for ticket_id in (ids[0], ids[0], str(uuid.uuid4())):
                    await client.get(f"{API}/{ticket_id}", headers=bearer)

    asyncio.run(session())
    routes: dict = {"paths": {}}
    for method, template in TICKET_CONTRACT:
        routes["paths"].setdefault(template, {})[method.lower()] = {}
    spec = service_openapi("booking")
    for method, route in TICKET_CONTRACT:
        _check_exchanges(spec, exchanges, routes, TICKET_CONTRACT, method, route, "booking",
                         "application/json")
    statuses = sorted(r.status_code for _, r in exchanges)
    assert statuses == [200, 200, 200, 202, 404, 409, 422], statuses
