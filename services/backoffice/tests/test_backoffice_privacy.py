"""GDPR (issue #11): administrators decide the families' deletion requests; every staff member
sees « Consultations du dossier » of a household."""

from __future__ import annotations

from marelle_contracts.http import identity as I

from .conftest import csrf_of, problem, sign_in

FAMILY = "0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
REQUEST = "22222222-2222-4222-8222-222222222222"
PENDING = {"items": [{"id": REQUEST, "family_id": FAMILY, "family_name": "Famille Martin",
                      "status": "en_attente", "reason": "Nous déménageons.",
                      "created_at": "2026-11-29T08:00:00+00:00"}]}
ADMIN = ("administrator", "manager")


def _decision(fake, answer=None):
    fake.on("GET", "identity", "/staff/deletion-requests", PENDING)
    decided = {**PENDING["items"][0], "status": "acceptee",
               "decided_at": "2026-11-30T08:00:00+00:00"}
    fake.on("POST", "identity", f"/staff/deletion-requests/{REQUEST}/decision",
            answer or decided)


async def test_an_administrator_accepts_a_deletion_request(backoffice, fake):
    I.PendingDeletionRequests.model_validate(PENDING)
    _decision(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        page = await client.get("/suppressions")
        csrf = await csrf_of(client, "/suppressions")
        r = await client.post(f"/suppressions/{REQUEST}", data={"csrf": csrf,
                                                                "decision": "accept"})
        done = await client.get(r.headers["location"])
    assert page.status_code == 200
    assert "<h1>Demandes de suppression de données</h1>" in page.text
    assert f'<a href="/familles/{FAMILY}">Famille Martin</a>' in page.text
    assert "Nous déménageons." in page.text
    assert 'href="/suppressions" aria-current="page"' in page.text  # the admin's menu entry
    assert r.status_code == 303 and r.headers["location"] == "/suppressions?message=acceptee"
    [sent] = fake.sent("POST", "identity", f"/staff/deletion-requests/{REQUEST}/decision")
    assert sent.content == b'{"decision":"accept","reason":null}'
    assert "le foyer est anonymisé dans tous les services" in done.text


async def test_refusing_needs_a_reason_and_a_decided_request_is_said(backoffice, fake):
    _decision(fake, problem(409, "Cette demande a déjà été traitée."))
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        csrf = await csrf_of(client, "/suppressions")
        no_reason = await client.post(f"/suppressions/{REQUEST}",
                                      data={"csrf": csrf, "decision": "refuse"})
        late = await client.post(f"/suppressions/{REQUEST}",
                                 data={"csrf": csrf, "decision": "refuse", "motif": "Impayé"})
    assert no_reason.status_code == 422
    assert "Indiquez le motif du refus : il est communiqué à la famille." in no_reason.text
    assert f'id="motif-{REQUEST}"' in no_reason.text and 'aria-invalid="true"' in no_reason.text
    assert late.status_code == 409 and "Cette demande a déjà été traitée." in late.text
    # The refused one without a reason never reached identity.
    assert len(fake.sent("POST", "identity", f"/staff/deletion-requests/{REQUEST}/decision")) == 1


async def test_managers_neither_see_nor_reach_the_deletion_requests(backoffice, fake):
    _decision(fake)
    fake.on("GET", "identity", "/staff/families", {"items": []})
    async with backoffice(fake) as client:
        sign_in(client, roles=("manager",))
        home = await client.get("/familles")
        page = await client.get("/suppressions")
    assert 'href="/suppressions"' not in home.text
    assert page.status_code == 403
    assert not fake.sent("GET", "identity", "/staff/deletion-requests")


async def test_consultations_of_a_household_in_one_call(backoffice, fake):
    reads = {"items": [{"at": "2026-11-30T09:15:00+00:00", "staff_id": None,
                        "staff_email": "camille@ville.test", "what": "fiche_foyer"},
                       {"at": "2026-11-29T16:00:00+00:00", "staff_id": None,
                        "staff_email": "admin@ville.test", "what": "fiche_foyer"}]}
    I.HouseholdReads.model_validate(reads)
    fake.on("GET", "identity", f"/staff/families/{FAMILY}/reads", reads)
    async with backoffice(fake) as client:
        sign_in(client)
        page = await client.get(f"/familles/{FAMILY}/consultations")
        bad = await client.get("/familles/pas-un-id/consultations")
    assert page.status_code == 200
    assert "<h1>Consultations du dossier</h1>" in page.text
    assert page.text.index("camille@ville.test") < page.text.index("admin@ville.test")
    assert "30/11/2026 10:15" in page.text and "Fiche du foyer" in page.text
    assert len(fake.domain_calls()) == 1  # a fixed number of queries, whatever the count
    assert bad.status_code in (400, 404)
