"""Issue #11: every staff action of enrolment leaves an audit line (who, what, before/after) in
its own transaction; GET /staff/audit filters it, newest first, and is closed to parents."""

from __future__ import annotations


from .conftest import born_years_ago


async def test_staff_actions_are_audited_and_filtered(enrolment):
    ids = await enrolment.catalogue()
    fam = await enrolment.family("Audit", {"Lou": born_years_ago(7)})
    reg = (await enrolment.request(fam, "Lou", ids["group"])).json()["results"][0]["registration"]
    r = await enrolment.post("/staff/registrations/decisions", {"decisions": [
        {"registration_id": reg["id"], "decision": "refuse", "reason": "Complet."}]})
    assert r.json()["results"][0]["ok"] is True
    r = await enrolment.client.post(f"/staff/groups/{ids['group']}/close", headers=enrolment.staff)
    assert r.status_code == 204

    r = await enrolment.client.get("/staff/audit", headers=enrolment.staff)
    assert r.status_code == 200
    items = r.json()["items"]
    assert items[0]["action"] == "catalogue.groupe_ferme"  # newest first
    assert items[0]["before"] == {"closed": False} and items[0]["after"] == {"closed": True}
    actions = [i["action"] for i in items]
    for expected in ("catalogue.equipement_cree", "catalogue.periode_creee",
                     "catalogue.groupe_cree", "inscription.refusee"):
        assert expected in actions

    r = await enrolment.client.get("/staff/audit", params={"action": "inscription."},
                                   headers=enrolment.staff)
    [refusal] = r.json()["items"]
    assert refusal["staff_email"] == "agent@marelle.local" and refusal["service"] == "enrolment"
    assert refusal["target"] == f"inscription:{reg['id']}"
    assert refusal["before"] == {"status": "en_attente"}
    assert refusal["after"] == {"status": "refusee", "reason": "Complet."}
    r = await enrolment.client.get("/staff/audit", params={"staff": "personne@", "limit": 5},
                                   headers=enrolment.staff)
    assert r.json()["items"] == []
    r = await enrolment.client.get("/staff/audit", params={"target": str(ids["group"])},
                                   headers=enrolment.staff)
    assert [i["action"] for i in r.json()["items"]] == ["catalogue.groupe_ferme",
                                                       "catalogue.groupe_cree"]


async def test_a_failed_action_leaves_no_line_and_parents_cannot_read(enrolment):
    ids = await enrolment.catalogue()
    fam = await enrolment.family("Curieux", {"Tom": born_years_ago(7)})
    assert (await enrolment.request(fam, "Tom", ids["group"])).json()["results"][0]["ok"]
    r = await enrolment.client.put(f"/staff/groups/{ids['group']}", headers=enrolment.staff,
                                   json={"label": "x", "min_age": 6, "max_age": 8,
                                         "capacity": 0})
    assert r.status_code == 409  # the request holds a place: the change is refused
    r = await enrolment.client.get("/staff/audit", params={"action": "catalogue.groupe_modifie"},
                                   headers=enrolment.staff)
    assert r.json()["items"] == []
    r = await enrolment.client.get("/staff/audit", headers=fam.headers)
    assert r.status_code == 403
    assert (await enrolment.client.get("/staff/audit")).status_code == 401



async def test_parked_outbox_retry_and_dead_letter_replay_are_audited(enrolment, monkeypatch):
    """The chassis tools without a unit of work write their line with the service's engine."""
    import uuid
    from datetime import UTC, datetime

    import httpx
    from fastapi import FastAPI
    from sqlalchemy import insert

    from marelle_chassis import dead_letters
    from marelle_chassis.messaging_tables import outbox_table
    from marelle_contracts.http.platform import DeadLetter
    from tests.support import tokens

    runtime = enrolment.app.state.runtime
    outbox = outbox_table(runtime.metadata)
    async with runtime.engine.begin() as conn:
        row_id = (await conn.execute(insert(outbox).values(
            event_id=uuid.uuid4(), event_type="enrolment.registration_validated",
            topic="marelle.enrolment.v1", key="k", envelope="{}", created_at=datetime.now(UTC),
            attempts=5, last_error="broker down", parked_at=datetime.now(UTC))
            .returning(outbox.c.id))).scalar_one()
    r = await enrolment.client.post(f"/staff/outbox/parked/{row_id}/retry",
                                    headers=enrolment.staff)
    assert r.status_code == 200, r.text
    [line] = (await enrolment.client.get("/staff/audit", params={"action": "outbox."},
                                         headers=enrolment.staff)).json()["items"]
    assert line["target"] == f"outbox:{row_id}" and line["before"]["last_error"] == "broker down"
    assert line["after"] == {"parked": False, "attempts": 0}
    r = await enrolment.client.post(f"/staff/outbox/parked/{row_id}/retry",
                                    headers=enrolment.staff)
    assert r.status_code == 404  # not parked any more: no second line
    assert len((await enrolment.client.get("/staff/audit", params={"action": "outbox."},
                                           headers=enrolment.staff)).json()["items"]) == 1

    parked = DeadLetter(dlq_topic="dlq.t", partition=0, offset=3, parked_at=datetime.now(UTC),
                        original_topic="marelle.identity.v1", original_partition=0,
                        original_offset=9, consumer_group="g", error="boom", attempts=3,
                        event_id="e1", event_type="identity.family_created")

    async def replayed(bootstrap: str, topic: str, partition: int, offset: int) -> DeadLetter:
        return parked

    monkeypatch.setattr(dead_letters, "replay", replayed)  # no broker in these tests
    tool = FastAPI()
    tool.state.token_verifier = tokens.verifier()
    tool.include_router(dead_letters.dead_letter_router(
        "unused:9092", ["dlq.t"], ["g"], runtime.engine, runtime.metadata))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tool),
                                 base_url="http://tool.test") as client:
        r = await client.post("/staff/dead-letters/dlq.t/0/3/replay", headers=enrolment.staff)
    assert r.status_code == 200, r.text
    [line] = (await enrolment.client.get("/staff/audit", params={"action": "message."},
                                         headers=enrolment.staff)).json()["items"]
    assert line["target"] == "dlq:dlq.t/0/3" and line["before"]["error"] == "boom"
    assert line["after"] == {"topic": "marelle.identity.v1"}
