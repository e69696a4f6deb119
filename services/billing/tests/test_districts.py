"""The city's districts (issue #10, « districts at different times »): staff keep the list, set a
household's district on its financial profile, and billing tells enrolment in
`billing.residency_changed` (the profile's version) when the district changes."""

from __future__ import annotations

from marelle_billing.db import staff_audit
from sqlalchemy import select


async def _residency(billing) -> list[tuple[int | None, dict]]:
    return [(v, p) for t, v, p in await billing.outbox() if t == "billing.residency_changed"]


async def _districts(billing) -> list[dict]:
    r = await billing.client.get("/staff/districts", headers=billing.staff)
    assert r.status_code == 200, r.text
    return r.json()["districts"]


async def test_staff_keep_the_districts_list(billing):
    for code, label in (("sud", "Sud"), ("nord", "Nord")):
        r = await billing.client.post("/staff/districts", headers=billing.staff,
                                      json={"code": code, "label": label})
        assert r.status_code == 201, r.text
    assert [(d["code"], d["label"], d["households"]) for d in await _districts(billing)] == [
        ("nord", "Nord", 0), ("sud", "Sud", 0)]

    r = await billing.client.post("/staff/districts", headers=billing.staff,
                                  json={"code": "nord2", "label": "Nord"})
    assert r.status_code == 409 and "déjà" in r.json()["detail"]
    r = await billing.client.post("/staff/districts", headers=billing.staff,
                                  json={"code": "Nord Est", "label": "Nord-Est"})
    assert r.status_code == 422

    r = await billing.client.put("/staff/districts/sud", headers=billing.staff,
                                 json={"label": "Sud-Ouest"})
    assert r.status_code == 200 and r.json()["label"] == "Sud-Ouest"
    r = await billing.client.put("/staff/districts/est", headers=billing.staff,
                                 json={"label": "Est"})
    assert r.status_code == 404 and r.json()["detail"] == "Ce quartier est inconnu."

    r = await billing.client.delete("/staff/districts/sud", headers=billing.staff)
    assert r.status_code == 204
    assert [d["code"] for d in await _districts(billing)] == ["nord"]
    # Parents do not keep the list.
    family = await billing.family("Petit", ["Ana"])
    r = await billing.client.get("/staff/districts", headers=family.headers)
    assert r.status_code == 403

    async with billing.runtime.uow() as uow:
        actions = (await uow.session.scalars(select(staff_audit.c.action).where(
            staff_audit.c.action.like("quartier.%")).order_by(staff_audit.c.id))).all()
    assert actions == ["quartier.cree", "quartier.cree", "quartier.renomme", "quartier.supprime"]


async def test_a_household_district_is_published_checked_and_keeps_its_district(billing):
    await billing.client.post("/staff/districts", headers=billing.staff,
                              json={"code": "nord", "label": "Nord"})
    await billing.client.post("/staff/districts", headers=billing.staff,
                              json={"code": "sud", "label": "Sud"})
    family = await billing.family("Durand", ["Léa"])
    url = f"/staff/families/{family.id}/profile"

    r = await billing.client.put(url, headers=billing.staff, json={"qf": 650, "district": "nord"})
    assert r.status_code == 200, r.text
    assert (r.json()["district"], r.json()["district_label"]) == ("nord", "Nord")
    assert await _residency(billing) == [(1, {"family_id": str(family.id), "resident": True,
                                              "district": "nord", "district_label": "Nord"})]

    # A new QF, same district: nothing more to tell enrolment.
    r = await billing.client.put(url, headers=billing.staff, json={"qf": 700, "district": "nord"})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert len(await _residency(billing)) == 1

    # The district changes: published with the profile's version.
    r = await billing.client.put(url, headers=billing.staff, json={"qf": 700, "district": "sud"})
    assert r.status_code == 200 and r.json()["version"] == 3
    assert (await _residency(billing))[1:] == [
        (3, {"family_id": str(family.id), "resident": True, "district": "sud",
             "district_label": "Sud"})]

    # An unknown district: the field's French error, nothing written nor published.
    r = await billing.client.put(url, headers=billing.staff, json={"qf": 700, "district": "est"})
    assert r.status_code == 422
    assert r.json()["erreurs"] == [{"champ": "district", "message": "Le quartier « est » est "
                                    "inconnu : choisissez-en un de la liste."}]
    assert len(await _residency(billing)) == 2
    assert (await billing.client.get(url, headers=billing.staff)).json()["version"] == 3

    # A district in use is not deleted; once nobody is in it, it is.
    r = await billing.client.delete("/staff/districts/sud", headers=billing.staff)
    assert r.status_code == 409
    assert "Des foyers sont rattachés à ce quartier" in r.json()["detail"]
    assert [(d["code"], d["households"]) for d in await _districts(billing)] == [
        ("nord", 0), ("sud", 1)]
    r = await billing.client.put(url, headers=billing.staff, json={"qf": 700})
    assert r.status_code == 200 and r.json()["district"] is None
    assert (await _residency(billing))[2:] == [
        (4, {"family_id": str(family.id), "resident": True, "district": None,
             "district_label": None})]
    r = await billing.client.delete("/staff/districts/sud", headers=billing.staff)
    assert r.status_code == 204
