"""JSON API: thin bearer-token proxies to identity (statuses and problem+json passed through,
the family always the token's); the sign-up; aggregated health; OpenAPI."""

from __future__ import annotations

import json

import httpx
import pytest

PORTS = {8101: "identity", 8102: "enrolment", 8103: "booking", 8104: "billing"}


def service_of(request: httpx.Request) -> str:
    """Which upstream a request is for (the default settings' ports)."""
    return PORTS[request.url.port]


SIGNUP = {"family_name": "Martin", "email": "claire.martin@example.fr",
          "password": "un long mot de passe",
          "guardian": {"first_name": "Claire", "last_name": "Martin"}}
ACCEPTED = {"message": "Demande d'inscription enregistrée."}


async def test_no_household_is_created_without_an_account(portal):
    """The skeleton's unauthenticated `/api/v1/signup` (a household without account, straight
    to identity's `/provisional/families`) is gone (issue #11)."""
    received: list[httpx.Request] = []

    def identity(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(201, json={})

    async with portal(identity) as client:
        response = await client.post("/api/v1/signup", json={
            "name": "Martin", "child": {"first_name": "Léa", "last_name": "Martin",
                                        "birth_date": "2015-01-01"}})
        spec = (await client.get("/api/v1/openapi.json")).json()
    assert response.status_code in (404, 405)
    assert received == []
    assert "/api/v1/signup" not in spec["paths"]


async def test_signup_forwards_to_identity_and_returns_its_202(portal):
    received: list[httpx.Request] = []

    def identity(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(202, json=ACCEPTED)

    async with portal(identity) as client:
        response = await client.post("/api/v1/auth/signup", json=SIGNUP,
                                     headers={"X-Correlation-ID": "cid-signup"})
    assert response.status_code == 202
    assert response.json() == ACCEPTED
    [sent] = received
    assert service_of(sent) == "identity"
    assert sent.method == "POST" and sent.url.path == "/auth/signup"
    assert json.loads(sent.content) == SIGNUP
    assert sent.headers["x-correlation-id"] == "cid-signup"


async def test_signup_passes_identity_problem_json_through(portal):
    problem = {"type": "https://marelle.example/problemes/trop-de-tentatives",
               "title": "Trop de tentatives", "status": 429,
               "detail": "Trop de tentatives d'inscription : réessayez dans 60 minutes."}

    def identity(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=problem,
                              headers={"content-type": "application/problem+json"})

    async with portal(identity) as client:
        response = await client.post("/api/v1/auth/signup", json=SIGNUP)
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem


async def test_signup_gives_a_french_503_when_identity_is_down(portal):
    async with portal() as client:  # every upstream refuses connections by default
        response = await client.post("/api/v1/auth/signup", json=SIGNUP)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 503
    assert "momentanément indisponible" in body["detail"]


async def test_signup_never_relays_a_non_json_upstream_body(portal):
    def identity(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="Traceback (most recent call last): ...")

    async with portal(identity) as client:
        response = await client.post("/api/v1/auth/signup", json=SIGNUP)
    assert response.status_code == 502
    assert "Traceback" not in response.text


async def test_signup_validates_input_in_french(portal):
    async with portal() as client:
        response = await client.post("/api/v1/auth/signup", json={"family_name": "Martin"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "guardian : Ce champ est obligatoire." in response.json()["detail"]


async def test_signup_leaves_domain_rules_to_identity(portal):
    """Only the shape is checked here; identity's own French message reaches the parent."""
    problem = {"type": "about:blank", "title": "Données invalides", "status": 422,
               "detail": "Le mot de passe doit contenir au moins 10 caractères."}
    sent: list[dict] = []

    def identity(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})

    body = {**SIGNUP, "consent": True}
    async with portal(identity) as client:
        response = await client.post("/api/v1/auth/signup", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == problem["detail"]
    # Unknown fields (« consent ») are dropped: no unbounded input reaches identity.
    assert sent == [SIGNUP]


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
    assert "/api/v1/health" in spec["paths"]
    for path in ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                 "/api/v1/auth/password-reset", "/api/v1/auth/signup",
                 "/api/v1/auth/signup/confirm", "/api/v1/famille",
                 "/api/v1/famille/enfants", "/api/v1/famille/enfants/{person_id}",
                 "/api/v1/famille/responsables", "/api/v1/coordonnees",
                 "/api/v1/coordonnees/demandes", "/api/v1/tableau-de-bord",
                 "/api/v1/compte/mot-de-passe"):
        assert path in spec["paths"], path
    assert not any(path in spec["paths"] for path in ("/", "/tableau-de-bord"))
    assert docs.status_code == 200


# --- Parents' API (bearer token) ------------------------------------------------------------

FAMILY_ID = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
OTHER = "5e0c3c1a-7d2b-4f4e-9a51-1c2d3e4f5a6b"
LEA = "22222222-2222-4222-8222-222222222222"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path,body", [
    ("/auth/token", {"email": "a@b.fr", "password": "x"}),
    ("/auth/refresh", {"refresh_token": "jeton-de-rafraichissement"}),
    ("/auth/logout", {"refresh_token": "jeton-de-rafraichissement"}),
    ("/auth/password-reset", {"email": "a@b.fr"}),
    ("/auth/signup", {"family_name": "Martin", "email": "a@b.fr", "password": "p",
                      "guardian": {"first_name": "Claire", "last_name": "Martin"}}),
    ("/auth/signup/confirm", {"token": "jeton-de-confirmation"}),
])
async def test_auth_endpoints_forward_to_identity(portal, fake, path, body):
    answers = {"/auth/token": httpx.Response(200, json={"access_token": "a", "expires_in": 900}),
               "/auth/refresh": httpx.Response(200, json={"access_token": "b", "expires_in": 900}),
               "/auth/logout": httpx.Response(204),
               "/auth/password-reset": httpx.Response(202, json={}),
               "/auth/signup": httpx.Response(202, json=ACCEPTED),
               "/auth/signup/confirm": httpx.Response(204)}
    fake.on("POST", path, answers[path])
    async with portal(fake) as client:
        response = await client.post(f"/api/v1{path}", json={**body, "family_id": OTHER})
    assert response.status_code == answers[path].status_code
    assert response.content == answers[path].content
    assert fake.body("POST", path) == body, "unknown fields are dropped"
    [sent] = fake.sent("POST", path)
    assert sent.headers["x-marelle-client-address"] == "127.0.0.1"
    assert "set-cookie" not in response.headers


async def test_login_throttling_passes_status_body_and_retry_after(portal, fake, gw):
    fake.on("POST", "/auth/token", gw.problem(
        429, "Trop de tentatives de connexion : réessayez dans 15 minute(s).", retry_after=900))
    async with portal(fake) as client:
        response = await client.post("/api/v1/auth/token",
                                     json={"email": "a@b.fr", "password": "x"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "900"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("Trop de tentatives")


async def test_family_endpoints_use_the_tokens_family(portal, fake, gw):
    token = fake.parent_token()
    family = {"id": FAMILY_ID, "name": "Martin", "persons": []}
    fake.on("GET", f"/families/{FAMILY_ID}", httpx.Response(200, json=family))
    fake.on("POST", f"/families/{FAMILY_ID}/children", httpx.Response(201, json={"id": LEA}))
    fake.on("PUT", f"/families/{FAMILY_ID}/children/{LEA}", httpx.Response(200, json={"id": LEA}))
    fake.on("POST", f"/families/{FAMILY_ID}/guardians", gw.problem(409, "Déjà deux responsables."))
    fake.on("GET", f"/families/{FAMILY_ID}/contact", httpx.Response(200, json={"email": "a@b.fr"}))
    fake.on("POST", f"/families/{FAMILY_ID}/contact-change-requests",
            httpx.Response(201, json={"id": "r1"}))
    fake.on("POST", "/me/password", httpx.Response(204))
    child = {"first_name": "Léa", "last_name": "Martin", "birth_date": "2015-01-01", "sex": "F"}
    async with portal(fake) as client:
        headers = {**bearer(token), "X-Family-Id": OTHER}
        got = await client.get(f"/api/v1/famille?family_id={OTHER}", headers=headers)
        added = await client.post("/api/v1/famille/enfants", headers=headers,
                                  json={**child, "family_id": OTHER})
        updated = await client.put(f"/api/v1/famille/enfants/{LEA}", headers=headers, json=child)
        guardian = await client.post("/api/v1/famille/responsables", headers=headers,
                                     json={"first_name": "Paul", "last_name": "Martin"})
        contact = await client.get("/api/v1/coordonnees", headers=headers)
        change = await client.post("/api/v1/coordonnees/demandes", headers=headers, json={
            "home_phone": "", "beneficiary_scheme": "MSA", "family_id": OTHER})
        password = await client.post("/api/v1/compte/mot-de-passe", headers=headers,
                                     json={"current_password": "a", "new_password": "b"})
    assert (got.status_code, got.json()) == (200, family)
    assert added.status_code == 201 and updated.status_code == 200
    assert guardian.status_code == 409
    assert guardian.headers["content-type"] == "application/problem+json"
    assert guardian.json()["detail"] == "Déjà deux responsables."
    assert contact.json() == {"email": "a@b.fr"}
    assert change.status_code == 201 and password.status_code == 204
    assert fake.body("POST", f"/families/{FAMILY_ID}/children") == child
    # Only the fields sent: "" (clear) kept, absent fields absent, a family id never.
    assert fake.body("POST", f"/families/{FAMILY_ID}/contact-change-requests") == {
        "home_phone": "", "beneficiary_scheme": "MSA"}
    assert all(OTHER not in str(r.url) and OTHER.encode() not in r.content for r in fake.requests)
    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {token}"}


async def test_dashboard_api_merges_the_services(portal, fake, gw):
    def handler(request: httpx.Request) -> httpx.Response:
        if gw.service_of(request) == "billing":
            raise httpx.ConnectError("refused", request=request)
        if gw.service_of(request) == "identity" and request.url.path.endswith("/requests"):
            assert request.url.path == f"/families/{FAMILY_ID}/requests"
            return httpx.Response(200, json={"items": [{
                "kind": "coordonnees", "label": "Modification de coordonnées",
                "status": "en_attente", "created_at": "2024-03-01T09:00:00Z",
                "decided_at": None, "reason": None}]})
        return fake(request)

    async with portal(handler) as client:
        response = await client.get("/api/v1/tableau-de-bord", headers=bearer(fake.parent_token()))
    body = response.json()
    assert response.status_code == 200
    assert [item["kind"] for item in body["items"]] == ["coordonnees"]
    assert body["indisponibles"] == ["billing"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer pas-un-jeton"},
                                     {"Authorization": "Basic abc"}])
async def test_family_api_needs_a_valid_bearer_token(portal, fake, headers):
    async with portal(fake) as client:
        response = await client.get("/api/v1/famille", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not fake.requests


async def test_family_api_ignores_cookies(portal, fake, gw):
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        response = await client.get("/api/v1/famille")
    assert response.status_code == 401


async def test_expired_bearer_is_a_401_in_french(portal, fake):
    async with portal(fake) as client:
        response = await client.get("/api/v1/coordonnees",
                                    headers=bearer(fake.parent_token(ttl=-60)))
    assert response.status_code == 401
    assert "expiré" in response.json()["detail"]


async def test_api_answers_503_in_french_when_identity_is_down(portal, fake, gw):
    token = fake.parent_token()
    async with portal(fake) as client:
        # The keys are known (fetched once); then identity goes down.
        assert (await client.get("/api/v1/famille", headers=bearer(token))).status_code == 404
        fake.routes.clear()
        fake.on("GET", f"/families/{FAMILY_ID}", gw.all_down)
        family = await client.get("/api/v1/famille", headers=bearer(token))
    async with portal(gw.all_down) as client:
        login = await client.post("/api/v1/auth/token", json={"email": "a@b.fr", "password": "x"})
        keys = await client.get("/api/v1/famille", headers=bearer(token))
    for response in (family, login, keys):
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "momentanément indisponible" in response.json()["detail"]


async def test_api_validates_shapes_in_french(portal, fake):
    async with portal(fake) as client:
        response = await client.post("/api/v1/famille/enfants", headers=bearer(fake.parent_token()),
                                     json={"first_name": "Léa"})
        bad_id = await client.put("/api/v1/famille/enfants/pas-un-id",
                                  headers=bearer(fake.parent_token()),
                                  json={"first_name": "Léa", "last_name": "M",
                                        "birth_date": "2015-01-01"})
    assert response.status_code == 422
    assert "Ce champ est obligatoire" in response.json()["detail"]
    assert bad_id.status_code == 422
    assert not [r for r in fake.requests if "/children" in r.url.path]


async def test_api_docs_need_no_cdn(portal):
    async with portal(lambda request: httpx.Response(404)) as client:
        page = await client.get("/api/v1/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower()
        assert "/api/v1/docs-assets/swagger-ui-bundle.js" in page.text
        script = await client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and len(script.content) > 100_000
