"""The import of the previous system's open invoices: the guide's nine invoices of the Martin
family, re-import, refused lines, and what the family then sees (list, detail, PDF)."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from marelle_billing.db import regie

from .conftest import pdf_text, seed_regie


def guide_csv(family_id: uuid.UUID) -> str:
    """« Détail financier par facture » of the guide: nine open invoices, 210 € in all."""
    rows = ["famille;numero;date;montant;solde;libelle",
            f"{family_id};F1404000001;09/04/2014;40,00;40,00;Accueil de loisirs avril 2014"]
    rows += [f"{family_id};F130900000{i};06/09/2013;10,00;;Restauration septembre 2013"
             for i in range(1, 8)]
    rows.append(f"{family_id};A1302000001;2013-02-19;100;100,00;Séjour février 2013")
    return "\n".join(rows) + "\n"


async def _import(billing, text: str, regie: str = "ENFANCE"):
    return await billing.client.post("/staff/imports/invoices", headers=billing.staff,
                                     json={"regie_code": regie, "csv": text})


async def test_the_guide_s_nine_open_invoices(billing):
    await seed_regie(billing)
    # The city's accounting code of the régie travels with the events (treasury imputation).
    async with billing.runtime.uow() as uow:
        await uow.session.execute(update(regie).values(accounting_code="7067-ENF"))
        await uow.commit()
    martin = await billing.family("Martin", ["Hugo"])
    r = await _import(billing, guide_csv(martin.id))
    assert r.status_code == 200, r.text
    assert r.json() == {"imported": 9, "already_present": 0, "errors": []}

    r = await billing.client.get(f"/families/{martin.id}/invoices", headers=martin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total_balance_cents"] == 21000
    assert [(i["number"], i["issued_on"], i["total_cents"], i["balance_cents"])
            for i in body["invoices"]] == [
        ("F1404000001", "2014-04-09", 4000, 4000),
        *((f"F130900000{i}", "2013-09-06", 1000, 1000) for i in range(7, 0, -1)),
        ("A1302000001", "2013-02-19", 10000, 10000)]
    assert all(i["imported"] and i["payable"] and i["status"] == "emise"
               and i["partial_payment_allowed"] and i["regie_name"] == "Régie Enfance"
               for i in body["invoices"])

    # The same file again adds nothing.
    r = await _import(billing, guide_csv(martin.id))
    assert r.json() == {"imported": 0, "already_present": 9, "errors": []}
    again = (await billing.client.get(f"/families/{martin.id}/invoices",
                                      headers=martin.headers)).json()
    assert len(again["invoices"]) == 9 and again["total_balance_cents"] == 21000

    events = [(t, p) for t, _, p in await billing.outbox() if t == "billing.invoice_issued"]
    assert len(events) == 9
    assert all(p["imported"] and p["month"] is None for _, p in events)
    assert all(p["regie_accounting_code"] == "7067-ENF" for _, p in events)
    assert sorted((p["number"], p["by_activity"][0]["activity_name"],
                   p["by_activity"][0]["amount_cents"], len(p["by_activity"]))
                  for _, p in events)[:2] == [("A1302000001", "Reprise", 10000, 1),
                                              ("F1309000001", "Reprise", 1000, 1)]

    account = (await billing.client.get(f"/families/{martin.id}/account",
                                        headers=martin.headers)).json()
    assert account["balance_cents"] == 21000 and account["open_invoices"] == 9


async def test_detail_pdf_and_another_family(billing):
    await seed_regie(billing)
    martin = await billing.family("Martin", ["Hugo"])
    other = await billing.family("Durand", ["Léa"])
    await _import(billing, guide_csv(martin.id))
    listing = (await billing.client.get(f"/families/{martin.id}/invoices",
                                        headers=martin.headers)).json()
    first = listing["invoices"][0]
    r = await billing.client.get(f"/families/{martin.id}/invoices/{first['invoice_id']}",
                                 headers=martin.headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["number"] == "F1404000001" and detail["allocations"] == []
    assert [(ln["kind"], ln["label"], ln["amount_cents"]) for ln in detail["lines"]] == [
        ("reprise", "Accueil de loisirs avril 2014", 4000)]

    r = await billing.client.get(f"/families/{martin.id}/invoices/{first['invoice_id']}/pdf",
                                 headers=martin.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "Facture n° F1404000001" in text
    assert "Total : 40,00 €" in text and "Reste à payer : 40,00 €" in text
    assert "9 avril 2014" in text and "Régie Enfance" in text and "Famille Martin" in text

    # Another family's invoice: not found, for the detail and for the PDF.
    for path in ("", "/pdf"):
        r = await billing.client.get(f"/families/{other.id}/invoices/{first['invoice_id']}{path}",
                                     headers=other.headers)
        assert r.status_code == 404, r.text
        assert r.json()["detail"] == "Cette facture est introuvable."
    # Nor through another family's path with one's own token.
    r = await billing.client.get(f"/families/{martin.id}/invoices", headers=other.headers)
    assert r.status_code in (403, 404)


async def test_bad_lines_are_refused_with_their_line_number(billing):
    await seed_regie(billing)
    martin = await billing.family("Martin", ["Hugo"])
    stranger = uuid.uuid4()
    text = "\ufeffFamille;Numéro;Date;Montant;Solde;Libellé\n" + "\n".join([
        f"{martin.id};F1;31/02/2014;10,00;;x",        # 2: no 31 February
        f"{martin.id};F2;01/03/2014;dix;;x",          # 3: amount
        f"{martin.id};F3;01/03/2014;10,00;12,00;x",   # 4: balance above amount
        f"{stranger};F4;01/03/2014;10,00;;x",         # 5: unknown family
        f"{martin.id};F5;01/03/2014;12,50;2,50;Cantine",  # 6: fine, partly paid
        f"{martin.id};F6;01/03/2014;5.00;0;Soldée",   # 7: fine, already paid
        f"{martin.id};F5;02/03/2014;3;;doublon",      # 8: twice in the file
    ]) + "\n"
    r = await _import(billing, text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["imported"] == 2 and body["already_present"] == 0
    assert [e["line"] for e in body["errors"]] == [2, 3, 4, 5, 8]
    details = {e["line"]: e["detail"] for e in body["errors"]}
    assert "date invalide" in details[2] and details[2].startswith("Ligne 2 :")
    assert "montant invalide" in details[3]
    assert "solde est supérieur au montant" in details[4]
    assert "famille inconnue" in details[5]
    assert "en double" in details[8]

    listing = (await billing.client.get(f"/families/{martin.id}/invoices",
                                        headers=martin.headers)).json()
    by_number = {i["number"]: i for i in listing["invoices"]}
    assert set(by_number) == {"F5", "F6"}
    assert by_number["F5"]["balance_cents"] == 250 and by_number["F5"]["status"] == "emise"
    assert by_number["F6"]["status"] == "payee" and not by_number["F6"]["payable"]
    assert listing["total_balance_cents"] == 250

    r = await _import(billing, "nom;date\nx;y\n")
    assert r.status_code == 200
    error = r.json()["errors"][0]
    assert error["line"] == 1 and "Colonnes manquantes" in error["detail"]
    r = await _import(billing, text, regie="INCONNUE")
    assert r.status_code == 404 and "INCONNUE" in r.json()["detail"]
    r = await billing.client.post("/staff/imports/invoices", headers=martin.headers,
                                  json={"regie_code": "ENFANCE", "csv": text})
    assert r.status_code in (401, 403)


async def test_the_demo_file_is_the_guide_s(billing):
    from marelle_billing.demo import guide_invoices

    await seed_regie(billing)
    martin = await billing.family("Martin", ["Hugo"])
    assert (await _import(billing, guide_invoices(str(martin.id)))).json()["imported"] == 9
    listing = (await billing.client.get(f"/families/{martin.id}/invoices",
                                        headers=martin.headers)).json()
    assert listing["total_balance_cents"] == 21000
    assert [i["number"] for i in listing["invoices"]] == [
        "F1404000001", *(f"F130900000{i}" for i in range(7, 0, -1)), "A1302000001"]
