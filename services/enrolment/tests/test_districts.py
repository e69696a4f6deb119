"""« Districts at different times » (issue #10): a period opens earlier to the households of
some districts (billing's district, copied by profile version), each district at its own moment,
before the opening to all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from marelle_contracts import new_envelope
from marelle_contracts.billing import ResidencyChanged
from marelle_enrolment import residency
from marelle_enrolment.db import family_residency
from marelle_enrolment.domain.rules import paris
from marelle_enrolment.usecases import tickets

from .conftest import born_years_ago
from .test_tickets import settled, submit


async def set_district(enrolment, family_id, district: str | None, version: int,
                       resident: bool = True) -> None:
    """Billing's event, applied by enrolment's own consumer code."""
    label = {"nord": "Nord", "sud": "Sud"}.get(district or "")
    await residency.residency_events(enrolment.app.state.runtime)(new_envelope(
        ResidencyChanged(family_id=family_id, resident=resident, district=district,
                         district_label=label), producer="billing", version=version))


def _moment(delta: timedelta) -> datetime:
    return (datetime.now(UTC) + delta).replace(microsecond=0)


async def _period(enrolment, ids) -> dict:
    r = await enrolment.client.get("/staff/catalogue", headers=enrolment.staff)
    [p] = [p for f in r.json()["facilities"] if f["id"] == str(ids["facility"])
           for t in f["activity_types"] for a in t["activities"] for p in a["periods"]]
    return p


async def by_district(enrolment, *, nord: timedelta = -timedelta(hours=1),
                      sud: timedelta = timedelta(hours=1),
                      opens_in: timedelta = timedelta(hours=2), **kw) -> dict:
    """A period opening to all in `opens_in`, to Nord and Sud at their own moments."""
    ids = await enrolment.catalogue(opens_in=opens_in, **kw)
    p = await _period(enrolment, ids)
    assert p["district_openings"] == []
    body = {k: p[k] for k in ("label", "start_date", "end_date", "opens_at", "closes_at",
                              "priority_opens_at", "residents_open_at", "memo",
                              "validation_mode", "promotion_mode")}
    ids["nord"], ids["sud"] = _moment(nord), _moment(sud)
    openings = [{"district": "sud", "district_label": "Sud", "opens_at": ids["sud"].isoformat()},
                {"district": "nord", "district_label": "Nord",
                 "opens_at": ids["nord"].isoformat()}]
    r = await enrolment.client.put(f"/staff/periods/{ids['period']}", headers=enrolment.staff,
                                   json={**body, "district_openings": openings})
    assert r.status_code == 204, r.text
    ids["body"] = body
    return ids


async def test_each_district_asks_from_its_own_opening_others_are_told_when(enrolment):
    ids = await by_district(enrolment, validation="automatique")
    # The listing gives the openings back, earliest first.
    assert [(d["district"], d["district_label"], datetime.fromisoformat(d["opens_at"]))
            for d in (await _period(enrolment, ids))["district_openings"]] == [
        ("nord", "Nord", ids["nord"]), ("sud", "Sud", ids["sud"])]
    nord = await enrolment.family("Martin", {"Léa": born_years_ago(7)})
    await set_district(enrolment, nord.id, "nord", 1)
    sud = await enrolment.family("Durand", {"Léo": born_years_ago(7)})
    await set_district(enrolment, sud.id, "sud", 1)
    nowhere = await enrolment.family("Petit", {"Ana": born_years_ago(7)})  # no district

    r = await submit(enrolment, nord, ids["group"], ["Léa"])
    assert r.status_code == 202, r.text
    ticket = await settled(enrolment, nord, r.json()["id"])
    assert [o["status"] for o in ticket["outcomes"]] == ["validee"]

    r = await submit(enrolment, sud, ids["group"], ["Léo"])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "ne sont pas encore ouvertes" in detail
    assert f"dès le {paris(ids['sud'])} pour les familles du quartier Sud, le vôtre" in detail
    assert "Nord" not in detail

    r = await submit(enrolment, nowhere, ids["group"], ["Ana"])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    opens_at = datetime.fromisoformat(ids["body"]["opens_at"])
    assert f"elles le seront du {paris(opens_at)} au " in detail
    assert "quartier" not in detail

    # The direct request follows the same windows.
    r = await enrolment.request(sud, "Léo", ids["group"])
    [result] = r.json()["results"]
    assert result["ok"] is False and "quartier Sud, le vôtre" in result["detail"]
    other = await enrolment.family("Bernard", {"Noé": born_years_ago(7)})
    await set_district(enrolment, other.id, "nord", 3, resident=False)
    r = await enrolment.request(other, "Noé", ids["group"])
    [result] = r.json()["results"]
    assert result["ok"] is True, result


async def test_the_decider_checks_the_district_again(enrolment):
    await enrolment.app.state.decider.stop()  # the test drives the decider itself
    ids = await by_district(enrolment, validation="automatique")
    family = await enrolment.family("Roux", {"Lou": born_years_ago(7)})
    await set_district(enrolment, family.id, "nord", 1)
    r = await submit(enrolment, family, ids["group"], ["Lou"])
    assert r.status_code == 202, r.text
    # Billing corrects the household's district before the decision: the ticket, received
    # before Sud's opening, is refused.
    await set_district(enrolment, family.id, "sud", 2)
    assert await tickets.decide_once(enrolment.app.state.runtime.uow) == 1
    r = await enrolment.client.get(f"/families/{family.id}/tickets/{r.json()['id']}",
                                   headers=family.headers)
    [outcome] = r.json()["outcomes"]
    assert outcome["status"] == "refusee", outcome
    assert "n'étaient pas ouvertes à Lou" in outcome["detail"], outcome


async def test_a_district_opening_must_precede_the_opening_to_all(enrolment):
    ids = await by_district(enrolment)
    body = ids["body"]
    late = datetime.fromisoformat(body["opens_at"]) + timedelta(minutes=5)
    r = await enrolment.client.put(f"/staff/periods/{ids['period']}", headers=enrolment.staff,
                                   json={**body, "district_openings": [
                                       {"district": "nord", "district_label": "Nord",
                                        "opens_at": late.isoformat()}]})
    assert r.status_code == 422
    assert r.json()["erreurs"] == [{"champ": "district_openings", "message": "L'ouverture du "
                                    "quartier Nord doit précéder l'ouverture à tous."}]


async def test_the_copy_keeps_the_newest_district(enrolment):
    family = await enrolment.family("Blanc", {"Max": born_years_ago(7)})
    await set_district(enrolment, family.id, "sud", 4)
    await set_district(enrolment, family.id, "nord", 2)  # late: an older profile version
    runtime = enrolment.app.state.runtime
    async with runtime.uow() as uow:
        row = (await uow.session.execute(select(family_residency).where(
            family_residency.c.family_id == family.id))).one()
    assert (row.district, row.district_label, row.version) == ("sud", "Sud", 4)


async def test_the_openings_page_data_shows_the_household_district_opening(enrolment):
    ids = await by_district(enrolment, nord=timedelta(minutes=30), sud=timedelta(hours=1))
    family = await enrolment.family("Noir", {"Zoé": born_years_ago(7)})
    await set_district(enrolment, family.id, "sud", 1)
    nowhere = await enrolment.family("Gris", {"Jo": born_years_ago(7)})

    async def opening(f) -> dict:
        r = await enrolment.client.get(f"/families/{f.id}/openings", headers=f.headers)
        assert r.status_code == 200, r.text
        [o] = [o for o in r.json()["items"] if o["period_id"] == str(ids["period"])]
        return o

    mine = await opening(family)
    assert mine["district_label"] == "Sud"
    assert datetime.fromisoformat(mine["district_opens_at"]) == ids["sud"]
    assert mine["open_now"] is False
    theirs = await opening(nowhere)
    assert (theirs["district_label"], theirs["district_opens_at"]) == (None, None)


async def test_after_the_opening_to_all_the_submission_reads_no_district(enrolment):
    """The rush to all pays no extra query: residency is read only before `opens_at`."""
    from .test_schools import statements

    ids = await by_district(enrolment, nord=-timedelta(hours=3), sud=-timedelta(hours=2),
                            opens_in=-timedelta(hours=1), validation="automatique")
    family = await enrolment.family("Vert", {"Eva": born_years_ago(7)})
    await set_district(enrolment, family.id, "sud", 1)
    early = await by_district(enrolment, validation="automatique")
    with statements(enrolment) as seen:
        r = await submit(enrolment, family, ids["group"], ["Eva"])
    assert r.status_code == 202, r.text
    assert not [s for s in seen if "family_residency" in s]
    # Before the opening to all, it is read (once).
    with statements(enrolment) as seen:
        r = await submit(enrolment, family, early["group"], ["Eva"])
    assert r.status_code == 422, r.text
    assert len([s for s in seen if "family_residency" in s]) == 1
