"""Issue « The opening rush »: a booking opening in Chromium with every process running.

Staff schedule the opening of bookings a few seconds ahead. Two families open « Mes
réservations » before it: the page says when bookings open and lets them tick the day the
opening will accept (its only place); sent too early, the request comes back refused in French
with the box still ticked. At the opening both send: each gets a ticket page with its place in
line that reloads itself until the decision; the first in line has the place, the second is on
the day's waiting list; each family gets one email summing up its request. Meanwhile the typical
week cannot take places ahead of the queue.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.test_booking_journey import autumn_period, validated_child
from tests.browser.test_identity_journey import eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

UNITS = [{"code": "matin", "label": "Accueil du matin", "kind": "accueil"},
         {"code": "journee", "label": "Journée complète", "kind": "journee"}]


def calendar(ids: dict, day, opens_at: datetime | None) -> dict:
    return {
        "weekdays": [1, 2, 3, 4, 5], "skip_public_holidays": True, "week_only": False,
        "booking_deadline": {"days": 1, "working_days": False, "cutoff": "15:00"},
        "cancellation_deadline": {"days": 1, "working_days": False, "cutoff": "15:00"},
        "memo": "Réservations à l'ouverture.", "units": UNITS,
        "capacities": [
            *({"group_id": g, "unit": u["code"], "capacity": 10}
              for g in (ids["group"], ids["other_group"]) for u in UNITS),
            {"group_id": ids["group"], "unit": "journee", "capacity": 1,
             "day": day.isoformat()}],
        "bookings_open_at": opens_at.isoformat() if opens_at else None}


async def logged_in(browser, stack, family: dict):
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{stack.gateway_url}/")
    await page.get_by_label("Votre identifiant").fill(family["email"])
    await page.get_by_label("Votre mot de passe").fill("mot-de-passe-famille")
    await page.get_by_role("button", name="Connexion").click()
    await page.wait_for_url(f"{stack.gateway_url}/tableau-de-bord")
    return context, page


async def test_a_booking_opening_is_queued_fair_and_followed_live(browser, stack, staff_client,
                                                                 artifacts):
    booking = stack.url("booking")
    ids = await autumn_period(staff_client, stack)
    day = ids["start"] + timedelta(days=7)  # the second Thursday: one place in « journée »
    await eventually(lambda: staff_client.get(f"{booking}/staff/periods/{ids['period']}"),
                     lambda r: r.status_code == 200 and len(r.json()["groups"]) == 2)
    r = await staff_client.put(f"{booking}/staff/calendars/{ids['period']}",
                               json=calendar(ids, day, None))
    assert r.status_code == 200, r.text
    lea = await validated_child(stack, staff_client, ids, f"Premier{uuid.uuid4().hex[:4]}", "Léa")
    tom = await validated_child(stack, staff_client, ids, f"Second{uuid.uuid4().hex[:4]}", "Tom")

    # Staff schedule the opening of bookings, seconds ahead.
    opens_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=25)
    r = await staff_client.put(f"{booking}/staff/calendars/{ids['period']}",
                               json=calendar(ids, day, opens_at))
    assert r.status_code == 200, r.text

    cell = f"#case-{day.isoformat()}-journee"
    pages, contexts = {}, []
    try:
        for name, family in (("lea", lea), ("tom", tom)):
            context, page = await logged_in(browser, stack, family)
            contexts.append(context)
            await page.goto(f"{stack.gateway_url}/mes-inscriptions/{family['registration_id']}"
                            f"/reservations?mois={day:%Y-%m}")
            text = await page.locator("main").inner_text()
            assert "Les réservations de cette période ouvrent le" in text, text
            await page.locator(cell).check()  # prepared before the opening
            pages[name] = page

        # Sent too early: refused in French, the choice kept.
        lea_page = pages["lea"]
        await lea_page.get_by_role("button", name="Envoyer ma demande").click()
        await lea_page.wait_for_load_state()
        assert "ouvrent le" in await lea_page.locator("main").inner_text()
        assert await lea_page.locator(cell).is_checked()
        await lea_page.screenshot(path=str(artifacts / "booking-opening-early.png"),
                                  full_page=True)

        # Meanwhile (another tab), the typical week cannot take places ahead of the queue.
        week = await contexts[0].new_page()
        await week.goto(f"{stack.gateway_url}/mes-inscriptions/{lea['registration_id']}"
                        f"/reservations/semaine-type?mois={day:%Y-%m}")
        await week.locator("#debut").fill(ids["start"].isoformat())
        await week.locator("#fin").fill(ids["end"].isoformat())
        await week.locator('input[name="jour-4"][value="journee"]').check()
        await week.get_by_role("button", name="Réserver selon cette semaine type").click()
        await week.wait_for_load_state()
        assert "Pendant l'ouverture des réservations" in await week.locator("main").inner_text()

        await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()) + 1)
        # Léa's form as it came back (same key), then Tom's: two tickets, in this order.
        for name in ("lea", "tom"):
            page = pages[name]
            await page.get_by_role("button", name="Envoyer ma demande").click()
            await page.wait_for_url("**/mes-inscriptions/tickets-reservations/*")
            text = await page.locator("main").inner_text()
            assert "Ma demande de réservations dans la file" in text, text
        await pages["tom"].screenshot(path=str(artifacts / "booking-opening-ticket.png"),
                                      full_page=True)

        # The pages reload themselves until the decision.
        for name, expected in (("lea", "Réservé"), ("tom", "Liste d'attente")):
            page = pages[name]
            await page.get_by_text("Résultat jour par jour").wait_for(timeout=60_000)
            outcome = await page.locator("li.outcome").inner_text()
            assert expected in outcome, (name, outcome)
        await pages["lea"].screenshot(path=str(artifacts / "booking-opening-decided.png"),
                                      full_page=True)
    finally:
        for context in contexts:
            await context.close()

    # One email per family sums up its request.
    mail = await asyncio.to_thread(stack.mailbox.find, lea["email"],
                                   "Réservations de Léa : demande traitée")
    assert "1 jour(s) réservé(s)" in stack.mailbox.text(mail)
    mail = await asyncio.to_thread(stack.mailbox.find, tom["email"],
                                   "Réservations de Tom : demande traitée")
    assert "1 en liste d'attente" in stack.mailbox.text(mail)
