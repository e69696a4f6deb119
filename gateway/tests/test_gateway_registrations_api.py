"""JSON API of registrations: thin bearer-token proxies to enrolment (the family always the
token's, statuses and problem+json passed through, a French 503 when enrolment is down)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from gateway.tests import enrolment_fake as ef

FAMILY_PATH = f"/families/{ef.FAMILY_ID}"


def bearer(fake) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.parent_token()}"}


async def call(portal, fake, method: str, path: str, **kwargs) -> httpx.Response:
    async with portal(fake) as client:
        return await client.request(method, path, headers=bearer(fake), **kwargs)


async def test_offer_of_a_child(portal, fake, enrolment):
    response = await call(portal, fake, "GET", f"/api/v1/enfants/{ef.LEA}/offre")
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(ef.offer(ef.LEA)))
    [sent] = fake.sent("GET", f"{FAMILY_PATH}/children/{ef.LEA}/offer", "enrolment")
    assert sent.headers["authorization"].startswith("Bearer ")


async def test_a_request_is_forwarded_without_any_family_from_the_client(portal, fake,
                                                                        enrolment):
    body = {"child_id": ef.LEA, "group_id": ef.GROUP_68, "family_id": str(uuid.uuid4()),
            "typical_week": [{"weekday": 3, "units": []}], "memo": "Merci",
            "duplicate_for": [ef.TOM]}
    response = await call(portal, fake, "POST", "/api/v1/inscriptions", json=body)
    assert response.status_code == 201
    assert [r["ok"] for r in response.json()["results"]] == [True, True]
    [sent] = fake.sent("POST", f"{FAMILY_PATH}/registrations", "enrolment")
    assert json.loads(sent.content) == {k: v for k, v in body.items() if k != "family_id"}


async def test_a_malformed_request_is_refused_here_in_french(portal, fake, enrolment):
    response = await call(portal, fake, "POST", "/api/v1/inscriptions",
                          json={"child_id": ef.LEA})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert not fake.sent("POST", f"{FAMILY_PATH}/registrations", "enrolment")


@pytest.mark.parametrize("extra,field", [
    ({"memo": "x" * 2001}, "memo"),
    ({"typical_week": [{"weekday": 8, "units": []}]}, "typical_week.0.weekday"),
    ({"duplicate_for": [str(uuid.uuid4()) for _ in range(11)]}, "duplicate_for"),
])
async def test_enrolments_limits_are_checked_here_in_french(portal, fake, enrolment, extra,
                                                            field):
    """The contract's limits (enrolment's own): refused by the gateway, never forwarded."""
    body = {"child_id": ef.LEA, "group_id": ef.GROUP_68, **extra}
    response = await call(portal, fake, "POST", "/api/v1/inscriptions", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Données invalides"
    assert [e["champ"] for e in problem["erreurs"]] == [field]
    assert not fake.sent("POST", f"{FAMILY_PATH}/registrations", "enrolment")


async def test_a_too_long_memo_is_refused_with_the_french_message(portal, fake, enrolment):
    body = {"child_id": ef.LEA, "group_id": ef.GROUP_68, "memo": "x" * 2001}
    response = await call(portal, fake, "POST", "/api/v1/inscriptions", json=body)
    assert response.json()["erreurs"] == [{"champ": "memo", "message": "Ce champ est trop long."}]
    # At the limit, it goes through.
    ok = await call(portal, fake, "POST", "/api/v1/inscriptions",
                    json={**body, "memo": "x" * 2000})
    assert ok.status_code == 201


async def test_list_passes_the_filters(portal, fake, enrolment):
    response = await call(portal, fake, "GET",
                          f"/api/v1/inscriptions?child_id={ef.LEA}&state=attente")
    assert response.status_code == 200
    [sent] = fake.sent("GET", f"{FAMILY_PATH}/registrations", "enrolment")
    assert dict(sent.url.params) == {"child_id": ef.LEA, "state": "attente"}
    bad = await call(portal, fake, "GET", "/api/v1/inscriptions?state=toutes")
    assert bad.status_code == 422


async def test_one_registration_and_another_familys_404(portal, fake, enrolment):
    mine = await call(portal, fake, "GET", f"/api/v1/inscriptions/{ef.R_WAIT}")
    assert mine.status_code == 200 and mine.json()["waitlist_position"] == 2
    other = await call(portal, fake, "GET", f"/api/v1/inscriptions/{uuid.uuid4()}")
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["detail"] == "Cette inscription est introuvable."


async def test_cancel_passes_204_and_409_through(portal, fake, enrolment):
    done = await call(portal, fake, "POST", f"/api/v1/inscriptions/{ef.R_PENDING}/annulation")
    assert done.status_code == 204 and done.content == b""
    again = await call(portal, fake, "POST", f"/api/v1/inscriptions/{ef.R_PENDING}/annulation")
    assert again.status_code == 409
    assert again.json()["detail"] == "Cette inscription est déjà annulée ou refusée."


async def test_attestations_request_list_and_pdf(portal, fake, enrolment):
    created = await call(portal, fake, "POST", f"/api/v1/inscriptions/{ef.R_VALID}/attestations")
    assert created.status_code == 201 and created.json()["status"] == "demandee"
    refused = await call(portal, fake, "POST",
                         f"/api/v1/inscriptions/{ef.R_PENDING}/attestations")
    assert refused.status_code == 409
    listed = await call(portal, fake, "GET", "/api/v1/attestations")
    assert {a["status"] for a in listed.json()["items"]} == {"delivree", "demandee"}
    pdf = await call(portal, fake, "GET", f"/api/v1/attestations/{ef.ISSUED}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == ef.PDF_BYTES
    missing = await call(portal, fake, "GET", f"/api/v1/attestations/{created.json()['id']}/pdf")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_a_pdf_answer_that_is_not_a_pdf_is_a_502(portal, fake, enrolment):
    fake.on("GET", f"{FAMILY_PATH}/attestations/{ef.ISSUED}/pdf",
            httpx.Response(200, text="<html>oups</html>"), service="enrolment")
    response = await call(portal, fake, "GET", f"/api/v1/attestations/{ef.ISSUED}/pdf")
    assert response.status_code == 502 and "oups" not in response.text


@pytest.mark.parametrize("method,path", [
    ("GET", f"/api/v1/enfants/{ef.LEA}/offre"), ("GET", "/api/v1/inscriptions"),
    ("POST", f"/api/v1/inscriptions/{ef.R_VALID}/annulation"),
    ("GET", "/api/v1/attestations"), ("GET", f"/api/v1/attestations/{ef.ISSUED}/pdf")])
async def test_enrolment_down_is_a_french_503(portal, fake, method, path):
    fake.serve("enrolment", lambda request: (_ for _ in ()).throw(
        httpx.ConnectError("refused", request=request)))
    response = await call(portal, fake, method, path)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "service des inscriptions est momentanément indisponible" in response.json()["detail"]


async def test_no_token_no_call(portal, fake, enrolment):
    async with portal(fake) as client:
        response = await client.get("/api/v1/inscriptions")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not [r for r in fake.requests if r.url.port == 8102]


async def test_openapi_lists_the_registration_paths(portal):
    async with portal() as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/enfants/{child_id}/offre", "/api/v1/inscriptions",
                 "/api/v1/inscriptions/{registration_id}",
                 "/api/v1/inscriptions/{registration_id}/annulation",
                 "/api/v1/inscriptions/{registration_id}/attestations", "/api/v1/attestations",
                 "/api/v1/attestations/{attestation_id}/pdf"):
        assert path in spec["paths"], path
