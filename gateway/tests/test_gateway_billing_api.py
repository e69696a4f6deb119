"""JSON API of « Mon compte »: thin bearer-token proxies to billing (the family always the
token's, billing's limits checked here in French, statuses and problem+json passed through, a
French 503 when billing is down), answered by the fake billing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from marelle_contracts.http import billing as M

from gateway.tests import billing_fake as bf
from gateway.tests.billing_fake import FakeBilling

FAMILY = "/families/0b7d2a52-3f51-4a8e-9c0e-8f1f5a8f6b11"


@pytest.fixture
def billing(fake, enrolment) -> FakeBilling:
    return FakeBilling(fake)


def bearer(fake) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.parent_token()}"}


async def call(portal, fake, method: str, path: str, **kwargs) -> httpx.Response:
    async with portal(fake) as client:
        return await client.request(method, path, headers=bearer(fake), **kwargs)


async def test_account_invoices_and_registrations(portal, fake, billing):
    account = await call(portal, fake, "GET", "/api/v1/account")
    listing = await call(portal, fake, "GET", "/api/v1/invoices")
    detail = await call(portal, fake, "GET", f"/api/v1/invoices/{bf.FIRST}")
    money = await call(portal, fake, "GET", "/api/v1/registrations")
    assert M.AccountSummary.model_validate(account.json()).balance_cents == 21000
    invoices = M.InvoiceList.model_validate(listing.json())
    assert invoices.total_balance_cents == 21000
    assert [i.number for i in invoices.invoices][:2] == ["F1404000001", "F1309000001"]
    assert [line.amount_cents for line in
            M.InvoiceDetail.model_validate(detail.json()).lines] == [1500, 2500]
    assert [r.remaining_cents for r in
            M.RegistrationMoneyList.model_validate(money.json()).registrations] == [2500, 0]
    [sent] = fake.sent("GET", f"{FAMILY}/account", "billing")
    assert sent.headers["authorization"].startswith("Bearer ")


async def test_pdfs_are_streamed(portal, fake, billing):
    invoice = await call(portal, fake, "GET", f"/api/v1/invoices/{bf.FIRST}/pdf")
    attestation = await call(portal, fake, "GET",
                             f"/api/v1/fiscal-attestations/{bf.ISSUED_ATTESTATION}/pdf")
    for response in (invoice, attestation):
        assert response.status_code == 200 and response.content == bf.PDF_BYTES
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["cache-control"] == "private, no-store"


async def test_paying_online_start_return_receipt(portal, fake, billing):
    body = {"family_id": str(uuid.uuid4()), "amount_cents": 1000}
    started = await call(portal, fake, "POST", f"/api/v1/invoices/{bf.FIRST}/payments",
                         json=body)
    assert started.status_code == 201
    start = M.OnlinePaymentStart.model_validate(started.json())
    assert start.redirect_url == f"{bf.PROVIDER}?reference={start.payment_id}"
    # No family from the client; the return address is the portal's.
    assert billing.posted["payments"] == [
        {"amount_cents": 1000, "return_url": "http://portail.test/mon-compte/paiement/retour"}]
    query = f"reference={start.payment_id}&resultat=accepte"
    back = await call(portal, fake, "POST", "/api/v1/payments/return",
                      json={"query_string": query})
    assert back.status_code == 200 and back.json()["status"] == "acceptee"
    one = await call(portal, fake, "GET", f"/api/v1/payments/{start.payment_id}")
    every = await call(portal, fake, "GET", "/api/v1/payments")
    receipt = await call(portal, fake, "GET", f"/api/v1/payments/{start.payment_id}/receipt.pdf")
    assert M.PaymentView.model_validate(one.json()).receipt_number == "T2026-000001"
    assert len(M.PaymentList.model_validate(every.json()).payments) == 1
    assert receipt.content == bf.PDF_BYTES
    detail = await call(portal, fake, "GET", f"/api/v1/invoices/{bf.FIRST}")
    assert detail.json()["balance_cents"] == 3000


async def test_billings_refusals_pass_through(portal, fake, billing):
    partial = await call(portal, fake, "POST", f"/api/v1/invoices/{bf.SECOND}/payments",
                         json={"amount_cents": 500})
    assert partial.status_code == 422
    assert partial.headers["content-type"].startswith("application/problem+json")
    assert partial.json()["detail"] == "Le paiement partiel n'est pas autorisé pour cette facture."
    refused = await call(portal, fake, "GET", "/api/v1/payments/" + str(uuid.uuid4()) +
                         "/receipt.pdf")
    assert refused.status_code == 404 and refused.json()["detail"] == "Ce paiement est introuvable."
    other = await call(portal, fake, "GET", f"/api/v1/invoices/{bf.OTHER_FAMILYS_INVOICE}")
    assert other.status_code == 404 and other.json()["detail"] == "Cette facture est introuvable."


@pytest.mark.parametrize("method,path,body", [
    ("POST", f"/api/v1/invoices/{bf.FIRST}/payments", {"amount_cents": 0}),
    ("POST", "/api/v1/payments/return", {"query_string": "x" * 4001}),
    ("POST", "/api/v1/fiscal-attestations", {"year": 1999}),
    ("GET", "/api/v1/invoices/pas-un-uuid", None),
])
async def test_limits_are_checked_before_billing(portal, fake, billing, method, path, body):
    response = await call(portal, fake, method, path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert not [r for r in fake.requests if r.url.port == 8104]


async def test_fiscal_attestations(portal, fake, billing):
    issued = await call(portal, fake, "POST", "/api/v1/fiscal-attestations",
                        json={"year": bf.LAST_YEAR, "family_id": str(uuid.uuid4())})
    assert issued.status_code == 201
    assert M.FiscalAttestation.model_validate(issued.json()).total_cents == 18250
    assert billing.posted["attestations"] == [{"year": bf.LAST_YEAR}]
    refused = await call(portal, fake, "POST", "/api/v1/fiscal-attestations",
                         json={"year": 2001})
    assert refused.status_code == 409
    listing = await call(portal, fake, "GET", "/api/v1/fiscal-attestations")
    assert len(M.FiscalAttestations.model_validate(listing.json()).attestations) == 2


async def test_billing_down_is_a_french_503(portal, fake, billing):
    billing.down = True
    for path in ("/api/v1/account", f"/api/v1/invoices/{bf.FIRST}/pdf"):
        response = await call(portal, fake, "GET", path)
        assert response.status_code == 503, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "facturation est momentanément indisponible" in response.json()["detail"]


async def test_a_token_is_needed(portal, fake, billing):
    async with portal(fake) as client:
        response = await client.get("/api/v1/invoices")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not [r for r in fake.requests if r.url.port == 8104]


def test_every_route_declares_the_contracts_model():
    from marelle_gateway.main import create_app

    paths = create_app().openapi()["paths"]
    expected = {
        ("get", "/api/v1/account"): "AccountSummary",
        ("get", "/api/v1/invoices"): "InvoiceList",
        ("get", "/api/v1/invoices/{invoice_id}"): "InvoiceDetail",
        ("get", "/api/v1/registrations"): "RegistrationMoneyList",
        ("post", "/api/v1/invoices/{invoice_id}/payments"): "OnlinePaymentStart",
        ("post", "/api/v1/payments/return"): "PaymentView",
        ("get", "/api/v1/payments"): "PaymentList",
        ("get", "/api/v1/payments/{payment_id}"): "PaymentView",
        ("get", "/api/v1/fiscal-attestations"): "FiscalAttestations",
        ("post", "/api/v1/fiscal-attestations"): "FiscalAttestation",
    }
    for (method, path), model in expected.items():
        responses = paths[path][method]["responses"]
        ok = responses.get("200") or responses["201"]
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/" + model), path
    for path in ("/api/v1/invoices/{invoice_id}/pdf", "/api/v1/payments/{payment_id}/receipt.pdf",
                 "/api/v1/fiscal-attestations/{attestation_id}/pdf"):
        assert "application/pdf" in paths[path]["get"]["responses"]["200"]["content"], path
