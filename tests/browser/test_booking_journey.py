"""Issue « Booking », the guide's autumn example in Chromium with every process running.

A period that starts on a Thursday and ends on a Thursday two weeks later, so the memo's weeks are
those of the guide (« Sem 1 : jeudi et vendredi », « Sem 2 : du lundi au vendredi », « Sem 3 »…).
The family applies a typical week from « Réservation selon une semaine type »: one Thursday is
full (another family holds its only place), so it lands on the day's waiting list; the family
moves one day to another group with « Affecter les Groupes »; the other family cancels its
Thursday, which promotes ours (the grid shows it booked, an email says so); the family books the
shuttle on a booked day in « Mes navettes ». Billing holds every fact, as it received the events.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from tests.browser.test_identity_journey import eventually
from tests.e2e.test_family_flows import invited_family

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def next_thursday(after: date) -> date:
    return after + timedelta(days=(3 - after.weekday()) % 7 or 7)


def thursday_without_public_holidays(after: date) -> date:
    """The first Thursday after `after` whose fortnight (the period: Thursday to the Thursday
    two weeks on) has no French public holiday: the calendars skip them, and the tests count
    the days of each week (a period over Christmas would lose its Friday)."""
    start = next_thursday(after)
    public = holidays.France(years=range(start.year, start.year + 2))
    while any(start + timedelta(days=n) in public for n in range(15)):
        start += timedelta(days=7)
    return start


async def autumn_period(staff, stack) -> dict:
    """CENTRE DE LOISIRS ALSH › Mercredi, vacances › AUTOMNE › « Automne », two groups of 6-8."""
    enrolment, now = stack.url("enrolment"), datetime.now(UTC)
    start = thursday_without_public_holidays(date.today() + timedelta(days=9))
    ids: dict = {"start": start, "end": start + timedelta(days=14)}
    for key, path, body in [
        ("facility", "facilities", lambda: {"name": f"CENTRE DE LOISIRS ALSH {uuid.uuid4().hex[:4]}"}),
        ("type", "activity-types", lambda: {"facility_id": ids["facility"], "name": "Mercredi, vacances"}),
        ("activity", "activities", lambda: {"activity_type_id": ids["type"], "name": "AUTOMNE"}),
        ("period", "periods", lambda: {
            "activity_id": ids["activity"], "label": "Automne", "start_date": start.isoformat(),
            "end_date": ids["end"].isoformat(), "opens_at": (now - timedelta(hours=1)).isoformat(),
            "closes_at": (now + timedelta(days=8)).isoformat(), "validation_mode": "structure"}),
        ("group", "groups", lambda: {"period_id": ids["period"], "label": "6-8 ans Rémond",
                                     "min_age": 6, "max_age": 8, "capacity": 10}),
        ("other_group", "groups", lambda: {"period_id": ids["period"], "label": "6-8 ans Bouchet",
                                           "min_age": 6, "max_age": 8, "capacity": 10}),
    ]:
        r = await staff.post(f"{enrolment}/staff/{path}", json=body())
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    return ids


async def validated_child(stack, staff, ids, surname: str, first: str) -> dict:
    email = f"famille.{uuid.uuid4().hex[:8]}@example.org"
    seven = f"{date.today().year - 7}-03-01"
    family_id, parent = await invited_family(stack, staff, f"Famille {surname}", email,
                                             [{"first_name": first, "last_name": surname,
                                               "birth_date": seven}])
    enrolment = stack.url("enrolment")
    people = (await staff.get(f"{stack.url('identity')}/staff/families/{family_id}")).json()
    child_id = next(p["id"] for p in people["family"]["persons"] if p["first_name"] == first)
    await eventually(lambda: staff.get(f"{enrolment}/staff/children/{child_id}"),
                     lambda r: r.status_code == 200)
    import httpx

    async with httpx.AsyncClient(timeout=10, headers=parent) as client:
        r = await client.post(f"{enrolment}/families/{family_id}/registrations", json={
            "child_id": child_id, "group_id": ids["group"],
            "typical_week": [{"weekday": 1, "units": ["journee"]},
                             {"weekday": 2, "units": ["journee"]},
                             {"weekday": 4, "units": ["journee"]}],
            "memo": "Allergie aux arachides."})
        result = r.json()["results"][0]
        assert result["ok"], result
    registration_id = result["registration"]["id"]
    r = await staff.post(f"{enrolment}/staff/registrations/decisions", json={"decisions": [
        {"registration_id": registration_id, "decision": "validate"}]})
    assert r.json()["results"][0]["ok"], r.text
    # Booking learns the validated registration from enrolment's events.
    await eventually(lambda: staff.get(f"{stack.url('booking')}/staff/registrations",
                                       params={"child_id": child_id}),
                     lambda r: r.status_code == 200 and r.json()["items"])
    return {"family_id": family_id, "parent": parent, "email": email, "child_id": child_id,
            "registration_id": registration_id}


async def test_guide_autumn_example_in_the_browser(browser, stack, staff_client, artifacts):
    booking = stack.url("booking")
    ids = await autumn_period(staff_client, stack)
    start, end = ids["start"], ids["end"]
    full_thursday = start + timedelta(days=7)  # the second week's Thursday
    # Booking learns the period and both groups from enrolment's catalogue events.
    await eventually(lambda: staff_client.get(f"{booking}/staff/periods/{ids['period']}"),
                     lambda r: r.status_code == 200 and len(r.json()["groups"]) == 2)
    r = await staff_client.put(f"{booking}/staff/calendars/{ids['period']}", json={
        "weekdays": [1, 2, 3, 4, 5], "skip_public_holidays": True, "week_only": False,
        "booking_deadline": {"days": 1, "working_days": False, "cutoff": "15:00"},
        "cancellation_deadline": {"days": 1, "working_days": False, "cutoff": "15:00"},
        "memo": "Réservation la veille avant 15 h.",
        "units": [{"code": "matin", "label": "Accueil du matin", "kind": "accueil"},
                  {"code": "repas", "label": "Repas", "kind": "supplement"},
                  {"code": "journee", "label": "Journée complète", "kind": "journee",
                   "implies": ["repas"]}],
        "capacities": [
            *({"group_id": g, "unit": u, "capacity": 10}
              for g in (ids["group"], ids["other_group"]) for u in ("matin", "repas", "journee")),
            {"group_id": ids["group"], "unit": "journee", "capacity": 1,
             "day": full_thursday.isoformat()}]})
    assert r.status_code == 200, r.text
    weeks = r.json()["weeks"]
    assert [len(w["days"]) for w in weeks] == [2, 5, 4]  # Thu–Fri, Mon–Fri, Mon–Thu

    surname = f"Rémond{uuid.uuid4().hex[:4]}"
    lea = await validated_child(stack, staff_client, ids, surname, "Léa")
    other = await validated_child(stack, staff_client, ids, f"Voisin{uuid.uuid4().hex[:4]}", "Tom")
    import httpx

    async with httpx.AsyncClient(timeout=10, headers=other["parent"]) as client:
        r = await client.post(f"{booking}/families/{other['family_id']}/registrations/"
                              f"{other['registration_id']}/reservations", json={"changes": [
                                  {"day": full_thursday.isoformat(), "unit": "journee",
                                   "action": "reserver"}]})
        assert r.json()["results"][0]["status"] == "reservee", r.text

    r = await staff_client.post(f"{booking}/staff/shuttle-lines", json={
        "period_id": ids["period"], "name": "Ligne 1", "seats": 12, "stops": [
            {"name": "Mairie", "morning_time": "08:05", "evening_time": "17:40"},
            {"name": "École Jules-Ferry", "morning_time": "08:15", "evening_time": "17:30"}]})
    assert r.status_code == 201, r.text

    context = await browser.new_context(locale="fr-FR")
    base = f"{stack.gateway_url}/mes-inscriptions/{lea['registration_id']}"
    try:
        page = await context.new_page()
        await page.goto(f"{stack.gateway_url}/")
        await page.get_by_label("Votre identifiant").fill(lea["email"])
        await page.get_by_label("Votre mot de passe").fill("mot-de-passe-famille")
        await page.get_by_role("button", name="Connexion").click()
        await page.wait_for_url(f"{stack.gateway_url}/tableau-de-bord")

        # « Mes réservations »: the memo with the guide's weeks, « Choix du Groupe ».
        await page.goto(f"{base}/reservations?mois={start:%Y-%m}")
        body = await page.locator("main").inner_text()
        assert "MEMO : Informations réservation" in body
        assert "Sem 1" in body and "Sem 2 : du lundi au vendredi" in body
        assert "Choix du Groupe" in body and "Accueils" in body and "Journée" in body

        # « Réservation selon une semaine type », pre-filled from the registration (Mon, Tue, Thu).
        await page.get_by_role("link", name="Réservation selon une semaine type").click()
        for weekday in (1, 2, 4):
            assert await page.locator(f'input[name="jour-{weekday}"][value="journee"]').is_checked()
        await page.locator("#debut").fill(start.isoformat())
        await page.locator("#fin").fill(end.isoformat())
        await page.get_by_role("button", name="Réserver selon cette semaine type").click()
        results = page.locator("section.results")
        await results.wait_for()
        assert "Réservés : 6 – En liste d'attente : 1" in await results.inner_text()
        await results.get_by_text("Voir le détail jour par jour").click()  # a <details>
        text = await results.inner_text()
        assert "Liste d'attente, position 1" in text, text
        await page.screenshot(path=str(artifacts / "booking-typical-week.png"), full_page=True)

        # « Liste d'attente »: the full Thursday, position 1.
        await page.goto(f"{base}/liste-attente")
        waiting = await page.locator("main").inner_text()
        assert "1" in waiting and "Journée complète" in waiting

        # « Affecter les Groupes »: the first Monday to the other group.
        first_monday = start + timedelta(days=4)
        await page.goto(f"{base}/reservations/groupes?mois={first_monday:%Y-%m}")
        await page.locator(f'input[name="jours"][value="{first_monday.isoformat()}"]').check()
        await page.locator("#groupe").select_option(ids["other_group"])
        await page.get_by_role("button", name="Affecter le groupe").click()
        await page.locator("section.results").wait_for()
        assert "Groupe affecté" in await page.locator("section.results").inner_text()

        # The other family gives up its Thursday: ours is promoted, the family is told.
        async with httpx.AsyncClient(timeout=10, headers=other["parent"]) as client:
            r = await client.post(f"{booking}/families/{other['family_id']}/registrations/"
                                  f"{other['registration_id']}/reservations", json={"changes": [
                                      {"day": full_thursday.isoformat(), "unit": "journee",
                                       "action": "annuler"}]})
            assert r.json()["results"][0]["ok"], r.text
        mail = await asyncio.to_thread(stack.mailbox.find, lea["email"],
                                       "Une place s'est libérée pour Léa")
        assert "Journée complète" in stack.mailbox.text(mail)
        await page.goto(f"{base}/reservations?mois={full_thursday:%Y-%m}")
        cell = page.locator(f"#case-{full_thursday.isoformat()}-journee")
        assert await cell.is_checked()
        label = await page.locator(f'label[for="case-{full_thursday.isoformat()}-journee"]').inner_text()
        assert "Réservé" in label, label

        # « Mes navettes »: the morning shuttle from the Mairie on the first Thursday.
        await page.goto(f"{base}/navettes?mois={start:%Y-%m}")
        await page.locator("#arret").select_option(label="Mairie")
        await page.locator('input[name="sens"][value="aller"]').check()
        await page.locator(f'input[name="jours"][value="{start.isoformat()}"]').check()
        await page.get_by_role("button", name="Valider").click()
        await page.locator("section.results").wait_for()
        shuttle = await page.locator("section.results").inner_text()
        assert "Refusés : 0" in shuttle and "Matin (aller) : ✓ Enregistré" in shuttle, shuttle
        await page.screenshot(path=str(artifacts / "booking-shuttle.png"), full_page=True)

        # « Mon tableau de bord » lists the reservations.
        await page.goto(f"{stack.gateway_url}/tableau-de-bord")
        assert "Réservation de Léa" in await page.locator("main").inner_text()
    finally:
        await context.close()

    # Billing received the events: the promoted Thursday is booked there, and the shuttle.
    facts = await eventually(
        lambda: staff_client.get(f"{stack.url('billing')}/staff/booking-facts",
                                 params={"child_id": lea["child_id"]}),
        lambda r: r.status_code == 200 and r.json()["shuttles"] and any(
            x["day"] == full_thursday.isoformat() and x["unit"] == "journee"
            and x["status"] == "reservee" for x in r.json()["reservations"]))
    held = facts.json()
    assert any(x["day"] == full_thursday.isoformat() and x["status"] == "reservee"
               and x["unit"] == "journee" for x in held["reservations"]), held
    assert held["shuttles"][0]["stop_name"] == "Mairie"
