"""« Export comptable »: the régie's issued invoices (per activity), credit notes and accepted
payments over a date range, as a CSV for a city's accounting; dates checked; fixed queries."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, update

from marelle_billing.db import regie

from .conftest import paris, seed_invoice, seed_payment, seed_regie

URL = "/staff/exports/accounting.csv"


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


async def _export(billing, regie_code="ENFANCE", first="2026-10-01", last="2026-10-31"):
    return await billing.client.get(URL, headers=billing.staff,
                                    params={"regie": regie_code, "from": first, "to": last})


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    return [line.split(";") for line in response.content.decode("utf-8-sig").splitlines()]


async def test_invoices_credit_notes_and_payments_of_the_range(billing):
    enfance = await seed_regie(billing)
    other = await seed_regie(billing, "SPORT", "Régie Sport", prefix="S")
    async with billing.runtime.uow() as uow:
        await uow.session.execute(update(regie).where(regie.c.regie_id == enfance)
                                  .values(accounting_code="7067-ENF"))
        await uow.commit()
    martin = await billing.family("Martin", ["Hugo"])
    durand = await billing.family("Durand", ["Léa"])

    invoice = await seed_invoice(billing, martin, enfance, "F2610000001", date(2026, 10, 5), [
        {"amount_cents": 1250, "activity_name": "AUTOMNE"},
        {"amount_cents": 400, "activity_name": "AUTOMNE"},
        {"amount_cents": 123450, "activity_name": "CANTINE"}], month="2026-09")
    await seed_invoice(billing, durand, enfance, "AV2610000001", date(2026, 10, 31),
                       [{"amount_cents": -800, "activity_name": "AUTOMNE"}], kind="avoir")
    await seed_invoice(billing, durand, enfance, "F1404000001", date(2026, 10, 20),
                       [{"amount_cents": 4000, "activity_name": None}])  # imported
    # Outside: another month, a draft, another régie.
    await seed_invoice(billing, martin, enfance, "F2611000001", date(2026, 11, 1),
                       [{"amount_cents": 999}])
    await seed_invoice(billing, martin, enfance, "F2610000099", date(2026, 10, 6),
                       [{"amount_cents": 999}], status="brouillon")
    await seed_invoice(billing, martin, other, "S2610000001", date(2026, 10, 6),
                       [{"amount_cents": 999}])
    await seed_payment(billing, martin, enfance, [(invoice, 1650)], paris(2026, 10, 12),
                       method="cheque", receipt="Q2610000001")
    await seed_payment(billing, martin, enfance, [], paris(2026, 9, 30), unallocated=500,
                       receipt="Q2609000009")

    rows = _rows(await _export(billing))
    assert rows == [
        ["Type", "Numéro", "Date", "Famille", "Régie", "Code comptable", "Activité", "Montant",
         "Moyen de paiement"],
        ["Facture", "F2610000001", "05/10/2026", "Famille Martin", "ENFANCE", "7067-ENF",
         "AUTOMNE", "16,50", ""],
        ["Facture", "F2610000001", "05/10/2026", "Famille Martin", "ENFANCE", "7067-ENF",
         "CANTINE", "1234,50", ""],
        ["Paiement", "Q2610000001", "12/10/2026", "Famille Martin", "ENFANCE", "7067-ENF", "",
         "16,50", "Chèque"],
        ["Facture", "F1404000001", "20/10/2026", "Famille Durand", "ENFANCE", "7067-ENF",
         "Reprise", "40,00", ""],
        ["Avoir", "AV2610000001", "31/10/2026", "Famille Durand", "ENFANCE", "7067-ENF",
         "AUTOMNE", "-8,00", ""]]

    # Both bounds inclusive: one day gives that day's rows only.
    rows = _rows(await _export(billing, first="2026-09-30", last="2026-09-30"))
    assert [r[:2] + r[-2:] for r in rows[1:]] == [["Paiement", "Q2609000009", "5,00", "Espèces"]]


async def test_dates_regie_and_rights(billing):
    await seed_regie(billing)
    r = await _export(billing, first="2026-10-31", last="2026-10-01")
    assert r.status_code == 400 and "après la date de fin" in r.json()["detail"]
    r = await _export(billing, first="2026-01-01", last="2027-01-01")
    assert r.status_code == 400 and "un an" in r.json()["detail"]
    assert (await _export(billing, first="2026-01-01", last="2026-12-31")).status_code == 200
    r = await _export(billing, regie_code="NOPE")
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    family = await billing.family("Martin", ["Hugo"])
    r = await billing.client.get(URL, headers=family.headers,
                                 params={"regie": "ENFANCE", "from": "2026-10-01",
                                         "to": "2026-10-31"})
    assert r.status_code in (401, 403)


async def test_a_fixed_number_of_queries(billing):
    enfance = await seed_regie(billing)
    martin = await billing.family("Martin", ["Hugo"])
    first = await seed_invoice(billing, martin, enfance, "F2610000001", date(2026, 10, 5),
                               [{"amount_cents": 100}])
    await seed_payment(billing, martin, enfance, [(first, 100)], paris(2026, 10, 6))
    with _queries(billing) as seen:
        assert len(_rows(await _export(billing))) == 3
    before = len(seen)
    for n in range(2, 8):
        inv = await seed_invoice(billing, martin, enfance, f"F26100000{n:02d}",
                                 date(2026, 10, n), [{"amount_cents": 100, "activity_name": "A"},
                                                     {"amount_cents": 50, "activity_name": "B"}])
        await seed_payment(billing, martin, enfance, [(inv, 150)], paris(2026, 10, 10 + n))
    with _queries(billing) as seen:
        assert len(_rows(await _export(billing))) == 3 + 6 * 3
    assert len(seen) == before
