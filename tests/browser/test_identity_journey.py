"""Issue « Identity and family », as a family and a staff member live it, in Chromium, with every
process running: invitation by email, first login, a new child, a change of phone numbers
accepted in the back-office, the email, and the other services' copies."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.stack import ADMIN, Mailbox

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


async def staff_login(context, stack):
    page = await context.new_page()
    await page.goto(f"{stack.backoffice_url}/connexion")
    await page.get_by_label("Identifiant", exact=True).fill(ADMIN[0])
    await page.get_by_label("Mot de passe", exact=True).fill(ADMIN[1])
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{stack.backoffice_url}/**")
    return page


async def eventually(fetch, accept, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if accept(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.3)


async def test_invited_family_updates_its_household_and_staff_accept(browser, stack, staff_client,
                                                                      artifacts):
    email = f"famille.leclerc.{uuid.uuid4().hex[:6]}@example.org"
    staff_context = await browser.new_context(locale="fr-FR")
    family_context = await browser.new_context(locale="fr-FR")
    try:
        # Staff create the household; the family receives the invitation.
        office = await staff_login(staff_context, stack)
        await office.goto(f"{stack.backoffice_url}/familles/nouvelle")
        await office.fill("#nom-foyer", "Leclerc")
        await office.fill("#email", email)
        await office.fill("#responsable-prenom", "Sophie")
        await office.fill("#responsable-nom", "Leclerc")
        await office.fill("#enfant-1-prenom", "Nina")
        await office.fill("#enfant-1-nom", "Leclerc")
        await office.fill("#enfant-1-naissance", "12/03/2018")
        await office.get_by_role("button", name="Créer le foyer et envoyer l'invitation").click()
        await office.get_by_text(f"Invitation envoyée à {email}").wait_for()

        invitation = await asyncio.to_thread(stack.mailbox.find, email, "accès au portail")
        portal = await family_context.new_page()
        await portal.goto(Mailbox.link(invitation))
        await portal.get_by_label("Nouveau mot de passe").fill("soleil-de-printemps")
        await portal.get_by_label("Confirmation du mot de passe").fill("soleil-de-printemps")
        await portal.get_by_role("button", name="Activer mon compte").click()
        await portal.get_by_text("Votre compte est activé").wait_for()

        # First login.
        await portal.get_by_label("Votre identifiant").fill(email)
        await portal.get_by_label("Votre mot de passe").fill("soleil-de-printemps")
        await portal.get_by_role("button", name="Connexion").click()
        await portal.wait_for_url(f"{stack.gateway_url}/tableau-de-bord")

        # « Ma famille »: add a child.
        await portal.goto(f"{stack.gateway_url}/ma-famille/ajouter")
        await portal.get_by_label("Un enfant").check()
        await portal.get_by_role("button", name="Continuer").click()
        await portal.fill("#first_name", "Oscar")
        await portal.fill("#last_name", "Leclerc")
        await portal.fill("#birth_date", "2020-06-21")
        await portal.get_by_role("button", name="Enregistrer").click()
        await portal.get_by_text("La personne a été ajoutée à votre famille.").wait_for()
        cards = await portal.locator("main").inner_text()
        assert "Oscar" in cards and "Nina" in cards and "Né(e) le" in cards

        # « Mes coordonnées »: ask for new phone numbers.
        await portal.goto(f"{stack.gateway_url}/mes-coordonnees")
        await portal.get_by_role("link", name="Consulter / Modifier mes coordonnées").click()
        await portal.get_by_label("Tél domicile").fill("04 72 10 20 30")
        await portal.get_by_label("Portable Parent 1").fill("06 45 45 45 45")
        await portal.get_by_role("button", name="Envoyer ma demande de modification").click()
        await portal.get_by_text("Votre demande de modification a été transmise").wait_for()
        await portal.goto(f"{stack.gateway_url}/tableau-de-bord")
        pending = portal.locator("main table tr", has_text="Modification de coordonnées")
        await pending.locator(".status", has_text="En attente").wait_for()
        await portal.screenshot(path=str(artifacts / "journey-dashboard-pending.png"), full_page=True)

        # Staff accept it in the back-office.
        await office.goto(f"{stack.backoffice_url}/demandes/coordonnees")
        row = office.locator("tr", has_text="Leclerc")
        await row.get_by_role("button", name="Accepter").click()
        await office.get_by_text("demande acceptée").wait_for()

        # The family sees it accepted and gets the email.
        await portal.goto(f"{stack.gateway_url}/tableau-de-bord")
        accepted = portal.locator("main table tr", has_text="Modification de coordonnées")
        await accepted.locator(".status", has_text="Acceptée").wait_for()
        assert "momentanément indisponible" not in await portal.locator("main").inner_text()
        mail = await asyncio.to_thread(stack.mailbox.find, email, "acceptée")
        assert "Tél domicile : 04 72 10 20 30" in Mailbox.text(mail)
        await portal.goto(f"{stack.gateway_url}/mes-coordonnees")
        text = await portal.locator("main").inner_text()
        assert "04 72 10 20 30" in text and "06 45 45 45 45" in text
    finally:
        await staff_context.close()
        await family_context.close()

    # Enrolment, booking and billing hold the new child and the new contact details.
    families = (await staff_client.get(f"{stack.url('identity')}/staff/families",
                                       params={"q": email})).json()["items"]
    family_id = families[0]["id"]
    for service in ("enrolment", "booking", "billing"):
        copy = await eventually(
            lambda: staff_client.get(f"{stack.url(service)}/staff/families/{family_id}"),
            lambda r: r.status_code == 200 and r.json()["home_phone"])
        assert copy.json()["home_phone"] == "+33472102030", service
        children = (await staff_client.get(f"{stack.url(service)}/staff/children",
                                           params={"family_id": family_id})).json()["items"]
        assert sorted(c["first_name"] for c in children) == ["Nina", "Oscar"], service
