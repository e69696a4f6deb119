"""Fiscal attestations: children under 6 on 1 January (the 6th birthday on 1 January excluded),
meals excluded, only what was paid during the year (Europe/Paris), issued again with a new
version only when the amounts change."""

from __future__ import annotations

from datetime import date

from marelle_billing.usecases.attestations import eligible

from .conftest import paris, pdf_text, seed_credit_use, seed_invoice, seed_payment, seed_regie


def test_six_on_the_first_of_january_is_not_under_six():
    assert not eligible(date(2019, 1, 1), 2025)
    assert eligible(date(2019, 1, 2), 2025)
    assert not eligible(date(2018, 12, 31), 2025)


async def _family(billing):
    regie_id = await seed_regie(billing)
    # Léa is 5 on 1 January 2025; Tom turns 6 that very day.
    martin = await billing.family("Martin", {"Léa": date(2020, 3, 1), "Tom": date(2019, 1, 1)})
    f1 = await seed_invoice(billing, martin, regie_id, "F2510000001", date(2025, 10, 31), [
        {"child": "Léa", "amount_cents": 4000},
        {"child": "Léa", "amount_cents": 1000, "unit": "repas", "label": "Repas", "meal": True},
        {"child": "Tom", "amount_cents": 5000}], month="2025-10")
    f2 = await seed_invoice(billing, martin, regie_id, "F2511000001", date(2025, 11, 30), [
        {"child": "Léa", "amount_cents": 1000},
        {"child": "Léa", "amount_cents": 2000, "unit": "repas", "label": "Repas", "meal": True}],
        month="2025-11")
    credit = await seed_invoice(billing, martin, regie_id, "AV2511000001", date(2025, 11, 30),
                                [{"child": "Léa", "amount_cents": -500}], kind="avoir")
    # 60 € on F1 on New Year's Eve (2025), 40 € half an hour after midnight, Paris (2026, though
    # still 2025 in UTC); 10 € on F2 in December; a credit note on F2 is not money paid.
    await seed_payment(billing, martin, regie_id, [(f1, 6000)], paris(2025, 12, 31, 23, 0))
    await seed_payment(billing, martin, regie_id, [(f1, 4000)], paris(2026, 1, 1, 0, 30))
    await seed_payment(billing, martin, regie_id, [(f2, 1000)], paris(2025, 12, 5))
    await seed_credit_use(billing, credit, f2, 500, paris(2025, 12, 6))
    return martin, regie_id, f2


async def _ask(billing, family, year):
    return await billing.client.post(f"/families/{family.id}/fiscal-attestations",
                                     headers=family.headers, json={"year": year})


async def test_amounts_paid_during_the_year_for_children_under_six(billing):
    martin, *_ = await _family(billing)
    r = await _ask(billing, martin, 2025)
    assert r.status_code == 201, r.text
    body = r.json()
    # Léa: 40 € × 60/100 (F1) = 24 €; on F2 the credit note took back 5 € of her 10 € of care
    # and lowered its due to 25 €: (10 − 5) € × 10/25 = 2 €; meals and Tom left out.
    assert body["year"] == 2025 and body["total_cents"] == 2600
    assert body["children"] == [{"child_id": str(martin.children["Léa"]), "first_name": "Léa",
                                 "last_name": "MARTIN", "birth_date": "2020-03-01",
                                 "amount_cents": 2600}]
    # 2026: the 40 € paid after midnight on New Year's Eve (Paris): 40 € × 40/100 = 16 €.
    r = await _ask(billing, martin, 2026)
    assert r.status_code == 201 and r.json()["total_cents"] == 1600

    events = [(v, p) for t, v, p in await billing.outbox()
              if t == "billing.fiscal_attestation_issued"]
    assert [(v, p["year"], p["total_cents"]) for v, p in events] == [(1, 2025, 2600),
                                                                      (1, 2026, 1600)]
    assert events[0][1]["attestation_id"] == body["attestation_id"]

    listing = (await billing.client.get(f"/families/{martin.id}/fiscal-attestations",
                                        headers=martin.headers)).json()
    assert [a["year"] for a in listing["attestations"]] == [2026, 2025]

    r = await billing.client.get(
        f"/families/{martin.id}/fiscal-attestations/{body['attestation_id']}/pdf",
        headers=martin.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "Attestation fiscale — frais de garde 2025" in text
    assert "Léa MARTIN" in text and "26,00 €" in text and "Tom" not in text
    assert "article 200 quater B" in text and "Régie Enfance" in text
    assert "Famille Martin" in text and "01/03/2020" in text


async def test_asked_again_same_attestation_unless_amounts_changed(billing):
    martin, regie_id, f2 = await _family(billing)
    first = (await _ask(billing, martin, 2025)).json()
    billing.clock.set(paris(2026, 11, 3, 10))
    again = (await _ask(billing, martin, 2025)).json()
    assert again == first
    # A late-recorded payment of December 2025: 5 € more on F2 → Léa 24 € + 5 € × 15/25.
    await seed_payment(billing, martin, regie_id, [(f2, 500)], paris(2025, 12, 20))
    changed = (await _ask(billing, martin, 2025)).json()
    assert changed["attestation_id"] == first["attestation_id"]
    assert changed["total_cents"] == 2700 and changed["issued_at"] != first["issued_at"]
    events = [(v, p["total_cents"]) for t, v, p in await billing.outbox()
              if t == "billing.fiscal_attestation_issued"]
    assert events == [(1, 2600), (2, 2700)]


async def test_future_year_and_other_family(billing):
    martin, *_ = await _family(billing)
    r = await _ask(billing, martin, 2027)
    assert r.status_code == 422
    assert "2027" in r.json()["detail"] and "pas encore commencée" in r.json()["detail"]
    attestation = (await _ask(billing, martin, 2025)).json()
    durand = await billing.family("Durand", ["Zoé"])
    r = await billing.client.get(
        f"/families/{durand.id}/fiscal-attestations/{attestation['attestation_id']}/pdf",
        headers=durand.headers)
    assert r.status_code == 404
    assert r.json()["detail"] == "Cette attestation fiscale est introuvable."
    assert (await billing.client.get(f"/families/{durand.id}/fiscal-attestations",
                                     headers=durand.headers)).json() == {"attestations": []}
