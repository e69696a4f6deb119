"""Invoicing runs' life: one live run per régie and month (idempotent, concurrent starts),
batches and their resumption, discard, refusals in French."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from sqlalchemy import delete, select, update

from marelle_billing.db import invoice, invoice_line, invoicing_run
from marelle_billing.runner import wait_idle

from .conftest import finalise_run, run_month, set_qf, setup_tariffs


async def _three_families(billing):
    await setup_tariffs(billing)
    period = await billing.period(date(2026, 9, 1), date(2026, 12, 31))
    families = []
    for name, qf in (("Martin", 500), ("Bernard", 1000), ("Petit", 2000)):
        family = await billing.family(name, ["Léa"])
        await set_qf(billing, family, qf)
        await billing.reserve(family, "Léa", period, date(2026, 10, 7), "journee")
        families.append(family)
    return families  # journée: T1 8,00, T2 12,00, T3 16,00


async def test_one_live_run_per_month(billing):
    await _three_families(billing)
    h = billing.staff
    body = {"regie_code": "ENFANCE", "month": "2026-10"}
    first, second = await asyncio.gather(billing.client.post("/staff/runs", headers=h, json=body),
                                         billing.client.post("/staff/runs", headers=h, json=body))
    assert (first.status_code, second.status_code) == (202, 202), first.text + second.text
    assert first.json()["run_id"] == second.json()["run_id"]
    await wait_idle(billing.app)
    again = await billing.client.post("/staff/runs", headers=h, json=body)
    assert again.status_code == 202 and again.json()["run_id"] == first.json()["run_id"]
    assert again.json()["status"] == "brouillon"
    assert again.json()["total_cents"] == 800 + 1200 + 1600

    r = await billing.client.get("/staff/runs", headers=h, params={"regie": "ENFANCE"})
    assert [x["run_id"] for x in r.json()["runs"]] == [first.json()["run_id"]]
    r = await billing.client.get("/staff/runs", headers=h, params={"regie": "AUTRE"})
    assert r.json()["runs"] == []

    r = await billing.client.post("/staff/runs", headers=h,
                                  json={"regie_code": "AUTRE", "month": "2026-10"})
    assert r.status_code == 404 and r.json()["detail"] == "Cette régie est inconnue."
    r = await billing.client.post("/staff/runs", headers=h,
                                  json={"regie_code": "ENFANCE", "month": "2026-13"})
    assert r.status_code == 422
    r = await billing.client.get(f"/staff/runs/{uuid.uuid4()}", headers=h)
    assert r.status_code == 404 and "introuvable" in r.json()["detail"]


async def test_discard_then_start_again(billing):
    await _three_families(billing)
    h = billing.staff
    run = await run_month(billing, "2026-10")
    r = await billing.client.delete(f"/staff/runs/{run['run_id']}", headers=h)
    assert r.status_code == 204
    assert await billing.rows(invoice, invoice.c.run_id == uuid.UUID(run["run_id"])) == []
    r = await billing.client.get(f"/staff/runs/{run['run_id']}", headers=h)
    assert r.json()["status"] == "abandonnee"
    for action in ("recompute", "finalise"):
        r = await billing.client.post(f"/staff/runs/{run['run_id']}/{action}", headers=h)
        assert r.status_code == 409 and "brouillon" in r.json()["detail"]
    r = await billing.client.delete(f"/staff/runs/{run['run_id']}", headers=h)
    assert r.status_code == 409

    fresh = await run_month(billing, "2026-10")
    assert fresh["run_id"] != run["run_id"]
    assert (fresh["status"], fresh["invoices"], fresh["total_cents"]) == ("brouillon", 3, 3600)
    done = await finalise_run(billing, fresh["run_id"])
    assert done["status"] == "finale"
    r = await billing.client.delete(f"/staff/runs/{fresh['run_id']}", headers=h)
    assert r.status_code == 409


async def test_batches_and_resume_after_a_crash(billing):
    families = await _three_families(billing)
    billing.app.state.runner.batch_size = 1  # one family per transaction
    run = await run_month(billing, "2026-10")
    assert (run["families_total"], run["families_done"], run["invoices"], run["lines"]) == (
        3, 3, 3, 3)
    run_id = uuid.UUID(run["run_id"])

    # The crash: the first batch committed, the others not (their drafts never written).
    async with billing.runtime.uow() as uow:
        ordered = sorted((f.id for f in families), key=str)
        lost = (await uow.session.scalars(select(invoice.c.invoice_id).where(
            invoice.c.run_id == run_id, invoice.c.family_id.in_(ordered[1:])))).all()
        await uow.session.execute(delete(invoice_line).where(invoice_line.c.invoice_id.in_(lost)))
        await uow.session.execute(delete(invoice).where(invoice.c.invoice_id.in_(lost)))
        await uow.session.execute(update(invoicing_run).where(invoicing_run.c.run_id == run_id)
                                  .values(status="en_cours", families_done=1))
        await uow.commit()
    await billing.app.state.runner.resume()  # what the service does at startup
    await wait_idle(billing.app)
    r = await billing.client.get(f"/staff/runs/{run_id}", headers=billing.staff)
    resumed = r.json()
    assert (resumed["status"], resumed["families_done"], resumed["invoices"], resumed["lines"],
            resumed["total_cents"]) == ("brouillon", 3, 3, 3, 3600)
    lines = await billing.rows(invoice_line.join(invoice, invoice.c.invoice_id ==
                                                 invoice_line.c.invoice_id),
                               invoice.c.run_id == run_id)
    assert sorted(x.amount_cents for x in lines) == [800, 1200, 1600]


async def test_one_month_in_progress_at_a_time(billing):
    await _three_families(billing)
    october = await run_month(billing, "2026-10")
    # November would bill October's days again while October is only a draft.
    r = await billing.client.post("/staff/runs", headers=billing.staff,
                                  json={"regie_code": "ENFANCE", "month": "2026-11"})
    assert r.status_code == 409
    assert "10/2026" in r.json()["detail"] and "finalisez" in r.json()["detail"]
    await finalise_run(billing, october["run_id"])
    november = await run_month(billing, "2026-11")
    assert (november["status"], november["lines"]) == ("brouillon", 0)
