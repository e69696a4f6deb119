"""The dashboard merges the services' request histories and copes with a missing service.

The family is the token's, passed on as a bearer token to every service.
"""

from __future__ import annotations

import asyncio
import re

import httpx

PORTS = {8101: "identity", 8102: "enrolment", 8103: "booking", 8104: "billing"}


def service_of(request: httpx.Request) -> str:
    """Which upstream a request is for (the default settings' ports)."""
    return PORTS[request.url.port]


FAMILY = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"


def item(label, status, created_at, decided_at=None, reason=None, kind="inscription"):
    return {"kind": kind, "label": label, "status": status, "created_at": created_at,
            "decided_at": decided_at, "reason": reason}


HISTORIES = {
    "enrolment": [
        item("Inscription CENTRE DE LOISIRS ALSH – Automne 2016", "acceptee",
             "2016-10-01T08:00:00Z", "2016-10-03T14:30:00Z"),
        item("Inscription CANTINE – Restauration 2016/2017", "refusee",
             "2016-09-01T08:00:00Z", "2016-09-02T09:00:00Z", "Dossier incomplet"),
    ],
    "booking": [
        item("Réservation du mercredi 12 octobre 2016", "en_attente", "2016-10-05T07:15:00+00:00",
             kind="reservation"),
    ],
    "identity": [],
}


def upstreams(request: httpx.Request) -> httpx.Response:
    service = service_of(request)
    assert request.url.path == f"/families/{FAMILY}/requests"
    if service == "billing":
        raise httpx.ConnectError("connection refused", request=request)
    return httpx.Response(200, json={"items": HISTORIES[service]})


def rows(html: str) -> list[str]:
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in body.split("<tr>")[1:]]


async def test_dashboard_merges_services_most_recent_first(portal, gw):
    async with portal(gw.with_jwks(upstreams)) as client:
        gw.signed_in(client, gw.parent_token(FAMILY))
        response = await client.get("/tableau-de-bord")
    assert response.status_code == 200
    html = response.text
    for header in ("Demande", "Statut", "Date", "Décision"):
        assert f'<th scope="col">{header}</th>' in html
    lines = rows(html)
    assert len(lines) == 3
    # booking's kind « reservation » has its own words: a pending reservation is waiting.
    assert lines[0].startswith("Réservation du mercredi 12 octobre 2016 ? Liste d&#39;attente")
    assert "En attente de décision" in lines[0]
    assert lines[1].startswith("Inscription CENTRE DE LOISIRS ALSH – Automne 2016 ✓ Acceptée")
    # Times are shown in the municipality's time zone (UTC+2 in October).
    assert "1 octobre 2016 à 10:00" in lines[1]
    assert "3 octobre 2016 à 16:30" in lines[1]
    assert lines[2].startswith("Inscription CANTINE – Restauration 2016/2017 ✗ Refusée")
    assert "Motif : Dossier incomplet" in lines[2]


async def test_dashboard_names_each_unreachable_service(portal, gw):
    async with portal(gw.with_jwks(upstreams)) as client:
        gw.signed_in(client, gw.parent_token(FAMILY))
        html = (await client.get("/tableau-de-bord")).text
    assert "Historique des demandes liées à la facturation momentanément indisponible." in html
    assert "Historique des inscriptions momentanément indisponible" not in html


async def test_dashboard_treats_missing_endpoint_and_bad_payload_as_unavailable(portal, gw):
    def handler(request: httpx.Request) -> httpx.Response:
        service = service_of(request)
        if service == "enrolment":
            return httpx.Response(404, json={"detail": "Not Found"})
        if service == "booking":
            return httpx.Response(200, json={"items": [{"label": "sans statut"}]})
        return httpx.Response(200, json={"items": []})

    async with portal(gw.with_jwks(handler)) as client:
        gw.signed_in(client, gw.parent_token(FAMILY))
        response = await client.get("/tableau-de-bord")
    assert response.status_code == 200
    assert "Historique des inscriptions momentanément indisponible." in response.text
    assert "Historique des réservations momentanément indisponible." in response.text
    assert "Aucune demande à afficher pour le moment." in response.text


async def test_dashboard_asks_the_services_concurrently(portal, gw):
    started: list[str] = []
    all_started = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=gw.JWKS)
        started.append(service_of(request))
        if len(started) == 4:
            all_started.set()
        # Would time out if the calls were made one after the other.
        await asyncio.wait_for(all_started.wait(), timeout=2)
        return httpx.Response(200, json={"items": []})

    class AsyncMock(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            return await slow(request)

    from marelle_gateway.config import GatewaySettings
    from marelle_gateway.main import create_app

    app = create_app(GatewaySettings(), transport=AsyncMock())
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app),
                                     base_url="http://portail.test") as client:
            gw.signed_in(client, gw.parent_token(FAMILY))
            response = await client.get("/tableau-de-bord")
    assert response.status_code == 200
    assert sorted(started) == ["billing", "booking", "enrolment", "identity"]


async def test_dashboard_shows_an_empty_state(portal, gw):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": []})

    async with portal(gw.with_jwks(handler)) as client:
        gw.signed_in(client, gw.parent_token(FAMILY))
        response = await client.get("/tableau-de-bord")
    assert response.status_code == 200
    assert "Aucune demande à afficher pour le moment." in response.text
    assert "<table" not in response.text


async def test_dashboard_family_is_the_tokens_and_is_sent_as_bearer(portal, gw):
    """A `?famille=` of another family is ignored: every service is asked about the token's."""
    seen: list[httpx.Request] = []
    token = gw.parent_token(FAMILY)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    async with portal(gw.with_jwks(handler)) as client:
        gw.signed_in(client, token)
        response = await client.get(
            "/tableau-de-bord?famille=5e0c3c1a-7d2b-4f4e-9a51-1c2d3e4f5a6b&family_id=x")
    assert response.status_code == 200
    assert sorted(service_of(r) for r in seen) == ["billing", "booking", "enrolment", "identity"]
    assert {r.url.path for r in seen} == {f"/families/{FAMILY}/requests"}
    assert {r.headers["authorization"] for r in seen} == {f"Bearer {token}"}


async def test_identity_coordonnees_requests_appear_with_their_reason(portal, gw):
    def handler(request: httpx.Request) -> httpx.Response:
        if service_of(request) == "identity":
            return httpx.Response(200, json={"items": [item(
                "Modification de coordonnées", "refusee", "2024-01-15T10:00:00Z",
                "2024-01-16T08:30:00Z", "Numéro allocataire inconnu", kind="coordonnees")]})
        return httpx.Response(200, json={"items": []})

    async with portal(gw.with_jwks(handler)) as client:
        gw.signed_in(client, gw.parent_token(FAMILY))
        html = (await client.get("/tableau-de-bord")).text
    [line] = rows(html)
    assert line.startswith("Modification de coordonnées ✗ Refusée")
    # Europe/Paris in winter: UTC+1.
    assert "15 janvier 2024 à 11:00" in line and "16 janvier 2024 à 09:30" in line
    assert "Motif : Numéro allocataire inconnu" in line


async def test_correlation_id_is_passed_to_the_services(portal, gw):
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-correlation-id"))
        return httpx.Response(200, json={"items": []})

    async with portal(gw.with_jwks(handler)) as client:
        gw.signed_in(client, gw.parent_token(FAMILY))
        await client.get("/tableau-de-bord", headers={"X-Correlation-ID": "cid-123"})
    assert seen == ["cid-123"] * 4
