"""Issue « Enrolment », the guide's example in Chromium with every process running: a family asks
for CENTRE DE LOISIRS ALSH › Mercredi, vacances › AUTOMNE › Automne › 6-8 ans with a typical week,
a memo and the same request for a brother; staff validate one and refuse the other in the
back-office; the family sees V and the refusal with its reason, on the list and the dashboard,
gets the emails, and booking holds the validated registration."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.browser.test_identity_journey import eventually, staff_login
from tests.e2e.test_family_flows import invited_family

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def guide_catalogue(staff_client, enrolment: str) -> dict[str, str]:
    now = datetime.now(UTC)
    start = date.today() + timedelta(days=25)
    ids: dict[str, str] = {}
    steps = [
        ("facility", "facilities", lambda: {"name": f"CENTRE DE LOISIRS ALSH {uuid.uuid4().hex[:4]}"}),
        ("type", "activity-types", lambda: {"facility_id": ids["facility"], "name": "Mercredi, vacances"}),
        ("activity", "activities", lambda: {"activity_type_id": ids["type"], "name": "AUTOMNE"}),
        ("period", "periods", lambda: {
            "activity_id": ids["activity"], "label": "Automne 2026", "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=14)).isoformat(),
            "opens_at": (now - timedelta(hours=2)).isoformat(),
            "closes_at": (now + timedelta(days=10)).isoformat(),
            "memo": "Attention les inscriptions sont à la semaine.",
            "validation_mode": "structure"}),
        ("group", "groups", lambda: {"period_id": ids["period"], "label": "6-8 ans Rémond",
                                     "min_age": 6, "max_age": 8, "capacity": 12}),
    ]
    for key, path, body in steps:
        r = await staff_client.post(f"{enrolment}/staff/{path}", json=body())
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    return ids


async def test_guide_example_request_decisions_and_booking(browser, stack, staff_client, artifacts):
    enrolment = stack.url("enrolment")
    ids = await guide_catalogue(staff_client, enrolment)
    surname = f"Rémond{uuid.uuid4().hex[:4]}"
    email = f"famille.{uuid.uuid4().hex[:8]}@example.org"
    year = date.today().year
    family_id, _ = await invited_family(stack, staff_client, f"Famille {surname}", email, [
        {"first_name": "Léa", "last_name": surname, "birth_date": f"{year - 7}-02-10"},
        {"first_name": "Hugo", "last_name": surname, "birth_date": f"{year - 8}-01-05"}])
    people = (await staff_client.get(f"{stack.url('identity')}/staff/families/{family_id}")).json()
    lea = next(p["id"] for p in people["family"]["persons"] if p["first_name"] == "Léa")
    # Enrolment learns the children from identity's events.
    await eventually(lambda: staff_client.get(f"{enrolment}/staff/children/{lea}"),
                     lambda r: r.status_code == 200)

    family_context = await browser.new_context(locale="fr-FR")
    staff_context = await browser.new_context(locale="fr-FR")
    try:
        portal = await family_context.new_page()
        await portal.goto(f"{stack.gateway_url}/")
        await portal.get_by_label("Votre identifiant").fill(email)
        await portal.get_by_label("Votre mot de passe").fill("mot-de-passe-famille")
        await portal.get_by_role("button", name="Connexion").click()
        await portal.wait_for_url(f"{stack.gateway_url}/tableau-de-bord")

        # From « Ma famille », Léa's card: « Nouvelle inscription ».
        await portal.goto(f"{stack.gateway_url}/ma-famille")
        await portal.locator(f'a[href="/mes-inscriptions/nouvelle?enfant={lea}"]').first.click()
        await portal.get_by_role("heading", name="Demander une nouvelle inscription").wait_for()
        for level, value in [("equipement", ids["facility"]), ("type", ids["type"]),
                             ("activite", ids["activity"]), ("periode", ids["period"]),
                             ("groupe", ids["group"])]:
            select = portal.locator(f"select#{level}")
            await select.wait_for()
            if await select.input_value() != value:
                await select.select_option(value=value)
                await portal.get_by_role("button", name="Continuer").click()
        text = await portal.locator("main").inner_text()
        assert "Attention les inscriptions sont à la semaine." in text
        assert "6-8 ans Rémond" in text
        await portal.get_by_label("Oui", exact=True).check()
        await portal.get_by_label("Lundi").check()
        await portal.get_by_label("Mercredi").check()
        await portal.get_by_label("Mémo pour les inscriptions").fill("Léa est allergique aux arachides.")
        await portal.get_by_label("Hugo").check()
        await portal.screenshot(path=str(artifacts / "enrolment-request.png"), full_page=True)
        await portal.get_by_role("button", name="Enregistrer Demande").click()
        await portal.get_by_text("Demande d'inscription de Léa transmise à la structure.").wait_for()
        await portal.get_by_text("Demande d'inscription de Hugo transmise à la structure.").wait_for()

        # Staff validate Léa and refuse Hugo, with a reason.
        office = await staff_login(staff_context, stack)
        await office.goto(f"{stack.backoffice_url}/inscriptions")
        lea_row = office.locator("tr", has_text=f"Léa {surname}")
        week = await lea_row.inner_text()
        assert "lundi" in week and "mercredi" in week and "allergique" in week
        await lea_row.get_by_role("button", name="Valider").click()
        await office.get_by_text("1 demande traitée", exact=False).first.wait_for()
        hugo_row = office.locator("tr", has_text=f"Hugo {surname}")
        await hugo_row.get_by_role("textbox").fill("Le groupe 6-8 ans est réservé aux enfants nés après 2018.")
        await hugo_row.get_by_role("button", name="Refuser").click()
        await office.get_by_text("1 demande traitée", exact=False).first.wait_for()

        # The family sees V and the refusal with its reason, on the list and the dashboard.
        await portal.goto(f"{stack.gateway_url}/mes-inscriptions")
        listing = await portal.locator("main").inner_text()
        # The legend aside, the marks are those of the registrations: Léa's is V.
        marks = await portal.locator("main .mark[aria-hidden=true]").all_inner_texts()
        assert marks == ["V"] and "Refusée" in listing
        assert "Le groupe 6-8 ans est réservé aux enfants nés après 2018." in listing
        assert "Date début" in listing and "6-8 ans Rémond" in listing
        await portal.screenshot(path=str(artifacts / "enrolment-list.png"), full_page=True)
        await portal.goto(f"{stack.gateway_url}/tableau-de-bord")
        board = await portal.locator("main").inner_text()
        assert "Inscription de Léa" in board and "Inscription de Hugo" in board
        assert "Acceptée" in board and "Refusée" in board and "réservé aux enfants" in board
    finally:
        await family_context.close()
        await staff_context.close()

    await asyncio.to_thread(stack.mailbox.find, email, "Inscription de Léa validée")
    refused = await asyncio.to_thread(stack.mailbox.find, email, "Inscription de Hugo refusée")
    assert "réservé aux enfants nés après 2018" in stack.mailbox.text(refused)
    held = await eventually(
        lambda: staff_client.get(f"{stack.url('booking')}/staff/registrations", params={"child_id": lea}),
        lambda r: r.status_code == 200 and r.json()["items"])
    registration = held.json()["items"][0]
    assert (registration["status"], registration["period_label"]) == ("validee", "Automne 2026")
    assert registration["typical_week"] == [{"weekday": 1, "units": []}, {"weekday": 3, "units": []}]
