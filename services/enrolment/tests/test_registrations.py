"""« Mes inscriptions »: the guide's example, the rules, waiting lists, capacity under a rush."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import select

from marelle_chassis.messaging_tables import outbox_table
from marelle_enrolment.db import metadata, registration
from services.enrolment.tests.conftest import born_years_ago
from tests.support import tokens

pytestmark = pytest.mark.postgres


async def events(enrolment, key: str | None = None) -> list[str]:
    async with enrolment.app.state.runtime.uow() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
    return [r.event_type for r in rows if key is None or json.loads(r.envelope)["key"] == key]


async def test_guide_example_with_typical_week_memo_and_sibling(enrolment):
    ids = await enrolment.catalogue()
    family = await enrolment.family("Rémond", {"Léa": born_years_ago(7), "Hugo": born_years_ago(8)})
    offer = (await enrolment.client.get(
        f"/families/{family.id}/children/{family.children['Léa']}/offer", headers=family.headers)).json()
    facility = next(f for f in offer["facilities"] if f["id"] == str(ids["facility"]))
    period = facility["activity_types"][0]["activities"][0]["periods"][0]
    assert (facility["activity_types"][0]["name"], period["label"], period["groups"][0]["label"]) == (
        "Mercredi, vacances", "Automne 2026", "6-8 ans Rémond")
    assert period["memo"] == "Attention les inscriptions sont à la semaine."

    r = await enrolment.request(family, "Léa", ids["group"], memo="Allergie aux arachides",
                                typical_week=[{"weekday": 3}, {"weekday": 1}],
                                duplicate_for=[str(family.children["Hugo"])])
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert [x["ok"] for x in results] == [True, True]
    lea, hugo = (x["registration"] for x in results)
    assert lea["mark"] == "?" and lea["status"] == "en_attente"
    assert lea["typical_week"] == [{"weekday": 1, "units": []}, {"weekday": 3, "units": []}]
    assert hugo["memo"] == "Allergie aux arachides"

    queue = (await enrolment.client.get("/staff/registrations", params={"group_id": str(ids["group"])},
                                        headers=enrolment.staff)).json()["items"]
    assert [q["child_first_name"] for q in queue] == ["Léa", "Hugo"]
    assert queue[0]["places_taken"] == 2 and queue[0]["capacity"] == 12
    r = await enrolment.post("/staff/registrations/decisions", {"decisions": [
        {"registration_id": lea["id"], "decision": "validate"},
        {"registration_id": hugo["id"], "decision": "refuse"}]})
    assert [x["ok"] for x in r.json()["results"]] == [True, False]
    r = await enrolment.post("/staff/registrations/decisions", {"decisions": [
        {"registration_id": hugo["id"], "decision": "refuse", "reason": "Groupe réservé aux 6-7 ans."}]})
    assert r.json()["results"][0]["ok"] is True

    listing = (await enrolment.client.get(f"/families/{family.id}/registrations",
                                          headers=family.headers)).json()["items"]
    by_child = {i["child_first_name"]: i for i in listing}
    assert by_child["Léa"]["mark"] == "V" and by_child["Léa"]["status"] == "validee"
    assert by_child["Hugo"]["status"] == "refusee"
    assert by_child["Hugo"]["reason"] == "Groupe réservé aux 6-7 ans."
    current = (await enrolment.client.get(f"/families/{family.id}/registrations",
                                          params={"state": "cours"}, headers=family.headers)).json()
    assert [i["child_first_name"] for i in current["items"]] == ["Léa"]
    board = (await enrolment.client.get(f"/families/{family.id}/requests",
                                        headers=family.headers)).json()["items"]
    assert sorted(i["status"] for i in board) == ["acceptee", "refusee"]
    assert any("Groupe réservé" in (i["reason"] or "") for i in board)
    assert await events(enrolment, str(family.children["Léa"])) == [
        "enrolment.registration_requested", "enrolment.registration_validated"]
    assert await events(enrolment, str(family.children["Hugo"])) == [
        "enrolment.registration_requested", "enrolment.registration_refused"]


async def test_rules_give_clear_french_reasons(enrolment):
    ids = await enrolment.catalogue()
    family = await enrolment.family("Dupont", {"Zoé": born_years_ago(7), "Bébé": born_years_ago(2)})
    r = await enrolment.request(family, "Bébé", ids["group"])
    result = r.json()["results"][0]
    assert result["ok"] is False
    assert "accueille les enfants de 6 à 8 ans" in result["detail"] and "aura alors" in result["detail"]
    assert (await enrolment.request(family, "Zoé", ids["group"])).json()["results"][0]["ok"]
    again = (await enrolment.request(family, "Zoé", ids["group"])).json()["results"][0]
    assert again["ok"] is False and "déjà une inscription" in again["detail"]

    later = await enrolment.catalogue(opens_in=timedelta(days=3), closes_in=timedelta(days=10))
    r = (await enrolment.request(family, "Zoé", later["group"])).json()["results"][0]
    assert r["ok"] is False and "ne sont pas encore ouvertes : elles le seront du" in r["detail"]
    closed = await enrolment.catalogue(opens_in=-timedelta(days=10), closes_in=-timedelta(days=1))
    r = (await enrolment.request(family, "Zoé", closed["group"])).json()["results"][0]
    assert r["ok"] is False and "sont closes" in r["detail"]

    other = await enrolment.family("Autre", {"Max": born_years_ago(7)})
    r = await enrolment.post(f"/families/{family.id}/registrations",
                             {"child_id": str(other.children["Max"]), "group_id": str(ids["group"])},
                             headers=family.headers)
    assert r.json()["results"][0]["ok"] is False
    # Another family's id in the path: not found, whatever the body.
    r = await enrolment.client.get(f"/families/{other.id}/registrations", headers=family.headers)
    assert r.status_code == 404
    r = await enrolment.client.get("/staff/registrations", headers=family.headers)
    assert r.status_code == 403


async def test_waiting_list_positions_and_automatic_promotion(enrolment):
    ids = await enrolment.catalogue(capacity=1, validation="automatique")
    fam = await enrolment.family("Liste", {"Un": born_years_ago(7), "Deux": born_years_ago(7),
                                           "Trois": born_years_ago(7)})
    first = (await enrolment.request(fam, "Un", ids["group"])).json()["results"][0]["registration"]
    second = (await enrolment.request(fam, "Deux", ids["group"])).json()["results"][0]
    third = (await enrolment.request(fam, "Trois", ids["group"])).json()["results"][0]["registration"]
    assert first["status"] == "validee"
    assert second["registration"]["status"] == "liste_attente"
    assert "en position 1" in second["detail"]
    assert third["waitlist_position"] == 2
    r = await enrolment.client.post(f"/families/{fam.id}/registrations/{first['id']}/cancel",
                                    headers=fam.headers)
    assert r.status_code == 204
    now = {i["child_first_name"]: i for i in (await enrolment.client.get(
        f"/families/{fam.id}/registrations", headers=fam.headers)).json()["items"]}
    assert now["Un"]["status"] == "annulee"
    assert now["Deux"]["status"] == "validee"
    assert now["Trois"]["waitlist_position"] == 1
    assert await events(enrolment, str(fam.children["Deux"])) == [
        "enrolment.registration_requested", "enrolment.registration_waitlisted",
        "enrolment.registration_promoted", "enrolment.registration_validated"]


async def test_staff_promotion_reorder_and_removal(enrolment):
    ids = await enrolment.catalogue(capacity=1, validation="automatique", promotion="structure")
    fam = await enrolment.family("Staff", {"A": born_years_ago(7), "B": born_years_ago(7),
                                           "C": born_years_ago(7)})
    a = (await enrolment.request(fam, "A", ids["group"])).json()["results"][0]["registration"]
    b = (await enrolment.request(fam, "B", ids["group"])).json()["results"][0]["registration"]
    c = (await enrolment.request(fam, "C", ids["group"])).json()["results"][0]["registration"]
    r = await enrolment.client.post(f"/staff/registrations/{b['id']}/promote", headers=enrolment.staff)
    assert r.status_code == 409 and "complet" in r.json()["detail"]
    await enrolment.client.post(f"/families/{fam.id}/registrations/{a['id']}/cancel", headers=fam.headers)
    wl = (await enrolment.client.get(f"/staff/groups/{ids['group']}/waiting-list",
                                     headers=enrolment.staff)).json()
    assert [i["child_first_name"] for i in wl["items"]] == ["B", "C"]  # nobody promoted yet
    r = await enrolment.client.put(f"/staff/groups/{ids['group']}/waiting-list", headers=enrolment.staff,
                                   json={"registration_ids": [c["id"], b["id"]]})
    assert r.status_code == 204
    r = await enrolment.client.post(f"/staff/registrations/{c['id']}/promote", headers=enrolment.staff)
    assert r.status_code == 204
    r = await enrolment.post(f"/staff/registrations/{b['id']}/remove-from-waiting-list",
                             {"reason": "Famille injoignable"})
    assert r.status_code == 204
    statuses = {i["child_first_name"]: i["status"] for i in (await enrolment.client.get(
        f"/families/{fam.id}/registrations", headers=fam.headers)).json()["items"]}
    assert statuses == {"A": "annulee", "B": "annulee", "C": "validee"}


@pytest.mark.parametrize("capacity, requests", [(5, 16)])
async def test_simultaneous_requests_never_exceed_capacity(enrolment, capacity, requests):
    ids = await enrolment.catalogue(capacity=capacity, validation="automatique")
    families = [await enrolment.family(f"Rush{i}", {"Enfant": born_years_ago(7)})
                for i in range(requests)]
    answers = await asyncio.gather(*(enrolment.request(f, "Enfant", ids["group"]) for f in families))
    assert all(a.status_code == 201 for a in answers)
    async with enrolment.app.state.runtime.uow() as uow:
        rows = (await uow.session.execute(select(registration).where(
            registration.c.group_id == ids["group"]))).all()
    validated = [r for r in rows if r.status == "validee"]
    waiting = sorted((r for r in rows if r.status == "liste_attente"), key=lambda r: r.waitlist_rank)
    assert len(validated) == capacity
    assert len(waiting) == requests - capacity
    # The waiting list is in arrival order: every validated request came before the first waiting
    # one, and the ranks follow the request times.
    assert max(r.requested_at for r in validated) <= min(r.requested_at for r in waiting)
    assert [r.requested_at for r in waiting] == sorted(r.requested_at for r in waiting)


async def test_attestation_is_requested_issued_and_downloaded_as_pdf(enrolment):
    ids = await enrolment.catalogue(validation="automatique")
    fam = await enrolment.family("Attest", {"Inès": born_years_ago(7)})
    reg = (await enrolment.request(fam, "Inès", ids["group"])).json()["results"][0]["registration"]
    r = await enrolment.client.post(f"/families/{fam.id}/registrations/{reg['id']}/attestation-requests",
                                    headers=fam.headers)
    assert r.status_code == 201
    attestation_id = r.json()["id"]
    again = await enrolment.client.post(
        f"/families/{fam.id}/registrations/{reg['id']}/attestation-requests", headers=fam.headers)
    assert again.status_code == 409
    early = await enrolment.client.get(f"/families/{fam.id}/attestations/{attestation_id}/pdf",
                                       headers=fam.headers)
    assert early.status_code == 404
    queue = (await enrolment.client.get("/staff/attestation-requests", headers=enrolment.staff)).json()
    assert [q["child_name"] for q in queue["items"]] == ["Inès Attest"]
    r = await enrolment.client.post(f"/staff/attestation-requests/{attestation_id}/issue",
                                    headers=enrolment.staff)
    assert r.status_code == 200 and r.json()["status"] == "delivree"
    pdf = await enrolment.client.get(f"/families/{fam.id}/attestations/{attestation_id}/pdf",
                                     headers=fam.headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    for expected in ("Attestation d'inscription", "Ville de Marelle", "Inès Attest", "AUTOMNE",
                     "Automne 2026", "6-8 ans Rémond", "CENTRE DE LOISIRS ALSH"):
        assert expected in text, expected
    stranger = tokens.parent(fam.id.__class__(int=fam.id.int ^ 1))
    r = await enrolment.client.get(f"/families/{fam.id}/attestations/{attestation_id}/pdf",
                                   headers=stranger)
    assert r.status_code == 404
    assert "enrolment.attestation_issued" in await events(enrolment, str(fam.children["Inès"]))


async def test_closing_and_reopening_and_field_errors(enrolment):
    ids = await enrolment.catalogue()
    fam = await enrolment.family("Clos", {"Eva": born_years_ago(7)})
    r = await enrolment.client.post(f"/staff/groups/{ids['group']}/close", headers=enrolment.staff)
    assert r.status_code == 204
    closed = (await enrolment.request(fam, "Eva", ids["group"])).json()["results"][0]
    assert closed["ok"] is False and "fermées" in closed["detail"]
    await enrolment.client.post(f"/staff/groups/{ids['group']}/reopen", headers=enrolment.staff)
    await enrolment.client.post(f"/staff/periods/{ids['period']}/close", headers=enrolment.staff)
    assert not (await enrolment.request(fam, "Eva", ids["group"])).json()["results"][0]["ok"]
    await enrolment.client.post(f"/staff/periods/{ids['period']}/reopen", headers=enrolment.staff)
    assert (await enrolment.request(fam, "Eva", ids["group"])).json()["results"][0]["ok"]
    r = await enrolment.client.put(f"/staff/groups/{ids['group']}", headers=enrolment.staff,
                                   json={"label": "6-8 ans", "min_age": 6, "max_age": 8, "capacity": 0})
    assert r.status_code == 409 and "ne peut pas descendre" in r.json()["detail"]
    r = await enrolment.post("/staff/periods", {
        "activity_id": str(ids["activity"]), "label": "Mauvaise", "start_date": "2026-12-10",
        "end_date": "2026-12-01", "opens_at": "2026-11-01T08:00:00+01:00",
        "closes_at": "2026-11-20T18:00:00+01:00"})
    assert r.status_code == 422 and r.json()["erreurs"][0]["champ"] == "end_date"


async def test_removal_from_the_waiting_list_needs_no_body(enrolment):
    ids = await enrolment.catalogue(capacity=0, validation="automatique")
    fam = await enrolment.family("Vide", {"Tom": born_years_ago(7)})
    reg = (await enrolment.request(fam, "Tom", ids["group"])).json()["results"][0]["registration"]
    assert reg["status"] == "liste_attente"
    r = await enrolment.client.post(f"/staff/registrations/{reg['id']}/remove-from-waiting-list",
                                    headers=enrolment.staff)
    assert r.status_code == 204
