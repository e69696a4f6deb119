"""QF brackets, régies and tariffs through the staff API: CRUD and French refusals."""

from __future__ import annotations

import json
import uuid
from datetime import date

from .conftest import seed_invoice, setup_tariffs

TARIFF = {"regie_code": "ENFANCE", "activity_name": "VACANCES", "unit": "matin",
          "label": "Accueil du matin", "valid_from": "2026-09-01", "valid_to": "2027-08-31",
          "prices": [{"bracket_code": "T1", "price_cents": 120},
                     {"bracket_code": None, "price_cents": 200}]}


async def test_brackets_replace_and_refuse_overlaps(billing):
    h = billing.staff
    r = await billing.client.get("/staff/brackets", headers=h)
    assert r.status_code == 200 and r.json() == {"brackets": []}
    body = {"brackets": [{"code": "B", "label": "Tranche B", "qf_min": 501},
                         {"code": "A", "label": "Tranche A", "qf_min": 0, "qf_max": 500}]}
    r = await billing.client.put("/staff/brackets", headers=h, json=body)
    assert r.status_code == 200, r.text
    assert [b["code"] for b in r.json()["brackets"]] == ["A", "B"]  # in QF order
    r = await billing.client.get("/staff/brackets", headers=h)
    assert r.json()["brackets"][1] == {"code": "B", "label": "Tranche B", "qf_min": 501,
                                       "qf_max": None}

    overlap = {"brackets": [{"code": "A", "label": "A", "qf_min": 0, "qf_max": 600},
                            {"code": "B", "label": "B", "qf_min": 500}]}
    r = await billing.client.put("/staff/brackets", headers=h, json=overlap)
    assert r.status_code == 422
    assert "chevauchent" in r.json()["detail"]
    reversed_ = {"brackets": [{"code": "A", "label": "A", "qf_min": 600, "qf_max": 100}]}
    r = await billing.client.put("/staff/brackets", headers=h, json=reversed_)
    assert r.status_code == 422 and "inférieur" in r.json()["detail"]
    # Refused changes left the brackets as they were.
    r = await billing.client.get("/staff/brackets", headers=h)
    assert [b["code"] for b in r.json()["brackets"]] == ["A", "B"]

    r = await billing.client.put("/staff/brackets", headers=billing.staff | {
        "Authorization": "Bearer nope"}, json=body)
    assert r.status_code == 401


async def test_regies(billing):
    h = billing.staff
    body = {"code": "ENFANCE", "name": "Régie Enfance", "payment_backend": "dummy",
            "payment_options": {"origin": "marelle"}, "due_days": 15}
    r = await billing.client.post("/staff/regies", headers=h, json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["invoice_prefix"], made["credit_prefix"], made["due_days"], made["version"]) == (
        "F", "AV", 15, 1)
    r = await billing.client.post("/staff/regies", headers=h, json=body)
    assert r.status_code == 409 and "déjà" in r.json()["detail"]

    r = await billing.client.put("/staff/regies/ENFANCE", headers=h,
                                 json={**body, "name": "Régie Petite enfance", "due_days": 20})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["due_days"], r.json()["version"]) == (
        "Régie Petite enfance", 20, 2)
    # The back-office never shows the options (they hold the provider's secrets): a form that
    # leaves them out keeps them; sending them replaces them.
    from marelle_billing.db import regie
    without = {k: v for k, v in body.items() if k != "payment_options"} | {
        "name": "Régie Petite enfance", "due_days": 20}
    r = await billing.client.put("/staff/regies/ENFANCE", headers=h, json=without)
    assert r.status_code == 200, r.text
    assert [json.loads(x.payment_options) for x in await billing.rows(regie)] == [
        {"origin": "marelle"}]
    r = await billing.client.put("/staff/regies/ENFANCE", headers=h,
                                 json={**without, "payment_options": {}})
    assert [json.loads(x.payment_options) for x in await billing.rows(regie)] == [{}]
    r = await billing.client.put("/staff/regies/AUTRE", headers=h, json={**body, "code": "AUTRE"})
    assert r.status_code == 404 and r.json()["detail"] == "Cette régie est inconnue."
    r = await billing.client.get("/staff/regies", headers=h)
    assert [g["name"] for g in r.json()["regies"]] == ["Régie Petite enfance"]


async def test_tariffs(billing):
    h = billing.staff
    made = await setup_tariffs(billing)
    r = await billing.client.post("/staff/tariffs", headers=h, json=TARIFF)
    assert r.status_code == 201, r.text
    matin = r.json()
    assert matin["prices"] == [{"bracket_code": "T1", "resident": None, "price_cents": 120},
                               {"bracket_code": None, "resident": None, "price_cents": 200}]
    assert [(p["bracket_code"], p["resident"]) for p in made["repas"]["prices"]] == [
        ("T1", None), ("T2", False), ("T2", None), ("T3", None), (None, None)]

    r = await billing.client.get("/staff/tariffs", headers=h, params={"activity": "VACANCES"})
    assert [t["unit"] for t in r.json()["tariffs"]] == ["matin"]
    r = await billing.client.get("/staff/tariffs", headers=h, params={"regie": "ENFANCE"})
    assert len(r.json()["tariffs"]) == 3
    r = await billing.client.get("/staff/tariffs", headers=h, params={"regie": "AUTRE"})
    assert r.json()["tariffs"] == []

    # French refusals.
    r = await billing.client.post("/staff/tariffs", headers=h,
                                  json={**TARIFF, "regie_code": "AUTRE"})
    assert r.status_code == 404 and r.json()["detail"] == "Cette régie est inconnue."
    r = await billing.client.post("/staff/tariffs", headers=h, json={
        **TARIFF, "unit": "soir", "valid_from": "2026-09-01", "valid_to": "2026-08-01"})
    assert r.status_code == 422 and "précède" in r.json()["detail"]
    r = await billing.client.post("/staff/tariffs", headers=h, json={
        **TARIFF, "unit": "soir", "prices": [{"bracket_code": "T9", "price_cents": 1}]})
    assert r.status_code == 422 and "T9" in r.json()["detail"]
    r = await billing.client.post("/staff/tariffs", headers=h, json={
        **TARIFF, "valid_from": "2027-01-01", "valid_to": None})
    assert r.status_code == 409 and "couvre déjà" in r.json()["detail"]
    # The next year's tariff, after this one closes, is fine.
    r = await billing.client.post("/staff/tariffs", headers=h, json={
        **TARIFF, "valid_from": "2027-09-01", "valid_to": None})
    assert r.status_code == 201, r.text

    r = await billing.client.put(f"/staff/tariffs/{matin['tariff_id']}", headers=h, json={
        **TARIFF, "label": "Matin", "prices": [{"bracket_code": None, "price_cents": 250}]})
    assert r.status_code == 200, r.text
    assert (r.json()["label"], r.json()["version"], r.json()["prices"]) == (
        "Matin", 2, [{"bracket_code": None, "resident": None, "price_cents": 250}])
    r = await billing.client.put("/staff/tariffs/00000000-0000-0000-0000-000000000000",
                                 headers=h, json=TARIFF)
    assert r.status_code == 404 and r.json()["detail"] == "Ce tarif est inconnu."

    # A tariff no invoice used can be deleted; one that priced a line cannot.
    r = await billing.client.delete(f"/staff/tariffs/{matin['tariff_id']}", headers=h)
    assert r.status_code == 204
    r = await billing.client.get("/staff/tariffs", headers=h, params={"activity": "VACANCES"})
    assert [t["valid_from"] for t in r.json()["tariffs"]] == ["2027-09-01"]

    family = await billing.family("Durand", ["Léa"])
    regie_id = (await billing.client.get("/staff/regies", headers=h)).json()["regies"][0]
    await seed_invoice(billing, family, uuid.UUID(regie_id["regie_id"]),
                       "F2610000001", date(2026, 11, 2),
                       [{"amount_cents": 250, "activity_name": "AUTOMNE", "unit": "repas",
                         "day": date(2026, 10, 7)}])
    r = await billing.client.delete(f"/staff/tariffs/{made['repas']['tariff_id']}", headers=h)
    assert r.status_code == 409 and "servi" in r.json()["detail"]
    r = await billing.client.delete(f"/staff/tariffs/{made['journee']['tariff_id']}", headers=h)
    assert r.status_code == 204
