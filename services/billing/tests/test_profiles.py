"""A family's financial profile: its bracket from the QF, staff changes audited with history."""

from __future__ import annotations

import jwt

from marelle_billing.usecases.profiles import profile_view

from .conftest import setup_tariffs


def _subject(headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, options={"verify_signature": False})["sub"]


async def test_profile_bracket_and_history(billing):
    await setup_tariffs(billing)
    family = await billing.family("Durand", ["Léa"])
    url = f"/staff/families/{family.id}/profile"

    r = await billing.client.get(url, headers=billing.staff)
    assert r.status_code == 200, r.text
    empty = r.json()
    assert (empty["qf"], empty["bracket_code"], empty["resident"], empty["version"],
            empty["history"]) == (None, None, True, 0, [])

    r = await billing.client.put(url, headers=billing.staff, json={
        "qf": 650, "qf_date": "2026-01-15", "qf_source": "caf", "income_cents": 3_200_000,
        "income_year": 2025, "dependent_children": 2, "reason": "Attestation CAF"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert (first["qf"], first["bracket_code"], first["bracket_label"], first["version"]) == (
        650, "T1", "Tranche 1", 1)
    [change] = first["history"]
    assert change["changed_by"] == _subject(billing.staff)
    assert (change["source"], change["reason"]) == ("caf", "Attestation CAF")
    assert change["before"]["qf"] is None and change["after"]["qf"] == 650
    assert change["after"]["qf_date"] == "2026-01-15"

    # Staff typing a new QF by hand: source « saisie », the bracket follows, history newest first.
    billing.clock.set(billing.clock().replace(hour=11))
    r = await billing.client.put(url, headers=billing.staff, json={"qf": 1500, "resident": False})
    assert r.status_code == 200, r.text
    second = r.json()
    assert (second["bracket_code"], second["resident"], second["version"]) == ("T3", False, 2)
    assert [(h["source"], h["before"]["qf"], h["after"]["qf"]) for h in second["history"]] == [
        ("saisie", 650, 1500), ("caf", None, 650)]
    assert second["history"][0]["before"]["income_cents"] == 3_200_000
    assert second["history"][0]["after"]["income_cents"] is None

    # What other modules read (« Mon compte »): the same view, without history.
    async with billing.runtime.uow() as uow:
        view = await profile_view(uow, family.id)
    assert (view.qf, view.bracket_code, view.resident, view.version) == (1500, "T3", False, 2)

    r = await billing.client.put(url, headers=billing.staff, json={"qf": -1})
    assert r.status_code == 422
    r = await billing.client.put(url, headers=family.headers, json={"qf": 10})
    assert r.status_code == 403
