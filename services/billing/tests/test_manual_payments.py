"""Payments staff record at the desk: cheque with its details and explicit allocations, cash
applied to the oldest invoices, what remains kept as credit, and the staff list of payments."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, update

from marelle_billing.db import invoice, payment, regie
from marelle_billing.domain.money import format_eur

from .conftest import Billing, issued_invoice, payment_regie
from .test_online_payments import start

CHEQUE = {"issuer": "M. Martin", "bank": "Crédit Agricole", "number": "0001234"}


async def record(billing: Billing, **body) -> object:
    body.setdefault("received_on", "2026-11-02")
    body.setdefault("regie_code", "ENFANCE")
    for key in ("family_id",):
        body[key] = str(body[key])
    return await billing.client.post("/staff/payments", json=body, headers=billing.staff)


async def balances(billing: Billing, *ids: uuid.UUID) -> list[tuple[str, int]]:
    rows = {r.invoice_id: r for r in await billing.rows(invoice, invoice.c.invoice_id.in_(ids))}
    return [(rows[i].status, rows[i].total_cents - rows[i].settled_cents) for i in ids]


async def test_a_cheque_needs_its_details_and_goes_where_staff_say(billing: Billing):
    family = await billing.family("Martin", ["Léa"])
    october = await issued_invoice(billing, family, 4000, issued_on=date(2026, 10, 1))
    november = await issued_invoice(billing, family, 3000, issued_on=date(2026, 11, 1))
    async with billing.runtime.uow() as uow:  # the régie's code in the city's accounting
        await uow.session.execute(update(regie).values(accounting_code="7066-ENF"))
        await uow.commit()

    missing = await record(billing, family_id=family.id, method="cheque", amount_cents=5000)
    assert missing.status_code == 422
    assert "émetteur" in missing.json()["detail"]

    answer = await record(billing, family_id=family.id, method="cheque", amount_cents=5000,
                          cheque=CHEQUE, allocations=[
                              {"invoice_id": str(november), "amount_cents": 3000},
                              {"invoice_id": str(october), "amount_cents": 1500}])
    assert answer.status_code == 201, answer.text
    view = answer.json()
    assert view["status"] == "acceptee" and view["method"] == "cheque"
    assert view["receipt_number"] == "R2611000001"
    assert view["details"]["cheque_number"] == "0001234"
    assert {a["invoice_id"]: a["amount_cents"] for a in view["allocations"]} == {
        str(november): 3000, str(october): 1500}
    assert view["unallocated_cents"] == 500
    assert await balances(billing, october, november) == [("emise", 2500), ("payee", 0)]

    row = (await billing.rows(payment, payment.c.payment_id == uuid.UUID(view["payment_id"])))[0]
    assert row.recorded_by is not None
    received = [p for t, _v, p in await billing.outbox() if t == "billing.payment_received"]
    assert len(received) == 1
    assert received[0]["unallocated_cents"] == 500 and len(received[0]["allocations"]) == 2
    assert received[0]["regie_accounting_code"] == "7066-ENF"


async def test_wrong_allocations_are_refused_in_french_and_write_nothing(billing: Billing):
    family = await billing.family("Durand", ["Tom"])
    other = await billing.family("Petit", ["Zoé"])
    mine = await issued_invoice(billing, family, 4000)
    theirs = await issued_invoice(billing, other, 4000)
    elsewhere = await issued_invoice(billing, family, 4000, "PERISCO")

    cases = [
        ([{"invoice_id": str(mine), "amount_cents": 4001}], 5000,
         f"dépasse son solde ({format_eur(4000)})"),
        ([{"invoice_id": str(theirs), "amount_cents": 1000}], 5000, "n'appartient pas à ce foyer"),
        ([{"invoice_id": str(elsewhere), "amount_cents": 1000}], 5000, "n'est pas de cette régie"),
        ([{"invoice_id": str(mine), "amount_cents": 3000}], 2000, "dépasse le montant du paiement"),
    ]
    for allocations, amount, expected in cases:
        answer = await record(billing, family_id=family.id, method="especes", amount_cents=amount,
                              allocations=allocations)
        assert answer.status_code == 422, answer.text
        assert expected in answer.json()["detail"]
    assert await billing.rows(payment) == []
    assert await balances(billing, mine, theirs, elsewhere) == [("emise", 4000)] * 3
    unknown = await record(billing, family_id=family.id, method="especes", amount_cents=100,
                           regie_code="NULLEPART")
    assert unknown.status_code == 404


async def test_without_allocations_cash_pays_the_oldest_invoices_first(billing: Billing):
    family = await billing.family("Blanc", ["Noé"])
    newest = await issued_invoice(billing, family, 3000, issued_on=date(2026, 11, 1))
    oldest = await issued_invoice(billing, family, 2000, issued_on=date(2026, 9, 1))
    middle = await issued_invoice(billing, family, 2500, issued_on=date(2026, 10, 1))

    view = (await record(billing, family_id=family.id, method="especes",
                         amount_cents=5000)).json()
    assert [a["invoice_id"] for a in view["allocations"]] == [str(oldest), str(middle),
                                                              str(newest)]
    assert [a["amount_cents"] for a in view["allocations"]] == [2000, 2500, 500]
    assert view["unallocated_cents"] == 0
    assert await balances(billing, oldest, middle, newest) == [
        ("payee", 0), ("payee", 0), ("emise", 2500)]

    credit = (await record(billing, family_id=family.id, method="cesu", amount_cents=4000,
                           reference="CESU-42")).json()
    assert credit["unallocated_cents"] == 1500 and credit["details"]["reference"] == "CESU-42"
    assert credit["receipt_number"] == "R2611000002"


async def test_staff_see_every_payment_online_ones_included(billing: Billing):
    family = await billing.family("Roux", ["Jade"])
    other = await billing.family("Faure", ["Léo"])
    await payment_regie(billing, "PERISCO")
    online_invoice = await issued_invoice(billing, family, 4000)
    assert (await start(billing, family, online_invoice)).status_code == 201
    await record(billing, family_id=family.id, method="especes", amount_cents=1000)
    await record(billing, family_id=other.id, method="cheque", amount_cents=2000, cheque=CHEQUE,
                 regie_code="PERISCO")

    async def listed(query: str) -> list[tuple[str, str]]:
        answer = await billing.client.get(f"/staff/payments{query}", headers=billing.staff)
        assert answer.status_code == 200, answer.text
        return sorted((p["method"], p["status"]) for p in answer.json()["payments"])

    assert await listed("") == [("carte", "en_attente"), ("cheque", "acceptee"),
                                ("especes", "acceptee")]
    assert await listed(f"?family_id={family.id}") == [("carte", "en_attente"),
                                                       ("especes", "acceptee")]
    assert await listed("?regie=PERISCO") == [("cheque", "acceptee")]
    assert await listed("?method=carte") == [("carte", "en_attente")]
    parent = await billing.client.get("/staff/payments", headers=family.headers)
    assert parent.status_code == 403


@contextmanager
def _queries(billing: Billing):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    engine = billing.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_payment_lists_make_a_fixed_number_of_queries(billing: Billing):
    family = await billing.family("Garnier", ["Lou"])
    await issued_invoice(billing, family, 9000)
    counts = []
    for _ in range(2):
        for method in ("especes", "cesu"):
            await record(billing, family_id=family.id, method=method, amount_cents=1000)
        with _queries(billing) as staff_seen:
            staff = await billing.client.get("/staff/payments", headers=billing.staff)
        with _queries(billing) as family_seen:
            mine = await billing.client.get(f"/families/{family.id}/payments",
                                            headers=family.headers)
        counts.append((len(staff_seen), len(family_seen)))
        assert len(staff.json()["payments"]) == len(mine.json()["payments"])
    assert len(mine.json()["payments"]) == 4
    assert counts[0] == counts[1]
