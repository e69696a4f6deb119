"""Acceptance: October 2026 of three families at different QF brackets, invoiced to the cent,
finalised (numbers, events), locked; a late cancellation by the structure becomes, in November,
a credit note applied to the family's open October invoice; recompute and resume add nothing.

Expected amounts are worked out by hand from `CATALOGUE_PRICES` (conftest):
  repas   T1 2,50 · T2 4,00 (non-resident 4,80) · T3 5,50 · default 6,50
  journee T1 8,00 · T2 12,00 (non-resident 15,00) · T3 16,00 · default 20,00;
          unjustified absence 50 %; present without booking: price + 3,00.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import update

from marelle_contracts import booking as booking_events
from marelle_billing.db import invoice, invoice_line, invoicing_run
from marelle_billing.runner import wait_idle
from .conftest import finalise_run, paris, run_month, set_qf, setup_tariffs

OCT = {d: date(2026, 10, d) for d in (7, 14, 21, 28)}


async def _lines(billing, invoice_id):
    r = await billing.client.get(f"/staff/invoices/{invoice_id}", headers=billing.staff)
    assert r.status_code == 200, r.text
    return r.json()


def _key(lines):
    return sorted((ln["day"], ln["unit"], ln["kind"], ln["unit_price_cents"], ln["amount_cents"])
                  for ln in lines)


async def _october(billing):
    await setup_tariffs(billing)
    period = await billing.period(date(2026, 9, 1), date(2026, 12, 31))
    martin = await billing.family("Martin", ["Léa"])     # QF 500: T1, resident
    bernard = await billing.family("Bernard", ["Tom"])   # QF 1000: T2, non-resident
    petit = await billing.family("Petit", ["Zoé"])       # no QF: default prices
    await set_qf(billing, martin, 500)
    await set_qf(billing, bernard, 1000, resident=False)

    # Martin: 7th present (journée + repas), 14th unjustified absence (both units), 21st
    # justified absence (journée), 28th present without booking.
    rids = {}
    for d in (7, 14):
        for unit in ("journee", "repas"):
            rids[(d, unit)] = await billing.reserve(martin, "Léa", period, OCT[d], unit)
    rids[(21, "journee")] = await billing.reserve(martin, "Léa", period, OCT[21], "journee")
    await billing.attendance(martin, "Léa", period, OCT[7], "present")
    await billing.attendance(martin, "Léa", period, OCT[14], "absent_injustifie")
    await billing.attendance(martin, "Léa", period, OCT[21], "absent_justifie", "malade")
    await billing.attendance(martin, "Léa", period, OCT[28], "present_sans_reservation")

    # Bernard: 7th journée + repas; 14th journée cancelled late by the family (billed); 21st
    # journée cancelled in time (not billed); 28th repas on the waiting list (not billed).
    await billing.reserve(bernard, "Tom", period, OCT[7], "journee")
    await billing.reserve(bernard, "Tom", period, OCT[7], "repas")
    late = await billing.reserve(bernard, "Tom", period, OCT[14], "journee")
    await billing.cancel(bernard, "Tom", period, OCT[14], late, "journee", by="famille",
                         within_deadline=False)
    in_time = await billing.reserve(bernard, "Tom", period, OCT[21], "journee")
    await billing.cancel(bernard, "Tom", period, OCT[21], in_time, "journee", by="famille",
                         within_deadline=True)
    facts = billing._facts(bernard, "Tom", period, OCT[28], "repas",
                           uuid.uuid4(), None)
    await billing.booking_event(booking_events.ReservationWaitlisted(
        **facts, status=booking_events.ReservationStatus.WAITLISTED, position=1), version=1)

    # Petit: 7th and 14th journée + repas at default prices; a « matin » nobody priced.
    for d in (7, 14):
        for unit in ("journee", "repas"):
            await billing.reserve(petit, "Zoé", period, OCT[d], unit)
    await billing.reserve(petit, "Zoé", period, OCT[21], "matin")
    return period, martin, bernard, petit, rids


async def test_a_month_invoiced_finalised_then_regularised(billing):
    period, martin, bernard, petit, rids = await _october(billing)

    run = await run_month(billing, "2026-10")
    assert run["status"] == "brouillon"
    assert run["families_total"] == 3 and run["families_done"] == 3
    # Martin 8,00 + 2,50 + 4,00 + 2,50 + 11,00 = 28,00; Bernard 15,00 + 4,80 + 15,00 = 34,80;
    # Petit 2 × (20,00 + 6,50) = 53,00.
    assert (run["invoices"], run["credit_notes"], run["lines"]) == (3, 0, 12)
    assert run["total_cents"] == 2800 + 3480 + 5300
    kinds = {(a["kind"], a["family_id"]) for a in run["anomalies"]}
    assert ("qf_inconnu", str(petit.id)) in kinds
    assert ("qf_inconnu", str(martin.id)) not in kinds
    assert ("presence_sans_reservation", str(martin.id)) in kinds
    no_price = [a for a in run["anomalies"] if a["kind"] == "sans_tarif"]
    assert len(no_price) == 1 and no_price[0]["day"] == "2026-10-21"
    assert "Zoé PETIT" in no_price[0]["detail"] and "matin" in no_price[0]["detail"]

    r = await billing.client.get(f"/staff/runs/{run['run_id']}/invoices", headers=billing.staff)
    assert r.status_code == 200, r.text
    drafts = {i["family_id"]: i for i in r.json()["invoices"]}
    assert {i["status"] for i in drafts.values()} == {"brouillon"}
    assert {i["number"] for i in drafts.values()} == {None}
    assert drafts[str(martin.id)]["family_name"] == "Famille Martin"
    assert {f: i["total_cents"] for f, i in drafts.items()} == {
        str(martin.id): 2800, str(bernard.id): 3480, str(petit.id): 5300}

    m = await _lines(billing, drafts[str(martin.id)]["invoice_id"])
    assert _key(m["lines"]) == [
        ("2026-10-07", "journee", "prestation", 800, 800),
        ("2026-10-07", "repas", "prestation", 250, 250),
        ("2026-10-14", "journee", "absence_injustifiee", 400, 400),
        ("2026-10-14", "repas", "absence_injustifiee", 250, 250),
        ("2026-10-28", "journee", "majoration", 1100, 1100)]
    assert {ln["child_name"] for ln in m["lines"]} == {"Léa MARTIN"}
    assert {ln["activity_name"] for ln in m["lines"]} == {"AUTOMNE"}
    b = await _lines(billing, drafts[str(bernard.id)]["invoice_id"])
    assert _key(b["lines"]) == [
        ("2026-10-07", "journee", "prestation", 1500, 1500),
        ("2026-10-07", "repas", "prestation", 480, 480),
        ("2026-10-14", "journee", "prestation", 1500, 1500)]
    p = await _lines(billing, drafts[str(petit.id)]["invoice_id"])
    assert _key(p["lines"]) == [
        ("2026-10-07", "journee", "prestation", 2000, 2000),
        ("2026-10-07", "repas", "prestation", 650, 650),
        ("2026-10-14", "journee", "prestation", 2000, 2000),
        ("2026-10-14", "repas", "prestation", 650, 650)]

    # Finalise (Monday 2 November 2026): numbered, issued, due in 30 days, published.
    done = await finalise_run(billing, run["run_id"])
    assert done["status"] == "finale" and done["finalised_at"] is not None
    r = await billing.client.get(f"/staff/runs/{run['run_id']}/invoices", headers=billing.staff)
    issued = {i["family_id"]: i for i in r.json()["invoices"]}
    assert sorted(i["number"] for i in issued.values()) == [
        "F2610000001", "F2610000002", "F2610000003"]
    assert {(i["status"], i["issued_on"], i["due_on"]) for i in issued.values()} == {
        ("emise", "2026-11-02", "2026-12-02")}
    assert r.json()["total_balance_cents"] == 11580
    sent = [(t, v, p) for t, v, p in await billing.outbox() if t == "billing.invoice_issued"]
    assert len(sent) == 3
    assert {(p["number"], p["total_cents"], v) for _, v, p in sent} == {
        (i["number"], i["total_cents"], 2) for i in issued.values()}
    # For the treasury: the amount split per activity (one here), the régie's accounting code.
    assert {p["number"]: p["by_activity"] for _, _, p in sent} == {
        i["number"]: [{"activity_name": "AUTOMNE", "amount_cents": i["total_cents"]}]
        for i in issued.values()}
    assert {p["regie_accounting_code"] for _, _, p in sent} == {None}

    # October is closed: no second run.
    r = await billing.client.post("/staff/runs", headers=billing.staff,
                                  json={"regie_code": "ENFANCE", "month": "2026-10"})
    assert r.status_code == 409
    assert "10/2026" in r.json()["detail"] and "clôturé" in r.json()["detail"]

    # After the October run, the structure cancels Léa's 7 October journée (closure).
    billing.clock.set(paris(2026, 11, 20, 9))
    await billing.cancel(martin, "Léa", period, OCT[7], rids[(7, "journee")], "journee",
                         by="structure", within_deadline=True)

    nov = await run_month(billing, "2026-11")
    assert nov["status"] == "brouillon"
    assert (nov["invoices"], nov["credit_notes"], nov["lines"], nov["total_cents"]) == (
        0, 1, 1, -800)
    r = await billing.client.get(f"/staff/runs/{nov['run_id']}/invoices", headers=billing.staff)
    [credit] = r.json()["invoices"]
    assert (credit["kind"], credit["family_id"], credit["total_cents"]) == (
        "avoir", str(martin.id), 800)
    c = await _lines(billing, credit["invoice_id"])
    assert _key(c["lines"]) == [("2026-10-07", "journee", "regularisation", -800, -800)]
    assert c["lines"][0]["label"] == "Journee" and c["lines"][0]["child_name"] == "Léa MARTIN"

    # Recompute the draft: nothing new.
    r = await billing.client.post(f"/staff/runs/{nov['run_id']}/recompute",
                                  headers=billing.staff)
    assert r.status_code == 202, r.text
    await wait_idle(billing.app)
    again = (await billing.client.get(f"/staff/runs/{nov['run_id']}",
                                      headers=billing.staff)).json()
    assert (again["status"], again["credit_notes"], again["lines"], again["total_cents"]) == (
        "brouillon", 1, 1, -800)

    # A crash mid-computation: the run is left en_cours with no progress saved although the
    # drafts of a batch were written; resuming adds no line twice.
    async with billing.runtime.uow() as uow:
        await uow.session.execute(update(invoicing_run).where(
            invoicing_run.c.run_id == uuid.UUID(nov["run_id"]))
            .values(status="en_cours", families_done=0))
        await uow.commit()
    await billing.app.state.runner.resume()
    await wait_idle(billing.app)
    resumed = (await billing.client.get(f"/staff/runs/{nov['run_id']}",
                                        headers=billing.staff)).json()
    assert (resumed["status"], resumed["credit_notes"], resumed["lines"],
            resumed["total_cents"]) == ("brouillon", 1, 1, -800)
    rows = await billing.rows(invoice_line.join(invoice, invoice.c.invoice_id ==
                                                invoice_line.c.invoice_id),
                              invoice.c.run_id == uuid.UUID(nov["run_id"]))
    assert len(rows) == 1

    # Finalise November: AV2611000001, applied at once to Martin's open October invoice.
    done = await finalise_run(billing, nov["run_id"])
    assert done["status"] == "finale"
    r = await billing.client.get(f"/staff/runs/{nov['run_id']}/invoices", headers=billing.staff)
    [credit] = r.json()["invoices"]  # recomputed: a new draft
    c = await _lines(billing, credit["invoice_id"])
    assert (c["number"], c["status"], c["balance_cents"]) == ("AV2611000001", "emise", 0)
    october = await _lines(billing, issued[str(martin.id)]["invoice_id"])
    assert (october["total_cents"], october["balance_cents"]) == (2800, 2000)
    assert [(a["method"], a["amount_cents"], a["credit_note_id"]) for a in
            october["allocations"]] == [("avoir", 800, credit["invoice_id"])]
    [(_, version, payload)] = [e for e in await billing.outbox()
                               if e[0] == "billing.credit_note_issued"]
    assert payload["number"] == "AV2611000001" and payload["amount_cents"] == 800
    # Its lines are negative; the split takes the sign of its (positive) amount.
    assert payload["by_activity"] == [{"activity_name": "AUTOMNE", "amount_cents": 800}]
    assert version == 2
    assert payload["allocations"] == [{"invoice_id": issued[str(martin.id)]["invoice_id"],
                                       "invoice_number": issued[str(martin.id)]["number"],
                                       "amount_cents": 800}]

    # December: everything is billed as it should be, nothing to add.
    dec = await run_month(billing, "2026-12")
    assert (dec["invoices"], dec["credit_notes"], dec["lines"]) == (0, 0, 0)
