"""Billing publishes a household's residency (`billing.residency_changed`, keyed by family, the
profile's version in the envelope) in the transaction that creates the profile or changes it;
enrolment reads it for the residents' priority opening (issue #10)."""

from __future__ import annotations

from datetime import date

from marelle_contracts import new_envelope
from marelle_contracts.inbound import FamilyQuotientUpdated, QuotientSource
from marelle_billing import handlers

from .conftest import setup_tariffs


async def _residency(billing) -> list[tuple[int | None, dict]]:
    # No district set here (tests/test_districts.py): its two fields are null.
    return [(v, {k: x for k, x in p.items() if k not in ("district", "district_label")
                 or x is not None})
            for t, v, p in await billing.outbox() if t == "billing.residency_changed"]


async def test_residency_is_published_when_the_profile_is_created_or_residency_changes(billing):
    await setup_tariffs(billing)
    family = await billing.family("Durand", ["Léa"])
    url = f"/staff/families/{family.id}/profile"

    r = await billing.client.put(url, headers=billing.staff, json={"qf": 650})
    assert r.status_code == 200, r.text
    assert await _residency(billing) == [(1, {"family_id": str(family.id), "resident": True})]

    # A new QF only: residency unchanged, nothing more to tell enrolment.
    r = await billing.client.put(url, headers=billing.staff, json={"qf": 700})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert len(await _residency(billing)) == 1

    r = await billing.client.put(url, headers=billing.staff, json={"qf": 700, "resident": False})
    assert r.status_code == 200 and r.json()["version"] == 3
    assert (await _residency(billing))[1:] == [
        (3, {"family_id": str(family.id), "resident": False})]

    # A refused change publishes nothing.
    r = await billing.client.put(url, headers=billing.staff, json={"qf": -1})
    assert r.status_code == 422
    assert len(await _residency(billing)) == 2


async def test_a_profile_created_by_the_quotient_connector_publishes_its_residency(billing):
    family = await billing.family("Martin", ["Zoé"])
    await handlers.quotient_events(billing.runtime, billing.clock)(new_envelope(
        FamilyQuotientUpdated(family_id=family.id, qf=500, qf_date=date(2026, 1, 10),
                              source=QuotientSource("caf")), producer="quotient"))
    assert await _residency(billing) == [(1, {"family_id": str(family.id), "resident": True})]
