"""« Residents first » (issue #10): households living in the city (billing's residency, copied by
profile version) may ask from a period's `residents_open_at`, before the opening to all."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from marelle_contracts import new_envelope
from marelle_contracts.billing import InvoicePaid, ResidencyChanged
from marelle_enrolment import residency
from marelle_enrolment.db import family_residency
from marelle_enrolment.domain.rules import paris

from .conftest import born_years_ago
from .test_tickets import settled, submit


async def set_residency(enrolment, family_id, resident: bool, version: int) -> None:
    """Billing's event, applied by enrolment's own consumer code."""
    await residency.residency_events(enrolment.app.state.runtime)(new_envelope(
        ResidencyChanged(family_id=family_id, resident=resident), producer="billing",
        version=version))


async def residents_first(enrolment, *, residents_from: timedelta = -timedelta(hours=1),
                          opens_in: timedelta = timedelta(hours=2), **kw) -> dict:
    """A period opening to all in `opens_in`, to residents `residents_from` from now."""
    ids = await enrolment.catalogue(opens_in=opens_in, **kw)
    r = await enrolment.client.get("/staff/catalogue", headers=enrolment.staff)
    [p] = [p for f in r.json()["facilities"] if f["id"] == str(ids["facility"])
           for t in f["activity_types"] for a in t["activities"] for p in a["periods"]]
    assert p["residents_open_at"] is None
    body = {k: p[k] for k in ("label", "start_date", "end_date", "opens_at", "closes_at",
                              "priority_opens_at", "memo", "validation_mode", "promotion_mode")}
    at = (datetime.now(UTC) + residents_from).replace(microsecond=0)
    r = await enrolment.client.put(f"/staff/periods/{ids['period']}", headers=enrolment.staff,
                                   json={**body, "residents_open_at": at.isoformat()})
    assert r.status_code == 204, r.text
    ids["residents_open_at"] = at
    ids["body"] = body
    return ids


async def test_a_resident_asks_before_the_opening_to_all_a_non_resident_is_told_when(enrolment):
    ids = await residents_first(enrolment, validation="automatique")
    here = await enrolment.family("Martin", {"Léa": born_years_ago(7)})
    await set_residency(enrolment, here.id, True, 1)
    elsewhere = await enrolment.family("Durand", {"Léo": born_years_ago(7)})
    await set_residency(enrolment, elsewhere.id, False, 1)
    unknown = await enrolment.family("Petit", {"Ana": born_years_ago(7)})  # no billing profile

    r = await submit(enrolment, here, ids["group"], ["Léa"])
    assert r.status_code == 202, r.text
    ticket = await settled(enrolment, here, r.json()["id"])
    assert [o["status"] for o in ticket["outcomes"]] == ["validee"]

    for family, child in ((elsewhere, "Léo"), (unknown, "Ana")):
        r = await submit(enrolment, family, ids["group"], [child])
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert "ne sont pas encore ouvertes" in detail
        assert "pour les familles résidant dans la commune" in detail
        assert f"dès le {paris(ids['residents_open_at'])} pour les familles résidant" in detail

    # The direct request follows the same window.
    r = await enrolment.request(elsewhere, "Léo", ids["group"])
    [result] = r.json()["results"]
    assert result["ok"] is False and "résidant dans la commune" in result["detail"]
    second = await enrolment.family("Bernard", {"Noé": born_years_ago(7)})
    await set_residency(enrolment, second.id, True, 3)
    r = await enrolment.request(second, "Noé", ids["group"])
    [result] = r.json()["results"]
    assert result["ok"] is True, result


async def test_the_residents_opening_must_precede_the_opening_to_all(enrolment):
    ids = await residents_first(enrolment)
    body = ids["body"]
    late = datetime.fromisoformat(body["opens_at"]) + timedelta(minutes=5)
    r = await enrolment.client.put(f"/staff/periods/{ids['period']}", headers=enrolment.staff,
                                   json={**body, "residents_open_at": late.isoformat()})
    assert r.status_code == 422
    assert r.json()["erreurs"] == [{"champ": "residents_open_at", "message": "L'ouverture aux "
                                    "résidents doit précéder l'ouverture à tous."}]


async def test_the_copy_is_applied_by_version_and_ignores_other_billing_events(enrolment):
    family = await enrolment.family("Roux", {"Lou": born_years_ago(7)})
    await set_residency(enrolment, family.id, True, 4)
    await set_residency(enrolment, family.id, False, 2)  # late: an older profile version
    runtime = enrolment.app.state.runtime
    async with runtime.uow() as uow:
        row = (await uow.session.execute(select(family_residency).where(
            family_residency.c.family_id == family.id))).one()
    assert (row.resident, row.version) == (True, 4)
    await set_residency(enrolment, family.id, False, 5)
    # An invoice paid: not enrolment's business, acknowledged and ignored.
    await residency.residency_events(runtime)(new_envelope(InvoicePaid(
        invoice_id=uuid.uuid4(), number="F1", family_id=family.id, regie_code="R",
        total_cents=100, paid_at=datetime.now(UTC)), producer="billing", version=9))
    async with runtime.uow() as uow:
        row = (await uow.session.execute(select(family_residency).where(
            family_residency.c.family_id == family.id))).one()
    assert (row.resident, row.version) == (False, 5)


async def test_the_openings_page_data_and_the_offer_show_the_residents_opening(enrolment):
    ids = await residents_first(enrolment, residents_from=timedelta(hours=1))
    family = await enrolment.family("Blanc", {"Max": born_years_ago(7)})
    r = await enrolment.client.get(f"/families/{family.id}/openings", headers=family.headers)
    [opening] = [o for o in r.json()["items"] if o["period_id"] == str(ids["period"])]
    assert datetime.fromisoformat(opening["residents_open_at"]) == ids["residents_open_at"]
    assert opening["open_now"] is False
    live = await enrolment.client.get(f"/staff/openings/{ids['period']}", headers=enrolment.staff)
    assert datetime.fromisoformat(live.json()["residents_open_at"]) == ids["residents_open_at"]
    # Once the residents' window is open, a resident's offer lists the period, another's not.
    ids = await residents_first(enrolment)
    await set_residency(enrolment, family.id, True, 1)
    other = await enrolment.family("Noir", {"Zoé": born_years_ago(7)})

    async def offered(f, child) -> bool:
        r = await enrolment.client.get(f"/families/{f.id}/children/{f.children[child]}/offer",
                                       headers=f.headers)
        assert r.status_code == 200, r.text
        return str(ids["period"]) in r.text

    assert await offered(family, "Max") and not await offered(other, "Zoé")
