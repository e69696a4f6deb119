"""« Mon compte »'s financial pages against the fake billing: the summary, « Détail financier par
facture » (the guide's nine invoices, « Total : 210,00 € »), an invoice and its PDF, « Payer cette
facture » (step 1, the hand-off to the provider, the return, the receipt or why not), « Détail
financier par inscription », « Demande d'Attestation fiscale »; another family's ids, billing's
refusals and billing down, all in French."""

from __future__ import annotations

import html as html_lib
import re

import httpx
import pytest

from marelle_gateway.config import GatewaySettings

from gateway.tests import billing_fake as bf
from gateway.tests.billing_fake import FakeBilling

FAMILY = "/families/0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"
INVOICES = "/mon-compte/detail-par-facture"
PAY_FIRST = f"/mon-compte/factures/{bf.FIRST}/payer"
PAY_SECOND = f"/mon-compte/factures/{bf.SECOND}/payer"
RETURN = "/mon-compte/paiement/retour"


@pytest.fixture
def billing(fake, enrolment) -> FakeBilling:
    return FakeBilling(fake)


def text(page: str) -> str:
    """The visible words: tags out, entities decoded, Babel's spaces as plain spaces."""
    words = html_lib.unescape(re.sub(r"<[^>]+>", " ", page))
    return re.sub(r"\s+", " ", words.replace("\u202f", " ").replace("\xa0", " ")).strip()


def main(page: str) -> str:
    return page[page.index("<main"):page.index("</main>")]


def rows(page: str, table_class: str | None = None) -> list[list[str]]:
    """Each row of the first table (of that class): its cells' visible words."""
    start = page.index(f'<table class="{table_class}"' if table_class else "<table")
    table = page[start:page.index("</table>", start)]
    return [[text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


async def browse(portal, fake, gw, *steps, settings: GatewaySettings | None = None
                 ) -> list[httpx.Response]:
    """GET a path, or POST (path, form) with the CSRF token: the answers (redirections
    followed), in order."""
    answers = []
    async with portal(fake, settings=settings) as client:
        gw.signed_in(client, fake.parent_token())
        for step in steps:
            if isinstance(step, tuple):
                path, data = step
                answers.append(await client.post(path, data=gw.with_csrf(client, data),
                                                 follow_redirects=True))
            else:
                answers.append(await client.get(step, follow_redirects=True))
    return answers


# --- The summary ------------------------------------------------------------------------------

async def test_the_summary_then_the_sub_menu(portal, fake, billing, gw):
    [response] = await browse(portal, fake, gw, "/mon-compte")
    page = main(response.text)
    assert response.status_code == 200
    assert rows(page, "details-table account-summary") == [
        ["Solde", "210,00 € – factures à régler : 9"],
        ["Nombre d'enfants à charge", "2"],
        ["Derniers revenus", "32 500,00 € (revenus 2024)"],
        ["Quotient", "650 au 15/01/2025"],
        ["Tranche tarifaire", "Tranche 2 (QF de 501 à 800)"]]
    assert page.index("account-summary") < page.index('<nav class="subnav"')
    assert "210,00\xa0€" in page  # an amount never split across lines


async def test_the_summary_when_billing_is_down_or_knows_nothing_yet(portal, fake, billing, gw):
    billing.down = True
    [down] = await browse(portal, fake, gw, "/mon-compte")
    assert down.status_code == 503
    assert "Le service de facturation est momentanément indisponible" in down.text
    assert 'href="/mon-compte/mot-de-passe"' in down.text  # the password stays reachable
    fake.services.pop("billing")
    [unknown] = await browse(portal, fake, gw, "/mon-compte")
    assert unknown.status_code == 200
    assert "Aucune information financière n'est encore disponible" in text(unknown.text)


# --- « Détail financier par facture » ---------------------------------------------------------

async def test_the_guides_invoice_table(portal, fake, billing, gw):
    [response] = await browse(portal, fake, gw, INVOICES)
    page = main(response.text)
    assert response.status_code == 200
    assert f'<a href="{INVOICES}" aria-current="page">Détail financier par facture</a>' in page
    table = rows(page, "invoices")
    assert table[0] == ["N° de la facture", "Date de la facture", "Montant dû", "Solde",
                        "Règlement"]
    assert '<th scope="col"><span class="visually-hidden">Règlement</span></th>' in page
    assert [r[:4] for r in table[1:-1]] == [
        ["F1404000001", "09/04/2014", "40,00 €", "40,00 €"],
        *([f"F1309{n:06d}", "06/09/2013", "10,00 €", "10,00 €"] for n in (1, 3, 5, 7, 2, 4, 6)),
        ["A1302000001", "19/02/2013", "100,00 €", "100,00 €"]]
    assert all(r[4].startswith("Payer cette facture") for r in table[1:-1])
    assert table[-1] == ["Total :", "", "", "210,00 €", ""]
    for invoice_id in bf.INVOICES:
        assert f'<a href="/mon-compte/factures/{invoice_id}">' in page
        assert f'<a href="/mon-compte/factures/{invoice_id}/payer">Payer cette facture' in page
    assert "<caption" in page and "Détail financier</caption>" in page
    assert "<script" not in response.text
    [sent] = fake.sent("GET", f"{FAMILY}/invoices", "billing")
    assert sent.headers["authorization"].startswith("Bearer ey")  # the parent's token


async def test_a_credit_note_reads_avoir(portal, fake, billing, gw):
    billing.add_credit_note()
    [response, detail] = await browse(portal, fake, gw, INVOICES,
                                      f"/mon-compte/factures/{bf.CREDIT_NOTE}")
    table = rows(main(response.text), "invoices")
    assert ["Avoir AV1405000001", "02/05/2014", "5,00 €", "5,00 €", "Avoir à utiliser"] in table
    assert table[-1][3] == "205,00 €"
    assert "<h1>Avoir AV1405000001</h1>" in detail.text
    assert "Télécharger l&#39;avoir (PDF)" in detail.text
    assert "Cet avoir n&#39;a pas encore été utilisé." in detail.text


async def test_an_invoice_its_lines_and_its_pdf(portal, fake, billing, gw):
    path = f"/mon-compte/factures/{bf.FIRST}"
    [response, pdf] = await browse(portal, fake, gw, path, f"{path}/facture.pdf")
    page = main(response.text)
    assert response.status_code == 200
    assert "<h1>Facture F1404000001</h1>" in page
    lines = page[page.index('id="lignes-titre"'):]
    assert rows(lines) == [
        ["Enfant", "Activité", "Jour", "Prestation", "Quantité", "Prix unitaire", "Montant"],
        ["Léa Martin", "AUTOMNE", "07/04/2014", "Journée complète", "1", "15,00 €", "15,00 €"],
        ["Léa Martin", "AUTOMNE", "08/04/2014", "Repas", "5", "5,00 €", "25,00 €"],
        ["Montant dû", "40,00 €"]]
    assert "Aucun règlement reçu pour cette facture." in page
    assert f'<a href="{path}/facture.pdf">Télécharger la facture (PDF)</a>' in page
    assert f'<a class="button" href="{path}/payer">Payer cette facture</a>' in page
    assert pdf.status_code == 200 and pdf.content == bf.PDF_BYTES
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "private, no-store"
    assert fake.sent("GET", f"{FAMILY}/invoices/{bf.FIRST}/pdf", "billing")


async def test_another_familys_invoice_is_not_found(portal, fake, billing, gw):
    other = f"/mon-compte/factures/{bf.OTHER_FAMILYS_INVOICE}"
    answers = await browse(portal, fake, gw, other, f"{other}/payer", f"{other}/facture.pdf",
                           "/mon-compte/factures/pas-un-identifiant",
                           f"/mon-compte/paiements/{bf.OTHER_FAMILYS_INVOICE}")
    for response in answers:
        assert response.status_code == 404
        assert "Page introuvable" in response.text and '<html lang="fr">' in response.text
    assert not fake.sent("GET", f"{FAMILY}/invoices/pas-un-identifiant", "billing")


@pytest.mark.parametrize("path", [INVOICES, f"/mon-compte/factures/{bf.FIRST}", PAY_FIRST,
                                  "/mon-compte/detail-par-inscription",
                                  "/mon-compte/attestation-fiscale",
                                  f"/mon-compte/factures/{bf.FIRST}/facture.pdf"])
async def test_billing_down_is_the_french_503_page(portal, fake, billing, gw, path):
    billing.down = True
    [response] = await browse(portal, fake, gw, path)
    assert response.status_code == 503
    assert "Service momentanément indisponible" in response.text
    assert '<html lang="fr">' in response.text


# --- « Payer cette facture » ------------------------------------------------------------------

async def test_step_1_then_the_provider(portal, fake, billing, gw):
    [form, handed] = await browse(portal, fake, gw, PAY_SECOND, (PAY_SECOND, {}))
    page = main(form.text)
    assert form.status_code == 200
    assert "<h1>Payer cette facture</h1>" in page
    facts = text(page[page.index('<dl class="pay-facts">'):page.index("</dl>")])
    assert facts == ("Référence de la dette F1309000001 Montant 10,00 € "
                     "Adresse électronique claire.martin@example.fr")
    assert 'name="montant"' not in page  # the whole balance only
    assert f'<form method="post" action="{PAY_SECOND}"' in page
    assert ">Continuer vers le paiement sécurisé</button>" in page
    # billing was asked to start it, the provider's page is next (no pop-up, no script).
    assert billing.posted["payments"] == [
        {"amount_cents": None, "return_url": f"http://portail.test{RETURN}"}]
    [payment_id] = billing.payments
    url = f"{bf.PROVIDER}?reference={payment_id}"
    assert handed.status_code == 200
    assert f'<meta http-equiv="refresh" content="0; url={url}">' in handed.text
    assert f'<a class="button" href="{url}" rel="noreferrer">Continuer vers le paiement ' \
           "sécurisé</a>" in handed.text
    assert "Facture F1309000001 : 10,00 €." in text(handed.text)
    assert "<script" not in handed.text


async def test_the_return_address_is_the_portals_public_one(portal, fake, billing, gw):
    settings = GatewaySettings(public_url="https://famille.ville.test/")
    await browse(portal, fake, gw, (PAY_SECOND, {}), settings=settings)
    assert billing.posted["payments"][0]["return_url"] == (
        "https://famille.ville.test/mon-compte/paiement/retour")


async def test_a_partial_payment_where_the_regie_allows_it(portal, fake, billing, gw):
    form, too_much, nonsense, part = await browse(
        portal, fake, gw, PAY_FIRST, (PAY_FIRST, {"montant": "50"}),
        (PAY_FIRST, {"montant": "douze"}), (PAY_FIRST, {"montant": "12,50 €"}))
    assert 'id="montant" name="montant" type="text" value="40,00" required' in form.text
    assert "Vous pouvez régler tout ou partie du solde, au plus 40,00" in text(form.text)
    assert too_much.status_code == 422
    assert ('<a href="#montant">Le montant ne peut pas dépasser le solde de la facture '
            "(40,00\xa0€).</a>") in too_much.text
    assert 'value="50"' in too_much.text
    assert nonsense.status_code == 422
    assert "Indiquez un montant en euros, par exemple 12,50." in nonsense.text
    assert part.status_code == 200
    assert [b["amount_cents"] for b in billing.posted["payments"]] == [1250]


async def test_billings_refusal_is_shown_on_step_1(portal, fake, billing, gw):
    billing.answer_next = gw.problem(409, "Un paiement de cette facture est déjà en cours.")
    [response] = await browse(portal, fake, gw, (PAY_SECOND, {}))
    assert response.status_code == 409
    assert "Un paiement de cette facture est déjà en cours." in response.text
    assert ">Continuer vers le paiement sécurisé</button>" in response.text
    billing.answer_next = gw.problem(422, "Données invalides", erreurs=[
        {"champ": "amount_cents", "message": "Le montant doit être positif."}])
    [field] = await browse(portal, fake, gw, (PAY_FIRST, {"montant": "1"}))
    assert field.status_code == 422
    assert '<a href="#montant">Le montant doit être positif.</a>' in field.text


async def test_a_paid_invoice_cannot_be_paid_again(portal, fake, billing, gw):
    billing.invoices[bf.SECOND] = billing.invoices[bf.SECOND].model_copy(update={
        "payable": False, "balance_cents": 0, "status": "payee"})
    form, post = await browse(portal, fake, gw, PAY_SECOND, (PAY_SECOND, {}))
    assert "n&#39;est pas à régler en ligne" in form.text and "<button" not in main(form.text)
    assert post.status_code == 409 and "payments" not in billing.posted


async def test_a_provider_that_wants_a_form_posted(portal, fake, billing, gw):
    billing.provider_method = "POST"
    [response] = await browse(portal, fake, gw, (PAY_SECOND, {}))
    [payment_id] = billing.payments
    page = main(response.text)
    assert f'<form method="post" action="{bf.PROVIDER}">' in page
    assert f'<input type="hidden" name="reference" value="{payment_id}">' in page
    assert '<button type="submit" class="button">Continuer vers le paiement sécurisé' in page
    assert "http-equiv" not in response.text


async def test_the_return_settles_and_shows_the_receipt(portal, fake, billing, gw):
    [_, back] = await browse(portal, fake, gw, (PAY_SECOND, {}), "/")
    [payment_id] = billing.payments
    query = f"reference={payment_id}&resultat=accepte&signature=abc%3D%3D"
    async with portal(fake) as client:
        gw.signed_in(client, fake.parent_token())
        returned = await client.get(f"{RETURN}?{query}")
        receipt = await client.get(returned.headers["location"])
        pdf = await client.get(f"/mon-compte/paiements/{payment_id}/ticket.pdf")
        table = await client.get(INVOICES)
    assert returned.status_code == 303
    assert returned.headers["location"] == f"/mon-compte/paiements/{payment_id}"
    assert billing.posted["return"] == [{"query_string": query}]  # as the provider wrote it
    page = main(receipt.text)
    assert "<h1>Ticket de paiement</h1>" in page
    assert rows(page, "details-table receipt") == [
        ["N° de ticket", "T2026-000001"], ["Date et heure", "20/11/2026 à 10:32"],
        ["Montant", "10,00 €"], ["Moyen de paiement", "Carte bancaire CB"],
        ["Numéro de carte", "•••• •••• •••• se terminant par 0003"],
        ["N° d'autorisation", "A12345"], ["Facture réglée", "F1309000001"]]
    assert (f'<a class="button" href="/mon-compte/paiements/{payment_id}/ticket.pdf">'
            "Télécharger le ticket (PDF)</a>") in page
    assert pdf.status_code == 200 and pdf.content == bf.PDF_BYTES
    after = rows(main(table.text), "invoices")
    assert ["F1309000001", "06/09/2013", "10,00 €", "0,00 €", "Réglée"] in after
    assert after[-1][3] == "200,00 €"


@pytest.mark.parametrize("result,message", [
    ("refuse", "Paiement refusé par la banque : carte refusée."),
    ("abandon", "Paiement abandonné."),
])
async def test_a_refused_or_abandoned_payment(portal, fake, billing, gw, result, message):
    await browse(portal, fake, gw, (PAY_SECOND, {}))
    [payment_id] = billing.payments
    [response] = await browse(portal, fake, gw, f"{RETURN}?reference={payment_id}"
                                                f"&resultat={result}")
    page = main(response.text)
    assert response.status_code == 200 and response.url.path == f"/mon-compte/paiements/" \
                                                                 f"{payment_id}"
    assert "<h1>Paiement non effectué</h1>" in page
    assert message in page
    assert "Aucune somme n&#39;a été prélevée : la facture F1309000001 reste à régler." in page
    assert f'<a href="{INVOICES}">Retour au détail financier par facture</a>' in page
    assert "ticket.pdf" not in page


async def test_a_payment_not_confirmed_yet_refreshes_itself(portal, fake, billing, gw):
    await browse(portal, fake, gw, (PAY_SECOND, {}))
    [payment_id] = billing.payments
    [response] = await browse(portal, fake, gw, f"/mon-compte/paiements/{payment_id}")
    assert '<meta http-equiv="refresh" content="5">' in response.text
    assert "<h1>Paiement en cours de confirmation…</h1>" in response.text


async def test_an_unreadable_return_is_explained(portal, fake, billing, gw):
    [response] = await browse(portal, fake, gw, f"{RETURN}?reference=inconnue")
    assert response.status_code == 400
    assert "Retour de paiement illisible : paiement inconnu." in response.text
    assert "consultez vos factures dans quelques minutes" in response.text
    billing.down = True
    [down] = await browse(portal, fake, gw, f"{RETURN}?reference=x")
    assert down.status_code == 503
    assert "Nous n&#39;avons pas pu confirmer votre paiement pour le moment." in down.text


# --- « Détail financier par inscription » -----------------------------------------------------

async def test_money_per_registration(portal, fake, billing, gw):
    [response] = await browse(portal, fake, gw, "/mon-compte/detail-par-inscription")
    page = main(response.text)
    assert response.status_code == 200
    assert rows(page) == [
        ["Enfant", "Activité", "Période", "Facturé", "Payé", "Reste à payer"],
        ["Léa Martin", "AUTOMNE", f"Automne {bf.YEAR}", "40,00 €", "15,00 €", "25,00 €"],
        ["Tom Martin", "CANTINE", "", "123,45 €", "123,45 €", "0,00 €"]]


# --- « Demande d'Attestation fiscale » --------------------------------------------------------

async def test_the_fiscal_attestation(portal, fake, billing, gw):
    path = "/mon-compte/attestation-fiscale"
    year = bf.LAST_YEAR
    form, issued, refused, bogus = await browse(
        portal, fake, gw, path, (path, {"annee": str(year)}), (path, {"annee": str(year - 2)}),
        (path, {"annee": "1990"}))
    page = main(form.text)
    assert "enfants de moins de 6 ans au 1er janvier de l&#39;année, repas exclus" in page
    options = re.findall(r'<option value="(\d+)"( selected)?>', page)
    assert options == [(str(year), " selected")] + [(str(year - n), "") for n in range(1, 5)]
    assert f"Télécharger l&#39;attestation fiscale {year - 1} (PDF)</a> – 90,00" in page
    # Issued: the amounts per child, the total and the PDF.
    assert issued.status_code == 200 and "attestation=" in str(issued.url)
    shown = main(issued.text)
    assert "<h2 id=\"attestation-delivree\">Votre attestation fiscale " + str(year) in shown
    assert rows(shown) == [["Enfant", "Date de naissance", "Montant"],
                           ["Tom Martin", "30/06/2023", "182,50 €"],
                           ["Total :", "182,50 €"]]
    pdf_link = f"/mon-compte/attestations/{bf._uuid('f3000000', 2)}/attestation.pdf"
    assert f'<a class="button" href="{pdf_link}">' in shown
    assert billing.posted["attestations"] == [{"year": year}, {"year": year - 2}]
    # billing's refusal in French on the form; a year not offered never reaches billing.
    assert refused.status_code == 409
    assert f"Aucun frais de garde éligible en {year - 2}." in refused.text
    assert bogus.status_code == 422
    assert '<a href="#annee">Choisissez une année dans la liste.</a>' in bogus.text
    [pdf] = await browse(portal, fake, gw, pdf_link)
    assert pdf.content == bf.PDF_BYTES


async def test_pages_need_a_session(portal, fake, billing):
    async with portal(fake) as client:
        response = await client.get(INVOICES)
    assert response.status_code == 303
    assert response.headers["location"] == "/?suite=" + INVOICES
    assert not fake.sent("GET", f"{FAMILY}/invoices", "billing")
