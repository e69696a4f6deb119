"""Issue « Billing », the guide's « Mon compte » in Chromium with every process running.

The demo household (the Martin family) starts with the guide's nine open invoices, taken over
from the previous system by the import (total 210 €). The parent opens « Détail financier par
facture », pays F1404000001 in the local sandbox bank (no pop-up: the portal hands over to the
provider's page and comes back), sees the ticket, the new balance 170 € and the invoice paid.
The provider's callback is then replayed three times: nothing more changes (one payment, one
receipt, one email).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
import pytest

from marelle_billing.demo import load as load_demo_money
from tests.browser.test_identity_journey import eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

FAMILY = ("famille.martin@example.org", "marelle-famille")
GUIDE_TABLE = [("F1404000001", "09/04/2014", "40,00"), ("F1309000001", "06/09/2013", "10,00"),
               ("F1309000003", "06/09/2013", "10,00"), ("F1309000005", "06/09/2013", "10,00"),
               ("F1309000007", "06/09/2013", "10,00"), ("F1309000002", "06/09/2013", "10,00"),
               ("F1309000004", "06/09/2013", "10,00"), ("F1309000006", "06/09/2013", "10,00"),
               ("A1302000001", "19/02/2013", "100,00")]


def flat(text: str) -> str:
    """Babel's narrow no-break spaces and no-break spaces read as plain spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


async def test_demo_family_pays_an_invoice_in_the_sandbox_bank(browser, stack, staff_client,
                                                                artifacts):
    billing = stack.url("billing")
    await asyncio.to_thread(load_demo_money, {"identity": stack.url("identity"),
                                              "billing": billing})
    context = await browser.new_context(locale="fr-FR")
    returns: list[str] = []
    context.on("request", lambda r: returns.append(r.url)
               if "/mon-compte/paiement/retour" in r.url else None)
    page = await context.new_page()
    try:
        await page.goto(f"{stack.gateway_url}/")
        await page.get_by_label("Votre identifiant").fill(FAMILY[0])
        await page.get_by_label("Votre mot de passe").fill(FAMILY[1])
        await page.get_by_role("button", name="Connexion").click()
        await page.wait_for_url(f"{stack.gateway_url}/tableau-de-bord")

        # « Mon compte » › « Détail financier par facture »: the guide's table, « Total : » 210 €.
        await page.goto(f"{stack.gateway_url}/mon-compte")
        await page.get_by_role("link", name="Détail financier par facture").click()
        table = page.locator("table").first
        headers = flat(await table.locator("thead").inner_text())
        for header in ("N° de la facture", "Date de la facture", "Montant dû", "Solde"):
            assert header in headers
        rows = table.locator("tbody tr")
        assert await rows.count() == 9
        seen = [flat(await rows.nth(i).inner_text()) for i in range(9)]
        for number, day, amount in GUIDE_TABLE:
            row = next(r for r in seen if number in r)
            assert day in row and f"{amount} €" in row and "Payer cette facture" in row
        assert "Total : 210,00 €" in " ".join(flat(await page.locator("main").inner_text()).split())
        await page.screenshot(path=str(artifacts / "billing-invoices.png"), full_page=True)

        # « Payer cette facture »: step 1 (reference, amount, email), then the provider's page.
        await table.locator("tr", has_text="F1404000001").get_by_role(
            "link", name="Payer cette facture").click()
        step1 = flat(await page.locator("main").inner_text())
        assert "F1404000001" in step1 and FAMILY[0] in step1
        amount = page.get_by_label("Montant (en euros)")
        if await amount.count():
            await amount.fill("40,00")
        await page.get_by_role("button", name="Continuer vers le paiement sécurisé").click()
        await page.wait_for_url(f"{billing}/sandbox-bank/**")
        bank = flat(await page.locator("body").inner_text())
        assert "40,00" in bank and "F1404000001" in bank
        await page.get_by_label("Visa").check()
        await page.get_by_label("Numéro de carte").fill("4970 1000 0000 0003")
        await page.get_by_label("Date d'expiration (MM/AA)").fill("12/30")
        await page.get_by_label("Cryptogramme visuel (3 chiffres au dos de la carte)").fill("123")
        await page.get_by_role("button", name="Payer").click()

        # Back on the portal: the ticket, to view and download.
        await page.wait_for_url(f"{stack.gateway_url}/mon-compte/paiements/**")
        ticket = flat(await page.locator("main").inner_text())
        assert "Ticket de paiement" in ticket and "40,00 €" in ticket and "F1404000001" in ticket
        assert "0003" in ticket
        download = page.get_by_role("link", name="Télécharger le ticket (PDF)")
        href = await download.get_attribute("href")
        pdf = await page.request.get(href if href.startswith("http") else stack.gateway_url + href)
        assert pdf.status == 200 and (await pdf.body()).startswith(b"%PDF")
        await page.screenshot(path=str(artifacts / "billing-ticket.png"), full_page=True)

        # The new balance and the invoice paid.
        await page.goto(f"{stack.gateway_url}/mon-compte")
        assert "170,00 €" in flat(await page.locator("main").inner_text())
        await page.goto(f"{stack.gateway_url}/mon-compte/detail-par-facture")
        paid = flat(await page.locator("table tbody tr", has_text="F1404000001").inner_text())
        assert "Payer cette facture" not in paid and "0,00 €" in paid
        assert "Total : 170,00 €" in " ".join(flat(await page.locator("main").inner_text()).split())
    finally:
        await context.close()

    # The provider's callback replayed three times: one payment, one receipt, one email.
    assert returns, "the browser never came back through the portal's return page"
    query = urlsplit(returns[0]).query
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(3):
            r = await client.post(f"{billing}/payments/callback/ENFANCE?{query}")
            assert r.status_code == 200, r.text
    payments = await eventually(
        lambda: staff_client.get(f"{billing}/staff/payments", params={"method": "carte"}),
        lambda r: r.status_code == 200)
    accepted = [p for p in payments.json()["payments"] if p["status"] == "acceptee"
                and p["invoice_number"] == "F1404000001"]
    assert len(accepted) == 1 and accepted[0]["amount_cents"] == 4000
    account = (await staff_client.get(
        f"{billing}/staff/families/{accepted[0]['family_id']}/account")).json()
    assert account["balance_cents"] == 17000
    mail = await asyncio.to_thread(stack.mailbox.find, FAMILY[0], "Paiement reçu")
    assert accepted[0]["receipt_number"] in stack.mailbox.text(mail)
    await asyncio.sleep(2)  # a replayed callback would have queued its email by now
    about = [m for m in stack.mailbox.messages
             if m["To"] == FAMILY[0] and "Paiement reçu" in str(m["Subject"])]
    assert len(about) == 1
