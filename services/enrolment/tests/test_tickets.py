"""The opening queue (docs/opening-rush.md): tickets acknowledged at once with their place in line,
decided in arrival order per group, a repeat of the key never a second place."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from marelle_chassis.decider import Decider
from marelle_chassis.messaging_tables import outbox_table
from marelle_enrolment.db import metadata, queue_counter, queue_ticket, registration
from marelle_enrolment.usecases import tickets
from tests.support import queue as queue_support
from tests.support.queue import caught_up

from .conftest import born_years_ago


async def submit(enrolment, family, group_id, children, key=None, **extra):
    return await enrolment.client.post(
        f"/families/{family.id}/tickets",
        json={"group_id": str(group_id), "child_ids": [str(family.children[c]) for c in children],
              **extra},
        headers={**family.headers, "Idempotency-Key": key or uuid.uuid4().hex})


async def settled(enrolment, family, ticket_id, timeout=15.0):
    """The ticket once decided (the app's own decider runs in the background)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        r = await enrolment.client.get(f"/families/{family.id}/tickets/{ticket_id}",
                                       headers=family.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == "traite":
            return r.json()
        assert asyncio.get_running_loop().time() < deadline, r.json()
        await asyncio.sleep(0.05)


async def test_tickets_are_decided_in_the_order_they_were_acknowledged(enrolment):
    ids = await enrolment.catalogue(capacity=3, validation="automatique")
    families = [await enrolment.family(f"F{i}", {"Enfant": born_years_ago(7)}) for i in range(10)]
    answers = await asyncio.gather(*(submit(enrolment, f, ids["group"], ["Enfant"])
                                     for f in families))
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    positions = [a.json()["position"] for a in answers]
    assert sorted(positions) == list(range(1, 11))  # one place in line each, no gap, no twin
    assert all(a.json()["status"] == "en_file" and a.json()["outcomes"] == [] for a in answers)
    decided = [await settled(enrolment, f, a.json()["id"]) for f, a in zip(families, answers)]
    by_position = sorted(decided, key=lambda t: t["position"])
    statuses = [t["outcomes"][0]["status"] for t in by_position]
    assert statuses == ["validee"] * 3 + ["liste_attente"] * 7
    # The waiting list follows the order of arrival too.
    assert [t["outcomes"][0]["detail"].rsplit(" ", 1)[-1] for t in by_position[3:]] == \
        [f"{n}." for n in range(1, 8)]
    assert all(t["ahead"] == 0 for t in decided)


async def test_the_same_key_gives_back_the_same_ticket_and_never_a_second_place(enrolment):
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    family = await enrolment.family("Martin", {"Léa": born_years_ago(7)})
    # Double click: the two submissions race with the same key.
    first, second = await asyncio.gather(
        submit(enrolment, family, ids["group"], ["Léa"], key="cle-unique-123"),
        submit(enrolment, family, ids["group"], ["Léa"], key="cle-unique-123"))
    assert sorted([first.status_code, second.status_code]) == [200, 202]
    assert first.json()["id"] == second.json()["id"]
    ticket = await settled(enrolment, family, first.json()["id"])
    # A refresh after the decision: the same ticket, with its outcome.
    again = await submit(enrolment, family, ids["group"], ["Léa"], key="cle-unique-123")
    assert again.status_code == 200 and again.json()["outcomes"] == ticket["outcomes"]
    async with enrolment.app.state.runtime.uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(registration).where(
            registration.c.child_id == family.children["Léa"]))
        tickets_count = await uow.session.scalar(select(func.count()).select_from(queue_ticket))
        # The losing submission's write failed whole: it took no place in line.
        issued = await uow.session.scalar(select(queue_counter.c.issued).where(
            queue_counter.c.group_id == ids["group"]))
    assert (count, tickets_count, issued) == (1, 1, 1)
    listed = await enrolment.client.get(f"/families/{family.id}/tickets", headers=family.headers)
    assert [t["id"] for t in listed.json()["items"]] == [ticket["id"]]


async def test_brothers_and_sisters_take_the_rest_or_all_or_nothing(enrolment):
    ids = await enrolment.catalogue(capacity=1, validation="automatique")
    together = await enrolment.family("Durand", {"Léo": born_years_ago(7), "Zoé": born_years_ago(7)})
    r = await submit(enrolment, together, ids["group"], ["Léo", "Zoé"], if_some_full="tout_ou_rien")
    ticket = await settled(enrolment, together, r.json()["id"])
    assert [o["status"] for o in ticket["outcomes"]] == ["liste_attente", "liste_attente"]
    rest = await enrolment.family("Petit", {"Ana": born_years_ago(7), "Noé": born_years_ago(7)})
    r = await submit(enrolment, rest, ids["group"], ["Ana", "Noé"])
    ticket = await settled(enrolment, rest, r.json()["id"])
    assert [(o["label"], o["status"]) for o in ticket["outcomes"]] == [
        ("Ana", "validee"), ("Noé", "liste_attente")]


async def test_a_doomed_submission_is_refused_at_once_in_french(enrolment):
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    family = await enrolment.family("Roux", {"Bébé": born_years_ago(2)})
    r = await submit(enrolment, family, ids["group"], ["Bébé"])
    assert r.status_code == 422 and "accueille les enfants de 6 à 8 ans" in r.json()["detail"]
    r = await enrolment.client.post(f"/families/{family.id}/tickets", headers=family.headers,
                                    json={"group_id": str(ids["group"]),
                                          "child_ids": [str(family.children["Bébé"])]})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    later = await enrolment.catalogue(opens_in=timedelta(hours=2), validation="automatique")
    grown = await enrolment.family("Blanc", {"Lou": born_years_ago(7)})
    r = await submit(enrolment, grown, later["group"], ["Lou"])
    assert r.status_code == 422 and "ne sont pas encore ouvertes" in r.json()["detail"]
    other = await enrolment.family("Noir", {"Max": born_years_ago(7)})
    r = await enrolment.client.post(
        f"/families/{family.id}/tickets", headers={**family.headers, "Idempotency-Key": "k" * 10},
        json={"group_id": str(ids["group"]), "child_ids": [str(other.children["Max"])]})
    assert r.status_code == 404
    async with enrolment.app.state.runtime.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(queue_ticket)) == 0
        # No refusal took a place in line either (on PostgreSQL the checks and the write are
        # one statement: its refusals must write nothing).
        assert await uow.session.scalar(select(func.count()).select_from(queue_counter)) == 0
    r = await submit(enrolment, family, ids["group"], ["Bébé"])
    assert r.status_code == 422  # and asked again, still refused (nothing left behind)


async def test_one_child_of_the_groups_ages_is_enough_for_a_ticket(enrolment):
    """The one-statement acknowledgement lets a family in when ONE child may take a place; the
    decision then refuses the other child, in French."""
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    family = await enrolment.family("Morel", {"Léo": born_years_ago(7), "Bébé": born_years_ago(2)})
    r = await submit(enrolment, family, ids["group"], ["Léo", "Bébé"])
    assert r.status_code == 202, r.text
    ticket = await settled(enrolment, family, r.json()["id"])
    assert [(o["label"], o["status"]) for o in ticket["outcomes"]] == [
        ("Léo", "validee"), ("Bébé", "refusee")]
    assert "accueille les enfants de 6 à 8 ans" in ticket["outcomes"][1]["detail"]


async def test_the_ages_are_judged_to_the_day_at_the_periods_start(enrolment, hot_statements):
    """A child turning 9 on the first day of a 6-8 group's period is refused at once; one
    turning 6 that day gets a ticket (the same day as `age_on`, whichever path judges it)."""
    start = date(2028, 2, 29)
    ids = await enrolment.catalogue(capacity=5, validation="automatique", start=start)
    too_old = await enrolment.family("Bon", {"Lou": date(2019, 2, 28)})  # 9 on 29/02/2028
    r = await submit(enrolment, too_old, ids["group"], ["Lou"])
    assert r.status_code == 422 and "aura alors 9 ans" in r.json()["detail"], r.text
    still_8 = await enrolment.family("Vidal", {"Lou": date(2019, 3, 1)})
    just_6 = await enrolment.family("Henry", {"Tom": date(2022, 2, 28)})  # 6 on 29/02/2028
    assert (await submit(enrolment, still_8, ids["group"], ["Lou"])).status_code == 202
    hot_statements.clear()
    assert (await submit(enrolment, just_6, ids["group"], ["Tom"])).status_code == 202
    if _postgres(enrolment):  # the statement's own test of the ages let Tom in
        assert hot_statements == ["WITH"]
    too_young = await enrolment.family("Caron", {"Tim": date(2022, 3, 1)})
    r = await submit(enrolment, too_young, ids["group"], ["Tim"])
    assert r.status_code == 422 and "aura alors 5 ans" in r.json()["detail"], r.text


@pytest.fixture
def hot_statements(monkeypatch):
    return queue_support.hot_statements(monkeypatch)


async def test_an_ordinary_submission_is_one_statement_on_postgresql(enrolment, hot_statements):
    """The rush to all: on PostgreSQL the household's checks and the ticket are one round trip
    (bench/rush.py: each round trip cost the service more CPU than PostgreSQL's work); on SQLite
    the reads and the two writes of one unit of work."""
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    family = await enrolment.family("Faure", {"Léo": born_years_ago(7)})
    r = await submit(enrolment, family, ids["group"], ["Léo"])
    assert r.status_code == 202 and r.json()["position"] == 1, r.text
    assert hot_statements == (["WITH"] if _postgres(enrolment) else ["SELECT", "INSERT", "INSERT"])


def _postgres(enrolment) -> bool:
    return enrolment.app.state.runtime.engine.dialect.name == "postgresql"


async def test_submissions_wait_while_too_many_tickets_are_undecided(enrolment):
    """ENROLMENT_QUEUE_MAX_BACKLOG: with two tickets undecided, the third submission waits
    (bounded) before taking its place, in arrival order; once decided, no wait."""
    app = enrolment.app
    await app.state.decider.stop()
    runtime = app.state.runtime
    decider = Decider("bounded", lambda: tickets.decide_once(runtime.uow), poll_seconds=0.05,
                      max_backlog=2, admission_wait=0.4)
    app.state.decider = decider  # not started yet: nothing is decided
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    families = [await enrolment.family(f"W{i}", {"Enfant": born_years_ago(7)}) for i in range(4)]
    waited = []
    for f in families[:3]:
        started = time.monotonic()
        answer = await submit(enrolment, f, ids["group"], ["Enfant"])
        waited.append(time.monotonic() - started)
        assert answer.status_code == 202, answer.text
    assert waited[0] < 0.3 and waited[1] < 0.3 and waited[2] >= 0.4, waited
    decider.start()
    try:
        await caught_up(decider)
        started = time.monotonic()
        last = await submit(enrolment, families[3], ids["group"], ["Enfant"])
        assert time.monotonic() - started < 0.3
        assert last.status_code == 202 and last.json()["position"] == 4
        settled_ = await settled(enrolment, families[3], last.json()["id"])
        assert settled_["outcomes"][0]["status"] == "validee"
    finally:
        await decider.stop()


async def test_two_deciders_at_once_decide_each_ticket_once_and_never_overbook(enrolment):
    app = enrolment.app
    await app.state.decider.stop()  # the test drives the deciders itself
    ids = await enrolment.catalogue(capacity=4, validation="automatique")
    families = [await enrolment.family(f"G{i}", {"Enfant": born_years_ago(7)}) for i in range(30)]
    for f in families:
        assert (await submit(enrolment, f, ids["group"], ["Enfant"])).status_code == 202
    runtime = app.state.runtime

    async def drain() -> int:
        total = 0
        while n := await tickets.decide_once(runtime.uow, batch=7):
            total += n
        return total

    decided = await asyncio.gather(drain(), drain())
    assert sum(decided) == 30
    async with runtime.uow() as uow:
        rows = (await uow.session.execute(select(registration.c.status, func.count()).where(
            registration.c.group_id == ids["group"]).group_by(registration.c.status))).all()
        events = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
    assert dict(rows) == {"validee": 4, "liste_attente": 26}
    # Each registration: requested (version 1) then validated or waitlisted (version 2).
    by_reg: dict[str, list[tuple[str, int]]] = {}
    for e in events:
        env = json.loads(e.envelope)
        if env["event_type"].startswith("enrolment.registration_"):
            by_reg.setdefault(env["key"], []).append(
                (env["event_type"], env["aggregate_version"]))
    assert len(by_reg) == 30
    assert all(v[0] == ("enrolment.registration_requested", 1) and v[1][1] == 2 and len(v) == 2
               for v in by_reg.values())


async def test_staff_watch_the_opening_live(enrolment):
    ids = await enrolment.catalogue(capacity=2, validation="automatique")
    families = [await enrolment.family(f"H{i}", {"Enfant": born_years_ago(7)}) for i in range(5)]
    answers = [await submit(enrolment, f, ids["group"], ["Enfant"]) for f in families]
    for f, a in zip(families, answers):
        await settled(enrolment, f, a.json()["id"])
    r = await enrolment.client.get(f"/staff/openings/{ids['period']}", headers=enrolment.staff)
    assert r.status_code == 200, r.text
    (group,) = r.json()["resources"]
    assert {k: group[k] for k in ("capacity", "received", "decided", "places_left", "waitlisted")} \
        == {"capacity": 2, "received": 5, "decided": 5, "places_left": 0, "waitlisted": 3}
    parent = await enrolment.client.get(f"/staff/openings/{ids['period']}",
                                        headers=families[0].headers)
    assert parent.status_code == 403


async def test_a_family_sees_the_openings_it_can_prepare_a_request_for(enrolment):
    soon = await enrolment.catalogue(opens_in=timedelta(hours=3), validation="automatique")
    family = await enrolment.family("Faure", {"Lou": born_years_ago(7), "Bébé": born_years_ago(2)})
    r = await enrolment.client.get(f"/families/{family.id}/openings", headers=family.headers)
    assert r.status_code == 200, r.text
    (opening,) = [o for o in r.json()["items"] if o["period_id"] == str(soon["period"])]
    assert opening["open_now"] is False
    (group,) = opening["groups"]
    assert group["child_ids"] == [str(family.children["Lou"])]  # Bébé is too young


async def test_listings_served_without_a_second_validation_keep_the_models_shape(enrolment):
    """The waiting list and a family's registrations skip pydantic's response validation (speed
    at an opening): their JSON must still be exactly what the declared model would send."""
    from marelle_contracts.http import enrolment as E

    ids = await enrolment.catalogue(capacity=1, validation="automatique")
    families = [await enrolment.family(f"W{i}", {"Enfant": born_years_ago(7)}) for i in range(3)]
    for f in families:
        await settled(enrolment, f, (await submit(enrolment, f, ids["group"], ["Enfant"],
                                                  memo="Allergie : arachide")).json()["id"])
    waiting = await enrolment.client.get(f"/staff/groups/{ids['group']}/waiting-list",
                                         headers=enrolment.staff)
    mine = await enrolment.client.get(f"/families/{families[0].id}/registrations",
                                      headers=families[0].headers)
    for response, model in ((waiting, E.WaitingList), (mine, E.Registrations)):
        assert response.status_code == 200
        body = response.json()
        assert body == model.model_validate(body).model_dump(mode="json"), model
    assert [i["waitlist_position"] for i in waiting.json()["items"]] == [1, 2]


async def test_submissions_arriving_while_the_group_is_read_wait_for_that_one_read(
        enrolment, monkeypatch):
    """The catalogue cache at an opening: when its rows are due, the submissions in flight
    share one read of the group (each reading it again was a tenth of the service's CPU in
    bench/rush.py); a read that fails fails them all, and the next one reads again."""
    ids = await enrolment.catalogue(capacity=50, validation="automatique")
    families = [await enrolment.family(f"L{i}", {"Enfant": born_years_ago(7)}) for i in range(20)]
    reads = []
    real_group_row = tickets.group_row

    async def counted(uow, group_id):
        reads.append(group_id)
        await asyncio.sleep(0.05)  # a read that takes a moment, as under load
        return await real_group_row(uow, group_id)

    monkeypatch.setattr(tickets, "group_row", counted)
    cache = enrolment.app.state.catalogue_cache
    cache._values.clear()
    answers = await asyncio.gather(*(submit(enrolment, f, ids["group"], ["Enfant"])
                                     for f in families))
    assert [a.status_code for a in answers] == [202] * 20
    assert reads == [ids["group"]], "one read for the twenty submissions"

    cache._values.clear()
    unknown = uuid.uuid4()
    failing = await asyncio.gather(*(cache.get(enrolment.app.state.runtime.uow, unknown)
                                     for _ in range(3)), return_exceptions=True)
    assert all(type(f).__name__ == "NotFound" for f in failing) and reads.count(unknown) == 1
    await cache.get(enrolment.app.state.runtime.uow, ids["group"])
    assert reads.count(ids["group"]) == 2
