"""« Facturation »: régies, QF brackets, tariffs, a family's finances, invoicing runs, unpaid
invoices, payments, SEPA collections, the import of open invoices and the financial dashboard —
against billing's staff API (a fake built from billing's contract models, `billing_fake.py`)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from .billing_fake import (
    ACCOUNTING_CSV,
    COLLECTION_ID,
    DRAFT_RUN_ID,
    INVOICE_ID,
    MANDATE_ID,
    OLD_INVOICE_ID,
    PAIN008,
    REPORT_CSV,
    RUN_ID,
    RUNNING,
    TARIFF_ID,
    refusal,
    with_billing,
)
from .conftest import csrf_of, sign_in
from .sample import FAMILY_ID

NNBSP = "\u202f"  # Babel's group separator in fr_FR (« 1 234 »)
NBSP = "\xa0"  # and the space before « € »
FINANCES = f"/familles/{FAMILY_ID}/finances"


def euros(text: str) -> str:
    """« 1 234,50 € » as Babel writes it (narrow no-break spaces)."""
    return text.replace(" €", NBSP + "€").replace(" ", NNBSP)


def sent(fake, method: str, path: str) -> list:
    return [json.loads(r.content) for r in fake.sent(method, "billing", path)]


def billing_calls(fake) -> list[httpx.Request]:
    base = "http://127.0.0.1:8104"
    return [r for r in fake.domain_calls() if str(r.url).startswith(base)]


async def post(client, path: str, data: dict, page: str | None = None) -> httpx.Response:
    return await client.post(path, data={"csrf": await csrf_of(client, page or path), **data})


# --- the section ----------------------------------------------------------------------------------

async def test_the_section_index_shows_in_french_without_calling_billing(backoffice, fake):
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/facturation")
    html = response.text
    assert response.status_code == 200
    assert "<h1>Facturation</h1>" in html
    nav = html.split('<nav class="site-nav"')[1].split("</nav>")[0]
    assert '<a href="/facturation" aria-current="page">Facturation</a>' in nav
    for link in ("/facturation/facturations", "/facturation/impayes", "/facturation/tarifs",
                 "/facturation/prelevements", "/facturation/reprise",
                 "/facturation/tableau-de-bord"):
        assert f'href="{link}"' in html
    assert billing_calls(fake) == []


async def test_billing_down_is_the_french_503_page_never_a_500(backoffice, fake):
    with_billing(fake)

    def down(request: httpx.Request) -> httpx.Response:
        if request.url.port == 8104 and request.url.path != "/health/live":
            raise httpx.ConnectError("refused", request=request)
        return fake(request)

    async with backoffice(down) as client:
        sign_in(client)
        for path in ("/facturation/regies", "/facturation/tarifs", FINANCES,
                     f"/facturation/facturations/{RUN_ID}", "/facturation/impayes",
                     "/facturation/tableau-de-bord?regie=ENF&mois=2026-10"):
            response = await client.get(path)
            assert response.status_code == 503, path
            assert "Service indisponible" in response.text


# --- régies ---------------------------------------------------------------------------------------

async def test_the_regies_are_listed(backoffice, fake):
    async with backoffice(with_billing(fake)) as client:
        sign_in(client)
        html = (await client.get("/facturation/regies")).text
    assert "Régie enfance" in html and "Régie sports" in html
    assert 'href="/facturation/regies/ENF/modifier"' in html
    assert "factures F…, avoirs AV…" in html and "30 jours" in html


async def test_creating_a_regie_sends_billing_its_body(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/regies/nouvelle", {
            "code": "CANT", "nom": "Régie cantine", "prefixe-facture": "c",
            "prefixe-avoir": "ca", "delai": "20", "paiement-partiel": "oui",
            "backend": "payfip_ws", "options": "numcli = 012345\n\nurl=https://x.test/a=b\n",
            "creancier-nom": "Ville", "creancier-iban": "FR76 3000 6000 0112 3456 7890 189",
            "creancier-bic": "AGRIFRPP", "creancier-ics": "FR12ZZZ123456",
            "code-comptable": ""})
    assert response.status_code == 303
    assert response.headers["location"] == "/facturation/regies?message=creee"
    [body] = sent(fake, "POST", "/staff/regies")
    assert body == {"code": "CANT", "name": "Régie cantine", "invoice_prefix": "C",
                    "credit_prefix": "CA", "partial_payment_allowed": True,
                    "payment_backend": "payfip_ws", "due_days": 20,
                    "payment_options": {"numcli": "012345", "url": "https://x.test/a=b"},
                    "creditor_name": "Ville", "creditor_iban": "FR7630006000011234567890189",
                    "creditor_bic": "AGRIFRPP", "creditor_id": "FR12ZZZ123456",
                    "accounting_code": None}


async def test_a_regie_form_with_mistakes_is_shown_again_without_calling_billing(backoffice,
                                                                                 fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/regies/nouvelle", {
            "code": "", "nom": "Régie", "delai": "300", "options": "sans egal",
            "prefixe-facture": "F", "prefixe-avoir": "AV"})
    html = response.text
    assert response.status_code == 422
    assert "Indiquez le code de la régie." in html
    assert "Le délai de paiement est un nombre de jours entre 0 et 120." in html
    assert "Ligne 1 : écrivez l&#39;option sous la forme clé=valeur." in html
    assert 'value="Régie"' in html
    assert sent(fake, "POST", "/staff/regies") == []


async def test_billing_refusing_a_regie_is_said_by_the_field(backoffice, fake):
    with_billing(fake)
    fake.on("POST", "billing", "/staff/regies", refusal(
        "Certaines informations sont invalides.",
        [{"champ": "creditor_iban", "message": "IBAN invalide (clé de contrôle)."}]))
    fake.on("PUT", "billing", "/staff/regies/ENF",
            refusal("Une régie porte déjà ce nom.", status=409))
    async with backoffice(fake) as client:
        sign_in(client)
        created = await post(client, "/facturation/regies/nouvelle", {
            "code": "X", "nom": "X", "delai": "30", "prefixe-facture": "F",
            "prefixe-avoir": "AV", "creancier-iban": "FR00"})
        edited = await post(client, "/facturation/regies/ENF/modifier", {
            "nom": "Régie sports", "delai": "30", "prefixe-facture": "F", "prefixe-avoir": "AV"})
    assert created.status_code == 422
    assert re.search(r'id="creancier-iban-erreur".*IBAN invalide \(clé de contrôle\)\.',
                     created.text)
    assert edited.status_code == 409 and "Une régie porte déjà ce nom." in edited.text


async def test_editing_a_regie_keeps_its_code_and_puts_its_body(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        form = (await client.get("/facturation/regies/ENF/modifier")).text
        response = await post(client, "/facturation/regies/ENF/modifier", {
            "code": "AUTRE", "nom": "Régie enfance et jeunesse", "delai": "45",
            "prefixe-facture": "F", "prefixe-avoir": "AV", "backend": "dummy"})
        missing = await client.get("/facturation/regies/NOPE/modifier")
    assert 'value="Régie enfance"' in form and 'value="FR12ZZZ123456"' in form
    assert response.status_code == 303
    [body] = sent(fake, "PUT", "/staff/regies/ENF")
    assert body["code"] == "ENF" and body["name"] == "Régie enfance et jeunesse"
    assert body["due_days"] == 45 and body["partial_payment_allowed"] is False
    assert "payment_options" not in body  # left empty: billing keeps the stored ones
    assert missing.status_code == 404


# --- QF brackets ----------------------------------------------------------------------------------

async def test_the_brackets_are_edited_as_a_table(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/facturation/tranches")).text
        response = await post(client, "/facturation/tranches", {
            "lignes": "5", "tranche-0-code": "A", "tranche-0-libelle": "Tranche A",
            "tranche-0-min": "0", "tranche-0-max": "700",
            "tranche-1-code": "B", "tranche-1-libelle": "Tranche B", "tranche-1-min": "701",
            "tranche-1-max": "", "tranche-2-code": "", "tranche-2-libelle": ""})
    assert 'id="tranche-2-code" name="tranche-2-code" type="text" value="C"' in html
    assert response.status_code == 303
    assert sent(fake, "PUT", "/staff/brackets") == [{"brackets": [
        {"code": "A", "label": "Tranche A", "qf_min": 0, "qf_max": 700},
        {"code": "B", "label": "Tranche B", "qf_min": 701, "qf_max": None}]}]


async def test_bracket_mistakes_are_shown_by_their_cell(backoffice, fake):
    with_billing(fake)
    fake.on("PUT", "billing", "/staff/brackets", refusal(
        "Les tranches se chevauchent.",
        [{"champ": "brackets.1.qf_min", "message": "Chevauche la tranche A."}]))
    async with backoffice(fake) as client:
        sign_in(client)
        local = await post(client, "/facturation/tranches", {
            "lignes": "2", "tranche-0-code": "A", "tranche-0-libelle": "A",
            "tranche-0-min": "500", "tranche-0-max": "100"})
        remote = await post(client, "/facturation/tranches", {
            "lignes": "3", "tranche-0-code": "A", "tranche-0-libelle": "A",
            "tranche-0-min": "0", "tranche-0-max": "700",
            "tranche-2-code": "B", "tranche-2-libelle": "B", "tranche-2-min": "600"})
    assert local.status_code == 422
    assert "Ligne 1 : le QF maximum doit être supérieur ou égal au QF minimum." in local.text
    assert remote.status_code == 422
    # The body's second bracket is the form's third row.
    assert re.search(r'id="tranche-2-min-erreur"[^>]*>.*Chevauche la tranche A\.', remote.text)


# --- tariffs --------------------------------------------------------------------------------------

async def test_tariffs_are_listed_with_their_prices_in_euros(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/facturation/tarifs?regie=ENF&activite=AUTOMNE")).text
    [request] = fake.sent("GET", "billing", "/staff/tariffs")
    assert dict(request.url.params) == {"regie": "ENF", "activity": "AUTOMNE"}
    assert f"Tranche A : {euros('1,20 €')}" in html
    assert f"Prix par défaut (QF inconnu) — non-résidents : {euros('5,00 €')}" in html
    assert f"Présence sans réservation facturée (+ {euros('1,50 €')})" in html
    assert "Absence injustifiée : 50 % du prix" in html and "depuis le 01/09/2026" in html


async def test_a_tariff_is_created_with_prices_typed_in_euros(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        form = (await client.get("/facturation/tarifs/nouveau")).text
        response = await post(client, "/facturation/tarifs/nouveau", {
            "regie": "ENF", "activite": "AUTOMNE", "unite": "journee",
            "libelle": "Journée complète", "du": "01/09/2026", "au": "2027-08-31",
            "prix-A-tous": "3,50", "prix-B-resident": "5", "prix-B-non_resident": "7.25",
            "prix-defaut-tous": "1 234,50", "presence": "oui", "majoration": "2,00",
            "absence": "50"}, page="/facturation/tarifs/nouveau")
    assert 'name="prix-C-non_resident"' in form and 'name="prix-defaut-tous"' in form
    assert response.status_code == 303
    [body] = sent(fake, "POST", "/staff/tariffs")
    assert body == {
        "regie_code": "ENF", "activity_name": "AUTOMNE", "unit": "journee",
        "label": "Journée complète", "valid_from": "2026-09-01", "valid_to": "2027-08-31",
        "meal": False, "unbooked_presence": True, "surcharge_cents": 200,
        "unjustified_absence_percent": 50,
        "prices": [{"bracket_code": "A", "resident": None, "price_cents": 350},
                   {"bracket_code": "B", "resident": True, "price_cents": 500},
                   {"bracket_code": "B", "resident": False, "price_cents": 725},
                   {"bracket_code": None, "resident": None, "price_cents": 123450}]}


async def test_a_tariff_with_an_unreadable_price_is_not_sent(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/tarifs/nouveau", {
            "regie": "ENF", "activite": "AUTOMNE", "unite": "repas", "libelle": "Repas",
            "du": "01/09/2026", "prix-A-tous": "trois euros"})
    assert response.status_code == 422
    assert "Prix « trois euros » : indiquez un prix en euros, par exemple 3,50." in response.text
    assert sent(fake, "POST", "/staff/tariffs") == []


async def test_editing_a_tariff_shows_its_prices_and_puts_it(backoffice, fake):
    with_billing(fake)
    fake.on("PUT", "billing", f"/staff/tariffs/{TARIFF_ID}", refusal(
        "Invalide.", [{"champ": "prices.0.price_cents", "message": "Prix trop élevé."}]))
    path = f"/facturation/tarifs/{TARIFF_ID}/modifier"
    async with backoffice(fake) as client:
        sign_in(client)
        form = (await client.get(path)).text
        response = await post(client, path, {
            "regie": "ENF", "activite": "AUTOMNE", "unite": "repas", "libelle": "Repas",
            "du": "01/09/2026", "prix-C-tous": "9999"})
    assert re.search(r'name="prix-A-tous" [^>]*value="1,20"', form)
    assert re.search(r'name="prix-defaut-non_resident" [^>]*value="5,00"', form)
    assert 'value="01/09/2026"' in form and 'id="repas" name="repas" value="oui" checked' in form
    assert response.status_code == 422
    assert re.search(r'id="prix-C-tous-erreur"[^>]*>.*Prix trop élevé\.', response.text)


async def test_a_used_tariff_cannot_be_deleted_and_the_list_says_why(backoffice, fake):
    with_billing(fake)
    fake.on("DELETE", "billing", f"/staff/tariffs/{TARIFF_ID}",
            refusal("Ce tarif a servi.", status=409))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, f"/facturation/tarifs/{TARIFF_ID}/supprimer", {},
                              page="/facturation/tarifs")
        listed = await client.get(response.headers["location"])
    assert response.status_code == 303
    assert "Ce tarif a déjà servi à facturer" in listed.text


# --- a family's finances --------------------------------------------------------------------------

async def test_the_family_page_links_to_its_finances(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get(f"/familles/{FAMILY_ID}")).text
    assert f'href="{FINANCES}"' in html and "Finances" in html
    assert billing_calls(fake) == []  # the family page itself does not wait for billing


async def test_the_finances_page_shows_account_history_invoices_payments_mandates(backoffice,
                                                                                 fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get(FINANCES)
    html = response.text
    assert response.status_code == 200
    assert "<h1>Finances de la famille Martin</h1>" in html
    assert f"<strong>{euros('1 234,50 €')}</strong>" in html
    assert "Tranche A" in html and f"{euros('32 000,00 €')} (2025)" in html
    # History: who, before → after.
    assert "agent 70000000" in html and "Attestation CAF de janvier" in html
    assert re.search(r"Quotient familial :</span> <del>820</del>.*<ins>640</ins>", html)
    assert "F2026-000123" in html and f'href="/facturation/factures/{INVOICE_ID}"' in html
    assert "Carte bancaire (en ligne)" in html and "R2026-0042" in html
    assert "MARELLE-ENF-0001" in html and "Révoquer" in html
    # Allocation inputs for the open invoices only.
    assert f'name="imputation-{INVOICE_ID}"' in html
    assert f'name="imputation-{OLD_INVOICE_ID}"' in html
    # A fixed number of calls: identity's family and seven billing reads (the districts for the
    # profile's « Quartier » select among them).
    assert len(billing_calls(fake)) == 7
    [invoices] = fake.sent("GET", "billing", "/staff/invoices")
    assert dict(invoices.url.params) == {"family_id": FAMILY_ID}


async def test_the_financial_profile_is_saved(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, f"{FINANCES}/profil", {
            "profil-qf": "712", "profil-date": "03/02/2026", "profil-source": "avis_imposition",
            "profil-revenus": "28 500,00", "profil-annee": "2025", "profil-enfants": "3",
            "profil-resident": "non", "profil-motif": "Avis d'imposition 2025"}, page=FINANCES)
    assert response.status_code == 303
    assert response.headers["location"] == f"{FINANCES}?message=profil#profil"
    assert sent(fake, "PUT", f"/staff/families/{FAMILY_ID}/profile") == [{
        "qf": 712, "qf_date": "2026-02-03", "qf_source": "avis_imposition",
        "income_cents": 2_850_000, "income_year": 2025, "dependent_children": 3,
        "resident": False, "reason": "Avis d'imposition 2025"}]


async def test_a_wrong_profile_is_shown_again_by_its_form(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, f"{FINANCES}/profil", {
            "profil-qf": "beaucoup", "profil-date": "31/02/2026"}, page=FINANCES)
    html = response.text
    assert response.status_code == 422
    profile = html.split('id="profil-titre"')[1].split('id="factures"')[0]
    assert "Le quotient familial est un nombre entier positif" in profile
    assert "Indiquez la date au format JJ/MM/AAAA." in profile
    assert 'value="beaucoup"' in profile
    assert sent(fake, "PUT", f"/staff/families/{FAMILY_ID}/profile") == []


async def test_a_cheque_is_recorded_with_its_details_and_allocations(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, f"{FINANCES}/paiement", {
            "paiement-regie": "ENF", "paiement-moyen": "cheque", "paiement-montant": "40,00",
            "paiement-date": "05/11/2026", "paiement-cheque-emetteur": "Claire Martin",
            "paiement-cheque-banque": "Banque Postale", "paiement-cheque-numero": "0001234",
            f"imputation-{INVOICE_ID}": "15,50", f"imputation-{OLD_INVOICE_ID}": ""},
            page=FINANCES)
    assert response.status_code == 303
    assert response.headers["location"] == f"{FINANCES}?message=paiement#paiements"
    assert sent(fake, "POST", "/staff/payments") == [{
        "family_id": FAMILY_ID, "regie_code": "ENF", "method": "cheque", "amount_cents": 4000,
        "received_on": "2026-11-05",
        "cheque": {"issuer": "Claire Martin", "bank": "Banque Postale", "number": "0001234"},
        "allocations": [{"invoice_id": INVOICE_ID, "amount_cents": 1550}]}]


async def test_cash_without_allocation_goes_to_the_oldest_invoices(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        await post(client, f"{FINANCES}/paiement", {
            "paiement-regie": "ENF", "paiement-moyen": "cesu", "paiement-montant": "12",
            "paiement-date": "2026-11-05", "paiement-reference": "CESU 123-456"},
            page=FINANCES)
    [body] = sent(fake, "POST", "/staff/payments")
    assert "allocations" not in body and "cheque" not in body
    assert body["amount_cents"] == 1200 and body["reference"] == "CESU 123-456"


async def test_payment_mistakes_and_refusals_are_shown_next_to_the_payment_form(backoffice,
                                                                               fake):
    with_billing(fake)
    fake.on("POST", "billing", "/staff/payments", refusal(
        "Cette régie n'accepte pas les paiements partiels.", status=409))
    async with backoffice(fake) as client:
        sign_in(client)
        local = await post(client, f"{FINANCES}/paiement", {
            "paiement-regie": "ENF", "paiement-moyen": "cheque", "paiement-montant": "0",
            "paiement-date": "05/11/2026"}, page=FINANCES)
        remote = await post(client, f"{FINANCES}/paiement", {
            "paiement-regie": "ENF", "paiement-moyen": "especes", "paiement-montant": "10",
            "paiement-date": "05/11/2026"}, page=FINANCES)
    assert local.status_code == 422
    form = local.text.split('id="paiement-titre"')[1].split('id="paiements"')[0]
    assert "Indiquez le montant en euros, par exemple 40,00." in form
    assert "Indiquez l&#39;émetteur du chèque." in form
    assert remote.status_code == 409
    form = remote.text.split('id="paiement-titre"')[1].split('id="paiements"')[0]
    assert "Cette régie n&#39;accepte pas les paiements partiels." in form
    assert 'value="10"' in form
    assert len(fake.sent("POST", "billing", "/staff/payments")) == 1


async def test_a_mandate_is_added_and_another_revoked(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        added = await post(client, f"{FINANCES}/mandats", {
            "mandat-regie": "ENF", "mandat-reference": "MARELLE-ENF-0002",
            "mandat-titulaire": "Claire Martin", "mandat-iban": "fr76 3000 6000 0112 3456 7890 189",
            "mandat-bic": "agrifrpp", "mandat-date": "01/09/2026"}, page=FINANCES)
        revoked = await post(client, f"{FINANCES}/mandats/{MANDATE_ID}/revoquer", {},
                             page=FINANCES)
    assert added.status_code == 303 and revoked.status_code == 303
    assert sent(fake, "POST", f"/staff/families/{FAMILY_ID}/mandates") == [{
        "regie_code": "ENF", "reference": "MARELLE-ENF-0002", "debtor_name": "Claire Martin",
        "iban": "FR7630006000011234567890189", "bic": "AGRIFRPP", "signed_on": "2026-09-01"}]
    assert len(fake.sent("DELETE", "billing", f"/staff/mandates/{MANDATE_ID}")) == 1


# --- invoicing runs -------------------------------------------------------------------------------

async def test_a_run_is_started_for_a_regie_and_a_month(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        page = (await client.get("/facturation/facturations")).text
        response = await post(client, "/facturation/facturations",
                              {"regie": "ENF", "mois": "10/2026"})
        wrong = await post(client, "/facturation/facturations", {"regie": "", "mois": "octobre"})
    assert "Lancer une facturation" in page and "octobre 2026" in page
    assert response.status_code == 303
    assert response.headers["location"] == f"/facturation/facturations/{RUN_ID}?message=lancee"
    assert sent(fake, "POST", "/staff/runs") == [{"regie_code": "ENF", "month": "2026-10"}]
    assert wrong.status_code == 422
    assert "Choisissez la régie à facturer." in wrong.text
    assert "Indiquez le mois au format AAAA-MM" in wrong.text


async def test_a_final_month_cannot_be_started_again(backoffice, fake):
    with_billing(fake)
    fake.on("POST", "billing", "/staff/runs",
            refusal("La facturation d'octobre 2026 est déjà définitive.", status=409))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/facturations",
                              {"regie": "ENF", "mois": "2026-10"})
    assert response.status_code == 409
    assert "La facturation d&#39;octobre 2026 est déjà définitive." in response.text


async def test_a_running_run_shows_its_progress_and_refreshes_itself(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        running = (await client.get(f"/facturation/facturations/{RUN_ID}")).text
        draft = (await client.get(f"/facturation/facturations/{DRAFT_RUN_ID}")).text
    head = running.split("</head>")[0]
    assert '<meta http-equiv="refresh" content="2">' in head
    assert f"1{NNBSP}200 / 20{NNBSP}000 familles" in running
    assert '<progress id="avancement" max="20000" value="1200">' in running
    assert "Calcul en cours" in running and "Valider et émettre les factures" not in running
    assert 'http-equiv="refresh"' not in draft
    assert "3 / 3 familles" in draft


async def test_finalisation_also_refreshes_itself(backoffice, fake):
    with_billing(fake, run={**RUNNING, "status": "finalisation", "families_done": 20000})
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get(f"/facturation/facturations/{RUN_ID}")).text
    assert '<meta http-equiv="refresh" content="2">' in html and "Émission en cours" in html


async def test_a_draft_shows_anomalies_invoices_totals_and_its_actions(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get(f"/facturation/facturations/{DRAFT_RUN_ID}")).text
    assert "<h1>Facturation : octobre 2026, régie ENF</h1>" in html
    assert "Sans tarif" in html and "Aucun tarif pour l&#39;unité « goûter » d&#39;AUTOMNE." in html
    assert "Quotient familial inconnu" in html
    assert euros("42,50 €") in html and euros("37,50 €") in html  # a draft and the total
    assert "Avoir" in html and f'href="/facturation/factures/' in html
    assert f'action="/facturation/facturations/{DRAFT_RUN_ID}/recalculer"' in html
    assert f'href="/facturation/facturations/{DRAFT_RUN_ID}/valider"' in html
    assert f'action="/facturation/facturations/{DRAFT_RUN_ID}/abandonner"' in html
    # Finalising takes a confirmation: no form posts to it from the run page itself.
    assert f'action="/facturation/facturations/{DRAFT_RUN_ID}/valider"' not in html


async def test_finalising_goes_through_a_confirmation(backoffice, fake):
    with_billing(fake)
    confirm = f"/facturation/facturations/{DRAFT_RUN_ID}/valider"
    async with backoffice(fake) as client:
        sign_in(client)
        page = (await client.get(confirm)).text
        assert fake.sent("POST", "billing", f"/staff/runs/{DRAFT_RUN_ID}/finalise") == []
        response = await post(client, confirm, {})
    assert "Valider et émettre les factures ?" in page
    assert f'action="{confirm}"' in page and "Oui, émettre les factures" in page
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"{DRAFT_RUN_ID}?message=finalisee")
    assert len(fake.sent("POST", "billing", f"/staff/runs/{DRAFT_RUN_ID}/finalise")) == 1


async def test_recompute_and_abandon_a_draft(backoffice, fake):
    with_billing(fake)
    path = f"/facturation/facturations/{DRAFT_RUN_ID}"
    async with backoffice(fake) as client:
        sign_in(client)
        recomputed = await post(client, f"{path}/recalculer", {}, page=path)
        abandoned = await post(client, f"{path}/abandonner", {}, page=path)
        listed = (await client.get(abandoned.headers["location"])).text
    assert recomputed.status_code == 303 and recomputed.headers["location"].endswith("recalcul")
    assert len(fake.sent("POST", "billing", f"/staff/runs/{DRAFT_RUN_ID}/recompute")) == 1
    assert len(fake.sent("DELETE", "billing", f"/staff/runs/{DRAFT_RUN_ID}")) == 1
    assert "Le brouillon est abandonné." in listed


async def test_a_refused_finalisation_is_said_on_the_run_page(backoffice, fake):
    with_billing(fake)
    fake.on("POST", "billing", f"/staff/runs/{DRAFT_RUN_ID}/finalise",
            refusal("Ce brouillon a changé : recalculez-le.", status=409))
    confirm = f"/facturation/facturations/{DRAFT_RUN_ID}/valider"
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, confirm, {})
    assert response.status_code == 409
    assert "Ce brouillon a changé : recalculez-le." in response.text


async def test_an_invoice_shows_its_lines(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get(f"/facturation/factures/{INVOICE_ID}")).text
    assert "<h1>Facture F2026-000123</h1>" in html
    assert "Léa Martin" in html and "Absence injustifiée" in html and "20/10/2026" in html
    assert euros("1,20 €") in html and "R2026-0042" in html and "Chèque" in html


# --- unpaid invoices, payments --------------------------------------------------------------------

async def test_unpaid_invoices_by_regie(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/facturation/impayes?regie=ENF")).text
        await client.get("/facturation/impayes?regie=../../x")
    first, second = fake.sent("GET", "billing", "/staff/invoices")
    assert dict(first.url.params) == {"regie": "ENF", "unpaid": "true"}
    assert dict(second.url.params) == {"unpaid": "true"}  # an unknown régie is not forwarded
    assert "F2026-000123" in html and "02/12/2026" in html and euros("1 210,00 €") in html
    assert f"Total</th><td>{euros('1 234,50 €')}" in html
    assert f'href="/familles/{FAMILY_ID}/finances">Martin</a>' in html


async def test_payments_include_online_card_payments_and_filter_by_method(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/facturation/paiements")).text
        await client.get("/facturation/paiements?regie=ENF&moyen=carte")
    first, second = fake.sent("GET", "billing", "/staff/payments")
    assert dict(first.url.params) == {}
    assert dict(second.url.params) == {"regie": "ENF", "method": "carte"}
    assert "Carte bancaire (en ligne) (CB •••• 0003)" in html and "Chèque" in html
    assert euros("35,50 €") in html  # accepted payments' total


# --- SEPA, import, dashboard ----------------------------------------------------------------------

async def test_a_sepa_collection_is_prepared_and_its_file_downloaded(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/prelevements",
                              {"regie": "ENF", "date": "05/12/2026"})
        download = await client.get(
            f"/facturation/prelevements/{COLLECTION_ID}/pain.008.xml")
    assert response.status_code == 200
    assert sent(fake, "POST", "/staff/sepa/collections") == [
        {"regie_code": "ENF", "collection_date": "2026-12-05"}]
    assert "Prélèvement préparé" in response.text and euros("1 234,50 €") in response.text
    assert f'href="/facturation/prelevements/{COLLECTION_ID}/pain.008.xml"' in response.text
    assert download.status_code == 200 and download.content == PAIN008
    assert download.headers["content-type"].startswith("application/xml")
    assert "attachment" in download.headers["content-disposition"]


async def test_a_sepa_refusal_is_shown_by_the_form(backoffice, fake):
    with_billing(fake)
    fake.on("POST", "billing", "/staff/sepa/collections",
            refusal("Cette régie n'a pas de créancier SEPA.", status=409))
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/prelevements",
                              {"regie": "SPORT", "date": "05/12/2026"})
    assert response.status_code == 409
    assert "Cette régie n&#39;a pas de créancier SEPA." in response.text


CSV = "famille;numero;date;montant\n" + f"{FAMILY_ID};ANC-41;30/06/2026;40,00\n"


async def test_the_import_takes_a_pasted_csv_and_shows_the_result(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, "/facturation/reprise", {"regie": "ENF", "csv": CSV})
    html = response.text
    assert response.status_code == 200
    assert sent(fake, "POST", "/staff/imports/invoices") == [{"regie_code": "ENF", "csv": CSV}]
    assert "Factures importées</dt><dd>2" in html and "Déjà présentes</dt><dd>1" in html
    assert "Ligne 4</th><td>Famille inconnue : 0000." in html
    assert "Ligne 6</th>" in html


async def test_the_import_takes_an_uploaded_file(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        csrf = await csrf_of(client, "/facturation/reprise")
        response = await client.post(
            "/facturation/reprise", data={"csrf": csrf, "regie": "ENF", "csv": ""},
            files={"fichier": ("factures.csv", CSV.encode("cp1252"), "text/csv")})
        empty = await post(client, "/facturation/reprise", {"regie": "ENF", "csv": ""})
    assert response.status_code == 200
    assert sent(fake, "POST", "/staff/imports/invoices") == [{"regie_code": "ENF", "csv": CSV}]
    assert empty.status_code == 422
    assert "Choisissez un fichier ou collez le contenu du fichier." in empty.text


async def test_the_dashboard_shows_a_table_a_chart_and_exports_csv(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/facturation/tableau-de-bord?regie=ENF&mois=2026-10")).text
        sheet = await client.get("/facturation/tableau-de-bord.csv?regie=ENF&mois=2026-10")
    [request] = fake.sent("GET", "billing", "/staff/reports")
    assert dict(request.url.params) == {"regie": "ENF", "month": "2026-10"}
    assert "AUTOMNE" in html and euros("1 234,50 €") in html and euros("234,50 €") in html
    assert "<svg" in html and html.count('class="bar bar-invoiced_cents"') == 2
    assert 'href="/facturation/tableau-de-bord.csv?regie=ENF&amp;mois=2026-10"' in html
    assert "Exporter en CSV" in html
    assert sheet.status_code == 200 and sheet.content == REPORT_CSV
    assert sheet.headers["content-type"].startswith("text/csv")
    assert 'filename="facturation-ENF-2026-10.csv"' in sheet.headers["content-disposition"]
    [proxied] = fake.sent("GET", "billing", "/staff/reports.csv")
    assert dict(proxied.url.params) == {"regie": "ENF", "month": "2026-10"}


async def test_the_dashboard_without_a_choice_asks_for_one(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        response = await client.get("/facturation/tableau-de-bord")
        wrong = await client.get("/facturation/tableau-de-bord?regie=ENF&mois=13/2026")
    assert response.status_code == 200 and "<svg" not in response.text
    assert fake.sent("GET", "billing", "/staff/reports") == []
    assert wrong.status_code == 422 and "Indiquez le mois au format AAAA-MM" in wrong.text


async def test_the_dashboard_offers_the_accounting_export_and_passes_the_file_on(backoffice,
                                                                                  fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        html = (await client.get("/facturation/tableau-de-bord?regie=ENF&mois=2026-10")).text
        sheet = await client.get("/facturation/export-comptable.csv?regie=ENF&du=01/10/2026"
                                 "&au=2026-10-31")
    assert "Export comptable (CSV)" in html
    assert 'action="/facturation/export-comptable.csv"' in html
    assert 'name="du"' in html and 'name="au"' in html
    assert sheet.status_code == 200 and sheet.content == ACCOUNTING_CSV
    assert sheet.headers["content-type"].startswith("text/csv")
    assert ('filename="export-comptable-ENF-2026-10-01-2026-10-31.csv"'
            in sheet.headers["content-disposition"])
    [proxied] = fake.sent("GET", "billing", "/staff/exports/accounting.csv")
    assert dict(proxied.url.params) == {"regie": "ENF", "from": "2026-10-01",
                                        "to": "2026-10-31"}


async def test_a_wrong_export_choice_shows_the_dashboard_with_the_reason(backoffice, fake):
    with_billing(fake)
    async with backoffice(fake) as client:
        sign_in(client)
        typo = await client.get("/facturation/export-comptable.csv?regie=NOPE&du=32/10/2026"
                                "&au=2026-10-31")
        assert fake.sent("GET", "billing", "/staff/exports/accounting.csv") == []
        fake.on("GET", "billing", "/staff/exports/accounting.csv", refusal(
            "La date de début (31/10/2026) est après la date de fin (01/10/2026).",
            status=400))
        refused = await client.get("/facturation/export-comptable.csv?regie=ENF&du=2026-10-31"
                                   "&au=2026-10-01")
    assert typo.status_code == 422
    assert "Choisissez une régie de la liste." in typo.text
    assert "Indiquez la date de début au format JJ/MM/AAAA." in typo.text
    assert refused.status_code == 400 and "text/html" in refused.headers["content-type"]
    assert "est après la date de fin" in refused.text
    assert 'value="2026-10-31"' in refused.text  # what was typed is kept


async def test_a_tariff_billing_no_longer_knows_is_the_404_page(backoffice, fake):
    with_billing(fake)
    fake.on("PUT", "billing", f"/staff/tariffs/{TARIFF_ID}", refusal("Tarif introuvable.",
                                                                      status=404))
    path = f"/facturation/tarifs/{TARIFF_ID}/modifier"
    async with backoffice(fake) as client:
        sign_in(client)
        response = await post(client, path, {
            "regie": "ENF", "activite": "AUTOMNE", "unite": "repas", "libelle": "Repas",
            "du": "01/09/2026", "prix-A-tous": "1"})
        unknown = await client.get("/facturation/tarifs/b2000000-0000-4000-8000-0000000000ff"
                                   "/modifier")
    assert response.status_code == 404 and "Tarif introuvable." in response.text
    assert unknown.status_code == 404


@pytest.mark.parametrize("path", ["/facturation", "/facturation/regies", "/facturation/tranches",
                                  "/facturation/tarifs", "/facturation/facturations",
                                  "/facturation/impayes", "/facturation/paiements",
                                  "/facturation/prelevements", "/facturation/reprise",
                                  "/facturation/tableau-de-bord", FINANCES])
async def test_every_billing_page_needs_a_staff_session(backoffice, fake, path):
    with_billing(fake)
    async with backoffice(fake) as client:
        response = await client.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
