"""JSON API: signup forwarded to identity as is; aggregated health; OpenAPI."""

from __future__ import annotations

import json

import httpx

PORTS = {8101: "identity", 8102: "enrolment", 8103: "booking", 8104: "billing"}


def service_of(request: httpx.Request) -> str:
    """Which upstream a request is for (the default settings' ports)."""
    return PORTS[request.url.port]


SIGNUP = {"name": "Martin", "email": "claire.martin@example.fr",
          "child": {"first_name": "Léa", "last_name": "Martin", "birth_date": "2015-01-01",
                    "sex": "F"}}
CREATED = {"family_id": "8a0f6a8e-2b55-4e4e-8d4f-2f6c1f6d7a10",
           "child_id": "1c3b2d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"}


async def test_signup_forwards_to_identity_and_returns_its_201(portal):
    received: list[httpx.Request] = []

    def identity(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(201, json=CREATED)

    async with portal(identity) as client:
        response = await client.post("/api/v1/signup", json=SIGNUP,
                                     headers={"X-Correlation-ID": "cid-signup"})
    assert response.status_code == 201
    assert response.json() == CREATED
    [sent] = received
    assert service_of(sent) == "identity"
    assert sent.method == "POST" and sent.url.path == "/provisional/families"
    assert json.loads(sent.content) == SIGNUP
    assert sent.headers["x-correlation-id"] == "cid-signup"


async def test_signup_passes_identity_problem_json_through(portal):
    problem = {"type": "https://marelle.example/problemes/conflit", "title": "Conflit",
               "status": 409, "detail": "Un compte existe déjà pour cette adresse e-mail."}

    def identity(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json=problem,
                              headers={"content-type": "application/problem+json"})

    async with portal(identity) as client:
        response = await client.post("/api/v1/signup", json=SIGNUP)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem


async def test_signup_gives_a_french_503_when_identity_is_down(portal):
    async with portal() as client:  # every upstream refuses connections by default
        response = await client.post("/api/v1/signup", json=SIGNUP)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 503
    assert "momentanément indisponible" in body["detail"]


async def test_signup_never_relays_a_non_json_upstream_body(portal):
    def identity(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="Traceback (most recent call last): ...")

    async with portal(identity) as client:
        response = await client.post("/api/v1/signup", json=SIGNUP)
    assert response.status_code == 502
    assert "Traceback" not in response.text


async def test_signup_validates_input_in_french(portal):
    async with portal() as client:
        response = await client.post("/api/v1/signup", json={"name": "Martin"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "child : Ce champ est obligatoire." in response.json()["detail"]


async def test_signup_leaves_domain_rules_to_identity(portal):
    """Only the shape is checked here; identity's own French message reaches the parent."""
    problem = {"type": "about:blank", "title": "Données invalides", "status": 422,
               "detail": "La date de naissance ne peut pas être dans le futur."}
    sent: list[dict] = []

    def identity(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})

    body = {"name": "Famille X", "child": {"first_name": "Zoé", "last_name": "X",
                                           "birth_date": "2090-01-01"}, "consent": True}
    async with portal(identity) as client:
        response = await client.post("/api/v1/signup", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == problem["detail"]
    assert sent == [body], "forwarded as sent, unknown fields included"


async def test_health_aggregates_the_services(portal):
    def handler(request: httpx.Request) -> httpx.Response:
        if service_of(request) == "booking":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"status": "ok"})

    async with portal(handler) as client:
        api = (await client.get("/api/v1/health")).json()
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
        page = (await client.get("/sante")).text
    assert api["status"] == "degrade"
    assert api["services"]["booking"]["status"] == "indisponible"
    assert api["services"]["identity"]["status"] == "ok"
    assert ready.status_code == 503 and live.status_code == 200
    assert "Réservations" in page and "Ne répond pas" in page and "Répond" in page


async def test_openapi_is_published_under_api_v1(portal):
    async with portal() as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
        docs = await client.get("/api/v1/docs")
    assert "/api/v1/signup" in spec["paths"]
    assert "/api/v1/health" in spec["paths"]
    assert not any(path in spec["paths"] for path in ("/", "/tableau-de-bord"))
    assert docs.status_code == 200
