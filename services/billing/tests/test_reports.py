"""The staff's monthly report per activity (and its CSV for a spreadsheet)."""

from __future__ import annotations

from datetime import date

from .conftest import paris, seed_credit_use, seed_invoice, seed_payment, seed_regie


async def _month(billing):
    regie_id = await seed_regie(billing)
    other_regie = await seed_regie(billing, "SPORT", "Régie Sport")
    martin = await billing.family("Martin", ["Hugo"])
    durand = await billing.family("Durand", ["Léa"])
    f1 = await seed_invoice(billing, martin, regie_id, "F2611000001", date(2026, 11, 2), [
        {"child": "Hugo", "amount_cents": 3000},
        {"child": "Hugo", "activity_name": "CANTINE", "amount_cents": 123450}], month="2026-10")
    f2 = await seed_invoice(billing, durand, regie_id, "F2611000002", date(2026, 11, 2), [
        {"child": "Léa", "amount_cents": 1500}], month="2026-10")
    credit = await seed_invoice(billing, durand, regie_id, "AV2611000001", date(2026, 11, 2), [
        {"child": "Léa", "amount_cents": -500, "kind": "regularisation"}], kind="avoir",
        month="2026-10")
    await seed_credit_use(billing, credit, f2, 500, paris(2026, 11, 2, 9))
    await seed_payment(billing, martin, regie_id, [(f1, 63225)], paris(2026, 11, 2, 11))
    # Not in the report: another month, another régie, a draft.
    await seed_invoice(billing, martin, regie_id, "F2610000001", date(2026, 10, 1),
                       [{"child": "Hugo", "amount_cents": 999}], month="2026-09")
    await seed_invoice(billing, martin, other_regie, "F2611000009", date(2026, 11, 2),
                       [{"child": "Hugo", "amount_cents": 777}], month="2026-10")
    await seed_invoice(billing, martin, regie_id, None, None,
                       [{"child": "Hugo", "amount_cents": 555}], month="2026-10",
                       status="brouillon")
    # An imported invoice issued in October: under « Reprise », what the old system collected.
    r = await billing.client.post("/staff/imports/invoices", headers=billing.staff, json={
        "regie_code": "ENFANCE",
        "csv": f"famille;numero;date;montant;solde\n{martin.id};X1;15/10/2026;80;30\n"})
    assert r.json()["imported"] == 1


async def test_report_per_activity(billing):
    await _month(billing)
    r = await billing.client.get("/staff/reports", headers=billing.staff,
                                 params={"regie": "ENFANCE", "month": "2026-10"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(x["activity_name"], x["invoiced_cents"], x["collected_cents"],
             x["outstanding_cents"]) for x in body["rows"]] == [
        # 30 € + 15 € − 5 € credited; half of F1 paid; F2 covered by the credit note only.
        ("AUTOMNE", 4000, 1500, 2500),
        ("CANTINE", 123450, 61725, 61725),
        ("Reprise", 8000, 5000, 3000)]
    assert (body["invoiced_cents"], body["collected_cents"], body["outstanding_cents"]) == (
        135450, 68225, 67225)


async def test_report_csv(billing):
    await _month(billing)
    r = await billing.client.get("/staff/reports.csv", headers=billing.staff,
                                 params={"regie": "ENFANCE", "month": "2026-10"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    assert r.content.decode("utf-8-sig").splitlines() == [
        "Activité;Facturé;Encaissé;Reste à recouvrer",
        "AUTOMNE;40,00;15,00;25,00",
        "CANTINE;1234,50;617,25;617,25",
        "Reprise;80,00;50,00;30,00",
        "Total;1354,50;682,25;672,25"]


async def test_report_errors(billing):
    await seed_regie(billing)
    r = await billing.client.get("/staff/reports", headers=billing.staff,
                                 params={"regie": "ENFANCE", "month": "2026-13"})
    assert r.status_code == 422
    r = await billing.client.get("/staff/reports", headers=billing.staff,
                                 params={"regie": "AUTRE", "month": "2026-10"})
    assert r.status_code == 404 and "AUTRE" in r.json()["detail"]
    empty = (await billing.client.get("/staff/reports", headers=billing.staff,
                                      params={"regie": "ENFANCE", "month": "2026-10"})).json()
    assert empty["rows"] == [] and empty["invoiced_cents"] == 0
