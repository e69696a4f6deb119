"""SEPA direct debit: mandates (IBAN and BIC checked, IBAN masked) and the pain.008 file of the
open invoices of families with an active mandate, paid as of the collection date."""

from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import sepaxml
import xmlschema

from marelle_billing.db import invoice, payment

from .conftest import Billing, Family, issued_invoice, payment_regie

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"}
DEBTOR_IBAN = "DE89 3704 0044 0532 0130 00"


async def mandate(billing: Billing, family: Family, reference: str, *, iban: str = DEBTOR_IBAN,
                  bic: str = "COBADEFFXXX", regie_code: str = "SEPA") -> object:
    return await billing.client.post(
        f"/staff/families/{family.id}/mandates", headers=billing.staff,
        json={"regie_code": regie_code, "reference": reference, "debtor_name": f"M. {family.name}",
              "iban": iban, "bic": bic, "signed_on": "2026-09-01"})


async def collect(billing: Billing, regie_code: str = "SEPA", day: str = "2026-11-10") -> object:
    return await billing.client.post("/staff/sepa/collections", headers=billing.staff,
                                     json={"regie_code": regie_code, "collection_date": day})


async def test_mandates_check_iban_and_bic_and_mask_the_iban(billing: Billing):
    await payment_regie(billing, "SEPA", creditor=True)
    family = await billing.family("Martin", ["Léa"])

    wrong_key = await mandate(billing, family, "RUM-1", iban="DE88 3704 0044 0532 0130 00")
    assert wrong_key.status_code == 422 and "IBAN" in wrong_key.json()["detail"]
    wrong_bic = await mandate(billing, family, "RUM-1", bic="COBA-DEFF")
    assert wrong_bic.status_code == 422 and wrong_bic.json()["detail"] == "Le BIC n'est pas valide."

    made = await mandate(billing, family, "RUM-1")
    assert made.status_code == 201, made.text
    assert made.json()["iban_masked"] == "DE89**************3000"
    assert DEBTOR_IBAN.replace(" ", "") not in made.text
    assert (await mandate(billing, family, "RUM-1")).status_code == 409

    listed = await billing.client.get(f"/staff/families/{family.id}/mandates",
                                      headers=billing.staff)
    assert [(m["reference"], m["active"]) for m in listed.json()["mandates"]] == [("RUM-1", True)]
    gone = await billing.client.delete(f"/staff/mandates/{made.json()['mandate_id']}",
                                       headers=billing.staff)
    assert gone.status_code == 204
    listed = await billing.client.get(f"/staff/families/{family.id}/mandates",
                                      headers=billing.staff)
    assert [m["active"] for m in listed.json()["mandates"]] == [False]
    assert (await billing.client.get(f"/staff/families/{family.id}/mandates",
                                     headers=family.headers)).status_code == 403


async def test_a_collection_debits_the_open_invoices_of_families_with_a_mandate(billing: Billing):
    await payment_regie(billing, "SEPA", creditor=True)
    martin = await billing.family("Martin", ["Léa"])
    durand = await billing.family("Durand", ["Tom"])
    petit, roux = await billing.family("Petit", ["Zoé"]), await billing.family("Roux", ["Jade"])
    debited = [await issued_invoice(billing, martin, 4000, "SEPA", issued_on=date(2026, 10, 1)),
               await issued_invoice(billing, martin, 1250, "SEPA"),
               await issued_invoice(billing, durand, 3000, "SEPA")]
    untouched = [await issued_invoice(billing, petit, 2000, "SEPA"),   # no mandate
                 await issued_invoice(billing, roux, 2000, "SEPA")]    # revoked mandate
    await mandate(billing, martin, "RUM-MARTIN")
    await mandate(billing, durand, "RUM-DURAND", iban="FR76 3000 6000 0112 3456 7890 189",
                  bic="AGRIFRPP882")
    revoked = (await mandate(billing, roux, "RUM-ROUX")).json()["mandate_id"]
    await billing.client.delete(f"/staff/mandates/{revoked}", headers=billing.staff)

    made = await collect(billing)
    assert made.status_code == 201, made.text
    assert (made.json()["count"], made.json()["total_cents"]) == (3, 8250)

    rows = {r.invoice_id: r for r in await billing.rows(invoice)}
    assert [rows[i].status for i in debited] == ["payee"] * 3
    assert [rows[i].status for i in untouched] == ["emise"] * 2
    paid = await billing.rows(payment, payment.c.method == "prelevement")
    assert len(paid) == 3
    assert {(p.status, p.received_on) for p in paid} == {("acceptee", date(2026, 11, 10))}
    received = [p for t, _v, p in await billing.outbox() if t == "billing.payment_received"]
    assert sorted(p["amount_cents"] for p in received) == [1250, 3000, 4000]

    answer = await billing.client.get(
        f"/staff/sepa/collections/{made.json()['collection_id']}/pain.008.xml",
        headers=billing.staff)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/xml")
    schema = os.path.join(os.path.dirname(sepaxml.__file__), "schemas", "pain.008.001.02.xsd")
    xmlschema.XMLSchema(schema).validate(answer.text)
    root = ET.fromstring(answer.content)
    assert root.find("p:CstmrDrctDbtInitn/p:GrpHdr/p:NbOfTxs", NS).text == "3"
    assert Decimal(root.find("p:CstmrDrctDbtInitn/p:GrpHdr/p:CtrlSum", NS).text) == Decimal("82.50")
    amounts = sorted(Decimal(a.text) for a in root.iter(f"{{{NS['p']}}}InstdAmt"))
    assert amounts == [Decimal("12.50"), Decimal("30.00"), Decimal("40.00")]
    assert {s.text for s in root.iter(f"{{{NS['p']}}}SeqTp")} == {"FRST"}
    mandates = {m.text for m in root.iter(f"{{{NS['p']}}}MndtId")}
    assert mandates == {"RUM-MARTIN", "RUM-DURAND"}

    # Nothing left to debit; a new invoice is then a recurring debit.
    again = await collect(billing)
    assert again.status_code == 409 and again.json()["detail"] == "Aucune facture à prélever."
    await issued_invoice(billing, martin, 900, "SEPA", issued_on=date(2026, 12, 1))
    later = await collect(billing, day="2026-12-10")
    assert later.status_code == 201 and later.json()["count"] == 1
    document = await billing.client.get(
        f"/staff/sepa/collections/{later.json()['collection_id']}/pain.008.xml",
        headers=billing.staff)
    assert {s.text for s in ET.fromstring(document.content).iter(f"{{{NS['p']}}}SeqTp")} == {
        "RCUR"}


async def test_a_regie_without_creditor_details_cannot_collect(billing: Billing):
    family = await billing.family("Faure", ["Léo"])
    await issued_invoice(billing, family, 4000, "NOCRED")
    await mandate(billing, family, "RUM-FAURE", regie_code="NOCRED")
    refused = await collect(billing, "NOCRED")
    assert refused.status_code == 409 and "créancier" in refused.json()["detail"]
    assert await billing.rows(payment) == []
    missing = await billing.client.get(f"/staff/sepa/collections/{uuid.uuid4()}/pain.008.xml",
                                       headers=billing.staff)
    assert missing.status_code == 404
