"""Issue #11: the journal page merges identity's audit log with enrolment's, booking's and
billing's by time (newest first) and filters it by service, action, staff email and days."""

from __future__ import annotations

from .conftest import sign_in
from .test_admin import ADMIN, AUDIT

AGENT = "51515151-0000-4000-8000-000000000009"
# What each service's GET /staff/audit answers (marelle_chassis.audit.AuditEntries).
SERVICE_AUDIT = {
    "enrolment": {"items": [
        {"id": 7, "at": "2025-07-14T12:30:00+00:00", "service": "enrolment", "staff_id": AGENT,
         "staff_email": "sacha@ville.test", "action": "inscription.refusee",
         "target": "inscription:42", "before": {"status": "en_attente"},
         "after": {"status": "refusee", "reason": "Complet."}}]},
    "booking": {"items": [
        {"id": 3, "at": "2025-03-01T08:00:00+00:00", "service": "booking", "staff_id": AGENT,
         "staff_email": "sacha@ville.test", "action": "calendrier.modifie",
         "target": "periode:9", "before": None, "after": {"units": ["repas"]}}]},
    "billing": {"items": [
        {"id": 11, "at": "2025-07-14T09:00:00+00:00", "service": "billing", "staff_id": AGENT,
         "staff_email": "camille@ville.test", "action": "tarif.cree", "target": "tarif:5",
         "before": None, "after": {"unit": "repas"}}]},
}


def _all(fake):
    fake.on("GET", "identity", "/staff/audit", AUDIT)
    for service, answer in SERVICE_AUDIT.items():
        fake.on("GET", service, "/staff/audit", answer)


async def test_the_journal_merges_every_service_newest_first(backoffice, fake):
    _all(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        html = (await client.get("/journal")).text
    order = ["inscription:42", "famille Martin", "tarif:5", "periode:9", "demande 42"]
    positions = [html.index(target) for target in order]
    assert positions == sorted(positions), positions  # 12:30, 10:05, 09:00 (14/07), 01/03, 02/01
    assert "Inscriptions (enrolment)" in html and "Facturation (billing)" in html
    assert "<dt>Avant</dt><dd>status : en_attente</dd>" in html
    assert "<dt>Après</dt><dd>status : refusee ; reason : Complet.</dd>" in html
    assert "indisponible" not in html
    for service in SERVICE_AUDIT:
        [sent] = fake.sent("GET", service, "/staff/audit")
        assert sent.url.params["limit"] == "200"


async def test_the_journal_filters(backoffice, fake):
    _all(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=ADMIN)
        by_service = (await client.get("/journal", params={"service": "billing"})).text
        by_action = (await client.get("/journal", params={"action": "REFUS"})).text
        by_agent = (await client.get("/journal", params={"agent": "camille@"})).text
        by_days = (await client.get("/journal", params={"du": "14/07/2025",
                                                        "au": "2025-07-14"})).text
        bad_day = (await client.get("/journal", params={"du": "demain"})).text
    assert "tarif:5" in by_service and "inscription:42" not in by_service
    assert "famille Martin" not in by_service
    # Five pages; the one filtered on billing asked no other service.
    assert len(fake.sent("GET", "billing", "/staff/audit")) == 5
    assert len(fake.sent("GET", "enrolment", "/staff/audit")) == 4
    assert "inscription:42" in by_action and "tarif:5" not in by_action
    assert "demande 42" in by_action  # identity's « contact_change.refused »
    assert "tarif:5" in by_agent and "famille Martin" in by_agent
    assert "inscription:42" not in by_agent
    assert [s.url.params.get("staff") for s in fake.sent("GET", "booking", "/staff/audit")
            if s.url.params.get("staff")] == ["camille@"]  # passed on to the services
    for target in ("inscription:42", "famille Martin", "tarif:5"):
        assert target in by_days
    assert "periode:9" not in by_days and "demande 42" not in by_days
    assert "Date invalide" in bad_day


async def test_a_service_down_leaves_the_others_shown(backoffice, fake):
    fake.on("GET", "identity", "/staff/audit", AUDIT)
    fake.on("GET", "enrolment", "/staff/audit", SERVICE_AUDIT["enrolment"])
    async with backoffice(fake) as client:  # booking and billing answer 404: not there
        sign_in(client, roles=ADMIN)
        response = await client.get("/journal")
    assert response.status_code == 200
    assert "famille Martin" in response.text and "inscription:42" in response.text
    assert "Réservations (booking)" in response.text and "indisponible" in response.text


async def test_a_manager_cannot_read_the_journal(backoffice, fake):
    _all(fake)
    async with backoffice(fake) as client:
        sign_in(client, roles=("manager",))
        response = await client.get("/journal")
    assert response.status_code in (302, 303, 403)
    assert not fake.sent("GET", "enrolment", "/staff/audit")
