"""« Payer cette facture »: the parent starts a payment, pays at the sandbox bank, the bank's
notification and the parent's return settle it — once, whatever their order or repetitions."""

from __future__ import annotations

import asyncio
import io
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pypdf import PdfReader

from marelle_billing.db import invoice, payment
from marelle_billing.domain.money import format_eur
from .conftest import Billing, Family, issued_invoice

RETURN_URL = "https://portail.test/paiement/retour"
ACCEPTED, DECLINED = "4970 1000 0000 0003", "4970 1000 0000 0014"


@pytest.fixture
async def bank(billing: Billing):
    """The sandbox bank's server-to-server notifications reach this app in-process."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=billing.app),
                                 base_url="http://billing.test") as http:
        billing.app.state.sandbox_http = http
        yield billing
        billing.app.state.sandbox_http = None


async def start(billing: Billing, family: Family, invoice_id, amount: int | None = None,
                headers: dict | None = None) -> httpx.Response:
    body = {"return_url": RETURN_URL}
    if amount is not None:
        body["amount_cents"] = amount
    return await billing.client.post(f"/families/{family.id}/invoices/{invoice_id}/payments",
                                     json=body, headers=headers or family.headers)


async def pay_at_bank(billing: Billing, started: dict, card: str = ACCEPTED,
                      action: str = "payer") -> str:
    """Open the sandbox page, submit it; the query string the browser is sent back with."""
    page = await billing.client.get(started["redirect_url"])
    assert page.status_code == 200
    query = parse_qs(urlsplit(started["redirect_url"]).query)
    answer = await billing.client.post("/sandbox-bank/pay", data={
        "transaction_id": query["transaction_id"][0], "return_url": query["return_url"][0],
        "direct_notification_url": query["direct_notification_url"][0], "card_type": "Visa",
        "card_number": card, "expiry": "12/30", "cvc": "123", "action": action})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(RETURN_URL + "?")
    return location.split("?", 1)[1]


async def back_home(billing: Billing, family: Family, query: str) -> httpx.Response:
    return await billing.client.post(f"/families/{family.id}/payments/return",
                                     json={"query_string": query}, headers=family.headers)


async def invoice_row(billing: Billing, invoice_id):
    return (await billing.rows(invoice, invoice.c.invoice_id == invoice_id))[0]


async def events_of(billing: Billing, kind: str) -> list[dict]:
    return [p for t, _v, p in await billing.outbox() if t == f"billing.{kind}"]


async def test_a_parent_pays_an_invoice_with_the_accepted_test_card(bank: Billing):
    family = await bank.family("Martin", ["Léa"], email="martin@example.org")
    invoice_id = await issued_invoice(bank, family, 4000)

    started = await start(bank, family, invoice_id)
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["amount_cents"] == 4000 and body["email"] == "martin@example.org"
    assert body["redirect_url"].startswith("http://billing.test/sandbox-bank/?")
    assert body["method"] == "GET"

    page = await bank.client.get(body["redirect_url"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'lang="fr"' in page.text and format_eur(4000) in page.text
    for text in ("Payer", "Annuler", "Numéro de carte", "Mastercard", 'for="card_number"'):
        assert text in page.text

    query = await pay_at_bank(bank, body)
    # The bank's notification already settled the payment, before the parent is back.
    inv = await invoice_row(bank, invoice_id)
    assert (inv.status, inv.settled_cents) == ("payee", 4000)

    seen = await back_home(bank, family, query)
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert view["status"] == "acceptee" and view["message"] is None
    assert view["receipt_number"] == "R2611000001"
    assert (view["card_type"], view["card_last4"]) == ("Visa", "0003")
    assert len(view["authorisation"]) == 6 and view["authorisation"].isdigit()
    assert view["allocations"] == [{"invoice_id": str(invoice_id),
                                    "invoice_number": inv.number, "amount_cents": 4000}]
    received = await events_of(bank, "payment_received")
    assert len(received) == 1 and received[0]["receipt_number"] == "R2611000001"
    assert received[0]["method"] == "carte" and received[0]["amount_cents"] == 4000
    assert len(await events_of(bank, "invoice_paid")) == 1

    listed = (await bank.client.get(f"/families/{family.id}/payments",
                                    headers=family.headers)).json()["payments"]
    assert [p["payment_id"] for p in listed] == [view["payment_id"]]


async def test_callback_and_return_in_any_order_settle_once(billing: Billing):
    family = await billing.family("Durand", ["Tom"])
    invoice_id = await issued_invoice(billing, family, 4000)
    started = (await start(billing, family, invoice_id)).json()
    transaction_id = parse_qs(urlsplit(started["redirect_url"]).query)["transaction_id"][0]
    paid = (f"transaction_id={transaction_id}&ok=1&signed=1&card=CB&last4=0003"
            "&authorisation=123456")
    callback = f"/payments/callback/ENFANCE?{paid}"

    # The parent is back before the bank's notification; then replays, some at the same time.
    first = await back_home(billing, family, paid)
    assert first.json()["status"] == "acceptee"
    answers = await asyncio.gather(billing.client.post(callback), back_home(billing, family, paid),
                                   billing.client.get(callback))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].text == "signature ok"
    assert (await billing.client.post(callback)).status_code == 200

    rows = await billing.rows(payment, payment.c.family_id == family.id)
    assert [(r.status, r.receipt_number, r.version) for r in rows] == [
        ("acceptee", "R2611000001", 2)]
    inv = await invoice_row(billing, invoice_id)
    assert (inv.status, inv.settled_cents) == ("payee", 4000)
    assert len(await events_of(billing, "payment_received")) == 1
    assert len(await events_of(billing, "invoice_paid")) == 1


async def test_a_declined_card_leaves_the_invoice_to_pay(bank: Billing):
    family = await bank.family("Petit", ["Zoé"])
    invoice_id = await issued_invoice(bank, family, 4000)
    started = (await start(bank, family, invoice_id)).json()

    view = (await back_home(bank, family, await pay_at_bank(bank, started, DECLINED))).json()
    assert view["status"] == "refusee" and view["receipt_number"] is None
    assert view["message"] == "Le paiement a été refusé par la banque. La facture reste à payer."
    inv = await invoice_row(bank, invoice_id)
    assert (inv.status, inv.settled_cents) == ("emise", 0)
    assert await events_of(bank, "payment_received") == []

    # Another try with the right card pays it.
    again = (await start(bank, family, invoice_id)).json()
    assert (await back_home(bank, family, await pay_at_bank(bank, again))).json()[
        "status"] == "acceptee"
    assert (await invoice_row(bank, invoice_id)).status == "payee"


async def test_cancelling_at_the_bank_abandons_the_payment(bank: Billing):
    family = await bank.family("Roux", ["Jade"])
    invoice_id = await issued_invoice(bank, family, 2500)
    started = (await start(bank, family, invoice_id)).json()

    query = await pay_at_bank(bank, started, "", action="annuler")
    assert "reason=abandon" in query
    view = (await back_home(bank, family, query)).json()
    assert view["status"] == "abandonnee"
    assert view["message"] == "Paiement abandonné. La facture reste à payer."
    assert (await invoice_row(bank, invoice_id)).status == "emise"


async def test_amount_checks_and_partial_payments(billing: Billing):
    family = await billing.family("Blanc", ["Noé"])
    strict = await issued_invoice(billing, family, 4000)
    over = await start(billing, family, strict, amount=4001)
    assert over.status_code == 422
    assert over.json()["detail"] == (
        f"Le montant dépasse le solde de la facture ({format_eur(4000)}).")
    partial = await start(billing, family, strict, amount=1000)
    assert partial.status_code == 422 and "paiements partiels" in partial.json()["detail"]

    lenient = await issued_invoice(billing, family, 4000, "PERISCO", partial=True)
    ok = await start(billing, family, lenient, amount=1000)
    assert ok.status_code == 201 and ok.json()["amount_cents"] == 1000
    query = parse_qs(urlsplit(ok.json()["redirect_url"]).query)
    assert query["amount"] == ["10.00"]

    paid = await issued_invoice(billing, family, 3000)
    async with billing.runtime.uow() as uow:
        from marelle_billing.usecases.ledger import allocate
        assert await allocate(uow, paid, 3000, at=billing.clock())
        await uow.commit()
    refused = await start(billing, family, paid)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Cette facture est déjà réglée."


async def test_a_parent_reaches_only_their_own_invoices_and_payments(billing: Billing):
    mine = await billing.family("Moreau", ["Luc"])
    other = await billing.family("Girard", ["Inès"])
    invoice_id = await issued_invoice(billing, mine, 4000)
    started = (await start(billing, mine, invoice_id)).json()
    transaction_id = parse_qs(urlsplit(started["redirect_url"]).query)["transaction_id"][0]

    # Another family's invoice, through their own family path: not found.
    assert (await start(billing, other, invoice_id)).status_code == 404
    # Someone else's family path: refused.
    assert (await start(billing, mine, invoice_id, headers=other.headers)).status_code in (403, 404)
    seen = await billing.client.get(f"/families/{other.id}/payments/{started['payment_id']}",
                                    headers=other.headers)
    assert seen.status_code == 404
    stolen = await back_home(billing, other,
                             f"transaction_id={transaction_id}&ok=1&signed=1")
    assert stolen.status_code == 404
    assert (await billing.rows(payment, payment.c.family_id == mine.id))[0].status == "en_attente"


async def test_an_unsigned_answer_never_marks_an_invoice_paid(billing: Billing):
    family = await billing.family("Faure", ["Léo"])
    invoice_id = await issued_invoice(billing, family, 4000)
    started = (await start(billing, family, invoice_id)).json()
    transaction_id = parse_qs(urlsplit(started["redirect_url"]).query)["transaction_id"][0]
    forged = f"transaction_id={transaction_id}&ok=1"

    assert (await back_home(billing, family, forged)).status_code == 400
    cb = await billing.client.get(f"/payments/callback/ENFANCE?{forged}")
    assert cb.status_code == 400 and cb.headers["content-type"].startswith("application/problem")
    unknown = await billing.client.get(
        "/payments/callback/ENFANCE?transaction_id=nope&signed=1&ok=1")
    assert unknown.status_code == 400
    assert (await billing.client.get("/payments/callback/ENFANCE?garbage")).status_code == 400
    assert (await invoice_row(billing, invoice_id)).status == "emise"
    assert (await billing.rows(payment, payment.c.family_id == family.id))[0].status == "en_attente"


async def test_without_the_sandbox_the_dummy_backend_is_refused(billing: Billing):
    family = await billing.family("Lambert", ["Eva"])
    invoice_id = await issued_invoice(billing, family, 4000)
    started = (await start(billing, family, invoice_id)).json()
    transaction_id = parse_qs(urlsplit(started["redirect_url"]).query)["transaction_id"][0]

    billing.app.state.settings.payment_sandbox = False
    refused = await start(billing, family, invoice_id)
    assert refused.status_code == 503
    assert refused.json()["detail"] == "Le paiement en ligne n'est pas disponible pour cette régie."
    assert (await billing.client.get(started["redirect_url"])).status_code == 404
    forged = await billing.client.post(
        f"/payments/callback/ENFANCE?transaction_id={transaction_id}&ok=1&signed=1")
    assert forged.status_code == 503
    assert (await invoice_row(billing, invoice_id)).status == "emise"


async def test_a_tipi_regie_sends_the_parent_to_payfip(billing: Billing):
    family = await billing.family("Mercier", ["Ana"], email="mercier@example.org")
    invoice_id = await issued_invoice(billing, family, 4000, "TIPI", backend="tipi",
                                      options={"numcli": "123456", "saisie": "T"})
    started = await start(billing, family, invoice_id)
    assert started.status_code == 201, started.text
    url = urlsplit(started.json()["redirect_url"])
    assert (url.scheme, url.netloc) == ("https", "www.payfip.gouv.fr")
    query = parse_qs(url.query)
    assert query["montant"] == ["4000"] and query["numcli"] == ["123456"]
    assert query["urlcl"] == ["http://billing.test/payments/callback/TIPI"]
    row = (await billing.rows(payment, payment.c.family_id == family.id))[0]
    assert (row.backend, row.transaction_id) == ("tipi", query["refdet"][0])


async def test_two_tabs_paid_keep_the_second_payment_as_credit(billing: Billing):
    family = await billing.family("Chevalier", ["Max"])
    invoice_id = await issued_invoice(billing, family, 4000)
    answers = []
    for _ in range(2):
        started = (await start(billing, family, invoice_id)).json()
        tid = parse_qs(urlsplit(started["redirect_url"]).query)["transaction_id"][0]
        answers.append(f"transaction_id={tid}&ok=1&signed=1&card=CB&last4=0003")
    views = [(await back_home(billing, family, q)).json() for q in answers]
    assert [v["unallocated_cents"] for v in views] == [0, 4000]
    assert [v["receipt_number"] for v in views] == ["R2611000001", "R2611000002"]
    assert (await invoice_row(billing, invoice_id)).settled_cents == 4000


async def test_the_receipt_of_an_accepted_payment_is_a_pdf(bank: Billing):
    family = await bank.family("Garnier", ["Lou"])
    invoice_id = await issued_invoice(bank, family, 4000)
    started = (await start(bank, family, invoice_id)).json()
    url = f"/families/{family.id}/payments/{started['payment_id']}/receipt.pdf"
    pending = await bank.client.get(url, headers=family.headers)
    assert pending.status_code == 409

    await back_home(bank, family, await pay_at_bank(bank, started))
    receipt = await bank.client.get(url, headers=family.headers)
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt.content)).pages)
    assert "R2611000001" in text and "40,00" in text and "0003" in text
    assert "Famille Garnier" in text


def test_production_refuses_the_sandbox_bank_and_an_unauthenticated_broker(monkeypatch):
    import pytest

    from marelle_billing.config import BillingSettings
    from marelle_billing.main import create_app
    from marelle_chassis.settings import UnsafeConfiguration

    monkeypatch.setenv("MARELLE_ENV", "production")
    with pytest.raises(UnsafeConfiguration, match="BILLING_PAYMENT_SANDBOX"):
        create_app(BillingSettings(database_url="sqlite+aiosqlite:///:memory:",
                                   kafka_enabled=False, payment_sandbox=True))
    with pytest.raises(UnsafeConfiguration, match="Kafka sans authentification"):
        create_app(BillingSettings(database_url="sqlite+aiosqlite:///:memory:"))
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "billing")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "a-long-generated-password-for-billing")
    assert create_app(BillingSettings(database_url="sqlite+aiosqlite:///:memory:")) is not None
