"""Issue #11: billing's staff actions leave an audit line (who, what, before/after) in their own
transaction; GET /staff/audit filters it, newest first, and is closed to parents."""

from __future__ import annotations

from services.billing.tests.conftest import run_month, set_qf, setup_tariffs


async def _audit(billing, **params):
    r = await billing.client.get("/staff/audit", params=params, headers=billing.staff)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_catalogue_profile_and_run_are_audited(billing):
    tariffs = await setup_tariffs(billing)
    fam = await billing.family("Audit", ["Léa"])
    await set_qf(billing, fam, 650)
    await set_qf(billing, fam, 900)
    run = await run_month(billing, "2026-10")
    r = await billing.client.delete(f"/staff/runs/{run['run_id']}", headers=billing.staff)
    assert r.status_code == 204, r.text

    actions = [i["action"] for i in await _audit(billing)]
    assert actions[:4] == ["facturation.abandonnee", "facturation.lancee",
                           "profil_financier.modifie", "profil_financier.modifie"]
    assert {"tranches_qf.remplacees", "regie.creee", "tarif.cree"} <= set(actions)

    [latest, first] = await _audit(billing, action="profil_financier")
    assert latest["target"] == f"foyer:{fam.id}" and latest["service"] == "billing"
    assert latest["before"]["qf"] == 650 and latest["after"]["qf"] == 900
    assert first["before"]["qf"] is None and first["after"]["qf"] == 650
    assert latest["staff_email"] == "agent@marelle.local"
    [regie] = await _audit(billing, action="regie.")
    assert regie["after"]["code"] == "ENFANCE" and "payment_options" not in regie["after"]
    [tariff] = await _audit(billing, target=tariffs["repas"]["tariff_id"])
    assert tariff["action"] == "tarif.cree" and tariff["after"]["unit"] == "repas"
    assert await _audit(billing, staff="quelqu.un.d.autre") == []
    r = await billing.client.get("/staff/audit", headers=fam.headers)
    assert r.status_code == 403
