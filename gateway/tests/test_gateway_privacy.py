"""« Mes données personnelles » (GDPR, issue #11): the family's data as one JSON file (page and
`/api/v1/compte/mes-donnees`), and the deletion request with its French confirmation."""

from __future__ import annotations

import json
from datetime import date

import httpx

from marelle_contracts.http import identity as I

from gateway.tests.billing_fake import FakeBilling
from gateway.tests.conftest import FakeServices

FID = FakeServices.FAMILY_ID
EXPORT = {
    "exported_at": "2026-11-30T10:00:00Z",
    "household": {"id": FID, "name": "Famille Martin", "email": "claire.martin@example.fr",
                  "home_phone": "+33478000000", "needs_review": False,
                  "created_at": "2026-01-02T09:00:00Z"},
    "persons": [{"id": "11111111-1111-4111-8111-111111111111", "role": "child",
                 "first_name": "Léa", "last_name": "Martin", "birth_date": "2017-05-14",
                 "created_at": "2026-01-02T09:00:00Z", "updated_at": "2026-01-02T09:00:00Z"}],
    "accounts": [{"email": "claire.martin@example.fr", "role": "famille", "status": "active",
                  "created_at": "2026-01-02T09:00:00Z"}],
    "requests": [], "sessions": [{"started_at": "2026-11-30T09:00:00Z",
                                  "last_renewed_at": "2026-11-30T09:10:00Z",
                                  "expires_at": "2026-12-30T09:00:00Z", "ended": False}],
}
PENDING = {"id": "22222222-2222-4222-8222-222222222222", "family_id": FID,
           "status": "en_attente", "reason": None, "created_at": "2026-11-29T08:00:00Z"}


def _identity(fake: FakeServices, requests: list[dict] | None = None) -> None:
    I.FamilyExport.model_validate(EXPORT)  # the fake answers what identity declares
    fake.on("GET", f"/families/{FID}/export", httpx.Response(200, json=EXPORT))
    fake.on("GET", f"/families/{FID}/deletion-requests",
            httpx.Response(200, json={"items": requests or []}))


async def test_the_api_gives_one_json_attachment_from_every_service(portal, fake, gw):
    _identity(fake)
    FakeBilling(fake)
    fake.on("GET", f"/families/{FID}/registrations",
            httpx.Response(200, json={"items": [{"id": "r1"}]}), service="enrolment")

    def booking_down(request):
        raise httpx.ConnectError("refused", request=request)

    fake.serve("booking", booking_down)
    async with portal(fake) as client:
        anonymous = await client.get("/api/v1/compte/mes-donnees")
        r = await client.get("/api/v1/compte/mes-donnees",
                             headers={"Authorization": f"Bearer {fake.parent_token()}"})
    assert anonymous.status_code == 401
    assert r.status_code == 200
    assert r.headers["content-disposition"] == (
        f'attachment; filename="marelle-mes-donnees-{date.today().isoformat()}.json"')
    data = json.loads(r.content)
    assert data["identite"]["household"]["name"] == "Famille Martin"
    assert data["identite"]["persons"][0]["first_name"] == "Léa"
    assert data["inscriptions"] == {"items": [{"id": "r1"}]}
    assert data["factures"]["invoices"] and data["paiements"] is not None
    # booking was down: its sections are named, the rest is delivered.
    assert set(data["indisponibles"]) == {"demandes_reservation", "jours_en_attente"}
    # Always the token's family, whatever the caller sends.
    assert all(FID in req.url.path for req in fake.requests
               if req.url.path.startswith("/families/"))


async def test_the_page_downloads_and_asks_for_deletion_with_a_confirmation(portal, fake, gw):
    _identity(fake)
    created = {**PENDING, "reason": "Départ de la commune."}
    fake.on("POST", f"/families/{FID}/deletion-requests", httpx.Response(201, json=created))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get("/mon-compte/mes-donnees")
        download = await client.get("/mon-compte/mes-donnees/telecharger")
        unconfirmed = await client.post("/mon-compte/mes-donnees/suppression",
                                        data=gw.with_csrf(client, {"reason": "Départ"}))
        no_csrf = await client.post("/mon-compte/mes-donnees/suppression",
                                    data={"reason": "x", "confirm": "oui"})
        sent = await client.post("/mon-compte/mes-donnees/suppression",
                                 data=gw.with_csrf(client, {"reason": "Départ de la commune.",
                                                            "confirm": "oui"}))
    assert page.status_code == 200
    assert "<h1>Mes données personnelles</h1>" in page.text
    assert "Télécharger mes données (JSON)" in page.text
    assert download.status_code == 200 and "marelle-mes-donnees-" in download.headers[
        "content-disposition"]
    assert json.loads(download.content)["identite"]["household"]["id"] == FID
    assert unconfirmed.status_code == 422
    assert "Cochez la case pour confirmer votre demande de suppression." in unconfirmed.text
    assert no_csrf.status_code == 403
    assert sent.status_code == 303 and sent.headers["location"] == "/mon-compte/mes-donnees?sent=1"
    assert fake.body("POST", f"/families/{FID}/deletion-requests") == {
        "reason": "Départ de la commune."}


async def test_a_pending_request_is_shown_and_a_second_one_refused_in_french(portal, fake, gw):
    _identity(fake, [PENDING])
    fake.on("POST", f"/families/{FID}/deletion-requests", gw.problem(
        409, "Une demande de suppression de vos données est déjà en attente : la structure "
             "vous répondra."))
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        page = await client.get("/mon-compte/mes-donnees")
        again = await client.post("/mon-compte/mes-donnees/suppression",
                                  data=gw.with_csrf(client, {"confirm": "oui"}))
        english = await client.get("/mon-compte/mes-donnees",
                                   headers={"Accept-Language": "en"})
    assert "Votre demande de suppression du 29/11/2026 est en attente" in page.text
    assert "<form method=\"post\" action=\"/mon-compte/mes-donnees/suppression\"" not in page.text
    assert again.status_code == 409 and "déjà en attente" in again.text
    assert english.status_code == 200
