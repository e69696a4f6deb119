"""« Mon compte »: the summary (solde, credit, profile), the invoice list and detail, the
« Détail financier par inscription », and the staff's views of the same money."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event

from marelle_billing.db import financial_profile, invoice, qf_bracket, regie

from .conftest import paris, pdf_text, seed_credit_use, seed_invoice, seed_payment, seed_regie


async def _profile(billing, family, qf: int = 620) -> None:
    async with billing.runtime.uow() as uow:
        await uow.session.execute(qf_bracket.insert(), [
            {"code": "A", "label": "Tranche A (jusqu'à 450)", "qf_min": 0, "qf_max": 450,
             "position": 1},
            {"code": "B", "label": "Tranche B (451 à 700)", "qf_min": 451, "qf_max": 700,
             "position": 2},
            {"code": "D", "label": "Tranche D (plus de 1000)", "qf_min": 1001, "qf_max": None,
             "position": 4}])
        await uow.session.execute(financial_profile.insert().values(
            family_id=family.id, qf=qf, qf_date=date(2026, 1, 15), qf_source="caf",
            income_cents=3_840_000, income_year=2025, dependent_children=2, resident=True,
            version=1, updated_at=billing.clock()))
        await uow.commit()


async def _money(billing):
    """Martin: F1 (Hugo 3 days, Léa 1 day) a third paid; F2 (Hugo) partly paid by a credit
    note; a draft; a payment leaving 3 € unallocated."""
    regie_id = await seed_regie(billing)
    martin = await billing.family("Martin", {"Hugo": date(2018, 5, 1), "Léa": date(2021, 2, 3)})
    period = await billing.period(date(2026, 10, 19), date(2026, 10, 30), label="Vacances 2026")
    hugo_reg, lea_reg = uuid.uuid4(), uuid.uuid4()
    await billing.reserve(martin, "Hugo", period, date(2026, 10, 19), "journee",
                          registration_id=hugo_reg)
    f1 = await seed_invoice(billing, martin, regie_id, "F2610000001", date(2026, 11, 1), [
        *({"child": "Hugo", "registration_id": hugo_reg, "day": date(2026, 10, d),
           "amount_cents": 1000} for d in (19, 20, 21)),
        {"child": "Léa", "registration_id": lea_reg, "day": date(2026, 10, 19),
         "amount_cents": 500}], month="2026-10")
    f2 = await seed_invoice(billing, martin, regie_id, "F2611000001", date(2026, 11, 2), [
        {"child": "Hugo", "registration_id": hugo_reg, "day": date(2026, 10, 22),
         "amount_cents": 2000}], month="2026-10")
    credit = await seed_invoice(billing, martin, regie_id, "AV2611000001", date(2026, 11, 2),
                                [{"child": "Hugo", "registration_id": hugo_reg,
                                  "amount_cents": -700, "kind": "regularisation"}],
                                kind="avoir", month="2026-10")
    await seed_invoice(billing, martin, regie_id, None, None,
                       [{"child": "Hugo", "amount_cents": 9999}], status="brouillon")
    await seed_credit_use(billing, credit, f2, 200, paris(2026, 11, 2, 9))
    await seed_payment(billing, martin, regie_id, [(f1, 1000)], paris(2026, 11, 2, 9, 30),
                       method="carte", unallocated=300, receipt="T000123")
    return martin, f1, f2, credit, hugo_reg, lea_reg


async def test_account_summary(billing):
    martin, *_ = await _money(billing)
    await _profile(billing, martin)
    r = await billing.client.get(f"/families/{martin.id}/account", headers=martin.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "family_id": str(martin.id),
        # F1 25 € + F2 18 € still due, minus 5 € of credit note and 3 € unallocated.
        "balance_cents": 3500, "open_invoices": 2, "credit_cents": 800,
        "dependent_children": 2, "income_cents": 3_840_000, "income_year": 2025,
        "qf": 620, "qf_date": "2026-01-15", "bracket_code": "B",
        "bracket_label": "Tranche B (451 à 700)", "email": "martin@example.org"}
    staff = await billing.client.get(f"/staff/families/{martin.id}/account",
                                     headers=billing.staff)
    assert staff.json() == r.json()
    r = await billing.client.get(f"/staff/families/{uuid.uuid4()}/account", headers=billing.staff)
    assert r.status_code == 404 and r.json()["detail"] == "Ce foyer est introuvable."


async def test_summary_of_a_family_without_profile_nor_invoice(billing):
    durand = await billing.family("Durand", ["Léa"])
    body = (await billing.client.get(f"/families/{durand.id}/account",
                                     headers=durand.headers)).json()
    assert body["balance_cents"] == 0 and body["open_invoices"] == 0 and body["qf"] is None
    assert body["bracket_label"] is None


async def test_invoice_list_and_detail(billing):
    martin, f1, f2, credit, *_ = await _money(billing)
    listing = (await billing.client.get(f"/families/{martin.id}/invoices",
                                        headers=martin.headers)).json()
    # Newest first; the draft is not shown; the credit note is not in « Total : ».
    assert [(i["number"], i["kind"], i["balance_cents"], i["payable"])
            for i in listing["invoices"]] == [
        ("F2611000001", "facture", 1800, True), ("AV2611000001", "avoir", 500, False),
        ("F2610000001", "facture", 2500, True)]
    assert listing["total_balance_cents"] == 4300

    detail = (await billing.client.get(f"/families/{martin.id}/invoices/{f1}",
                                       headers=martin.headers)).json()
    assert detail["total_cents"] == 3500 and detail["balance_cents"] == 2500
    assert [(ln["child_name"], ln["day"], ln["amount_cents"]) for ln in detail["lines"]] == [
        ("Hugo MARTIN", "2026-10-19", 1000), ("Hugo MARTIN", "2026-10-20", 1000),
        ("Hugo MARTIN", "2026-10-21", 1000), ("Léa MARTIN", "2026-10-19", 500)]
    assert [(a["method"], a["amount_cents"], a["receipt_number"])
            for a in detail["allocations"]] == [("carte", 1000, "T000123")]
    detail = (await billing.client.get(f"/families/{martin.id}/invoices/{f2}",
                                       headers=martin.headers)).json()
    assert [(a["method"], a["credit_note_id"], a["receipt_number"])
            for a in detail["allocations"]] == [("avoir", str(credit), "AV2611000001")]

    r = await billing.client.get(f"/families/{martin.id}/invoices/{credit}/pdf",
                                 headers=martin.headers)
    assert r.status_code == 200
    text = pdf_text(r.content)
    assert "Avoir n° AV2611000001" in text and "Reste à utiliser : 5,00 €" in text


async def test_drafts_stay_hidden_from_parents(billing):
    martin, *_ = await _money(billing)
    staff = (await billing.client.get("/staff/invoices", headers=billing.staff,
                                      params={"family_id": str(martin.id)})).json()
    assert None not in [i["number"] for i in staff["invoices"]]
    draft = (await billing.rows(invoice, invoice.c.status == "brouillon"))[0]
    r = await billing.client.get(f"/families/{martin.id}/invoices/{draft.invoice_id}",
                                 headers=martin.headers)
    assert r.status_code == 404


async def test_registrations_money(billing):
    martin, _, _, _, hugo_reg, lea_reg = await _money(billing)
    r = await billing.client.get(f"/families/{martin.id}/registrations", headers=martin.headers)
    assert r.status_code == 200, r.text
    rows = {x["registration_id"]: x for x in r.json()["registrations"]}
    # Hugo: 30 € of F1 paid for 10/35 (8,571…) + 20 € of F2 paid for 2/20 (2 €), less the
    # 7 € credit note of which 2 € were used (on F2): 50 − 7 = 43 € invoiced, 8,57 € settled.
    assert rows[str(hugo_reg)] == {
        "registration_id": str(hugo_reg), "child_name": "Hugo MARTIN", "activity_name": "AUTOMNE",
        "period_label": "Vacances 2026", "invoiced_cents": 4300, "paid_cents": 857,
        "remaining_cents": 3443}
    # Léa: 5 € of F1 paid for 10/35 → 1,428… → 1,43 €; no reservation known: no period label.
    assert rows[str(lea_reg)]["paid_cents"] == 143
    assert rows[str(lea_reg)]["remaining_cents"] == 357
    assert rows[str(lea_reg)]["period_label"] is None


async def test_staff_unpaid_invoices(billing):
    martin, f1, f2, *_ = await _money(billing)
    durand = await billing.family("Durand", ["Léa"])
    regie_id = (await billing.rows(regie))[0].regie_id
    await seed_invoice(billing, durand, regie_id, "F2609000001", date(2026, 9, 30),
                       [{"child": "Léa", "amount_cents": 1200}])
    r = await billing.client.get("/staff/invoices", headers=billing.staff,
                                 params={"regie": "ENFANCE", "unpaid": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    # Oldest first, credit notes left out, with the family's name.
    assert [(i["number"], i["family_name"], i["balance_cents"]) for i in body["invoices"]] == [
        ("F2609000001", "Famille Durand", 1200), ("F2610000001", "Famille Martin", 2500),
        ("F2611000001", "Famille Martin", 1800)]
    assert body["total_balance_cents"] == 5500
    only = (await billing.client.get("/staff/invoices", headers=billing.staff, params={
        "family_id": str(durand.id), "unpaid": "true"})).json()
    assert [i["number"] for i in only["invoices"]] == ["F2609000001"]
    r = await billing.client.get("/staff/invoices", headers=martin.headers)
    assert r.status_code in (401, 403)


@contextmanager
def _queries(billing):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    engine = billing.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_pages_make_a_fixed_number_of_queries(billing):
    martin, *_ = await _money(billing)
    regie_id = (await billing.rows(regie))[0].regie_id
    paths = [f"/families/{martin.id}/invoices", f"/families/{martin.id}/registrations",
             f"/families/{martin.id}/account"]
    before = {}
    for path in paths:
        with _queries(billing) as seen:
            assert (await billing.client.get(path, headers=martin.headers)).status_code == 200
        before[path] = len(seen)
    for n in range(6):
        await seed_invoice(billing, martin, regie_id, f"F26120000{n:02d}", date(2026, 12, 1),
                           [{"child": "Hugo", "registration_id": uuid.uuid4(),
                             "amount_cents": 100}])
    for path in paths:
        with _queries(billing) as seen:
            assert (await billing.client.get(path, headers=martin.headers)).status_code == 200
        assert len(seen) == before[path], path
