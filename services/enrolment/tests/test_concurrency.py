"""Every registration transition against its concurrent rivals, through the real HTTP app.

Each scenario runs many trials, each on a fresh group: the two rival calls are started together
(`asyncio.gather`), as a family and a staff member would. After each trial: capacity is never
exceeded, each registration has exactly one outcome, the outbox holds exactly one event per real
change (with the registration's versions 1, 2, 3 … in order), the loser gets a 409 (or an
`ok: false` item in the French batch answers), never a 500.

On PostgreSQL the rivals really run at the same time (row locks, compare-and-set); on SQLite they
queue (BEGIN IMMEDIATE): the same invariants must hold, with fewer trials.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import defaultdict

import pytest
from sqlalchemy import event, select, update

from marelle_chassis.messaging_tables import outbox_table
from marelle_enrolment.db import activity_group, metadata, registration
from marelle_enrolment.usecases import attestations
from services.enrolment.tests.conftest import born_years_ago
from tests.support import tokens

pytestmark = pytest.mark.postgres

HOLDS_A_PLACE = {"en_attente", "validee"}


def trials(database_url: str) -> int:
    return 6 if database_url.startswith("sqlite") else 30


async def outbox(enrolment) -> dict[str, list[tuple[str, int | None]]]:
    """Registration id → [(event type without prefix, aggregate_version)] in outbox order."""
    async with enrolment.app.state.runtime.uow() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata)).order_by("id"))).all()
    out: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for r in rows:
        env = json.loads(r.envelope)
        reg_id = env["payload"].get("registration_id")
        if reg_id and r.event_type.startswith("enrolment.registration_"):
            out[reg_id].append((r.event_type.removeprefix("enrolment.registration_"),
                                env.get("aggregate_version")))
    return out


def kinds(evts: list[tuple[str, int | None]]) -> list[str]:
    return [k for k, _ in evts]


def check_versions(evts: dict[str, list[tuple[str, int | None]]], reg_ids: list[str]) -> None:
    """One version step per event: 1, 2, 3 … in the order they were written."""
    for reg_id in reg_ids:
        assert [v for _, v in evts[reg_id]] == list(range(1, len(evts[reg_id]) + 1)), evts[reg_id]


async def statuses(enrolment, group_id: uuid.UUID) -> dict[str, str]:
    async with enrolment.app.state.runtime.uow() as uow:
        rows = (await uow.session.execute(select(registration.c.id, registration.c.status).where(
            registration.c.group_id == group_id))).all()
    return {str(r.id): r.status for r in rows}


async def new_group(enrolment, period_id: uuid.UUID, capacity: int) -> uuid.UUID:
    r = await enrolment.post("/staff/groups", {"period_id": str(period_id), "label": "6-8 ans",
                                               "min_age": 6, "max_age": 8, "capacity": capacity})
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["id"])


async def ask(enrolment, fam, child: str, group_id: uuid.UUID) -> dict:
    r = await enrolment.request(fam, child, group_id)
    assert r.status_code == 201, r.text
    result = r.json()["results"][0]
    assert result["ok"], result
    return result["registration"]


async def cancel(enrolment, fam, reg: dict):
    return await enrolment.client.post(f"/families/{fam.id}/registrations/{reg['id']}/cancel",
                                       headers=fam.headers)


async def decide(enrolment, reg: dict, validate: bool, agent: tuple[str, ...] = ("manager",)):
    body = {"decisions": [{"registration_id": reg["id"],
                           "decision": "validate" if validate else "refuse",
                           "reason": None if validate else "Dossier incomplet."}]}
    r = await enrolment.client.post("/staff/registrations/decisions", json=body,
                                    headers=tokens.staff(agent))
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


async def promote(enrolment, reg: dict):
    return await enrolment.client.post(f"/staff/registrations/{reg['id']}/promote",
                                       headers=enrolment.staff)


def is_conflict(r) -> bool:
    return (r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
            and bool(r.json()["detail"]))


async def test_cancel_against_staff_decision(enrolment, database_url):
    """Family cancels X while an agent validates (even trials) or refuses (odd) it; W waits."""
    ids = await enrolment.catalogue(validation="structure", promotion="automatique")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=1)
        fam = await enrolment.family(f"CxD{trial}", {"X": born_years_ago(7), "W": born_years_ago(7)})
        x = await ask(enrolment, fam, "X", group)
        w = await ask(enrolment, fam, "W", group)
        assert (x["status"], w["status"]) == ("en_attente", "liste_attente")
        validate = trial % 2 == 0
        cancelled, decided = await asyncio.gather(cancel(enrolment, fam, x),
                                                  decide(enrolment, x, validate))
        assert cancelled.status_code == 204 or is_conflict(cancelled), cancelled.text
        final = await statuses(enrolment, group)
        evts = await outbox(enrolment)
        x_events = kinds(evts[x["id"]])
        assert sum(s in HOLDS_A_PLACE for s in final.values()) <= 1
        if validate:
            # Cancelling a validated registration is allowed: the cancel always wins in the end.
            assert cancelled.status_code == 204
            assert final[x["id"]] == "annulee"
            expected = ["requested", "validated", "cancelled"] if decided["ok"] else [
                "requested", "cancelled"]
        else:
            assert (cancelled.status_code == 204) != decided["ok"], (cancelled.text, decided)
            assert final[x["id"]] == ("refusee" if decided["ok"] else "annulee")
            expected = ["requested", "refused" if decided["ok"] else "cancelled"]
        if not decided["ok"]:
            assert "déjà été traitée" in decided["detail"], decided
        assert x_events == expected
        # The freed place went to W (staff validation: promoted as a pending request), once.
        assert final[w["id"]] == "en_attente"
        assert kinds(evts[w["id"]]) == ["requested", "waitlisted", "promoted"]
        check_versions(evts, [x["id"], w["id"]])


async def test_cancel_against_staff_promotion(enrolment, database_url):
    """A free place, staff promotion: the family cancels B while an agent promotes it."""
    ids = await enrolment.catalogue(validation="automatique", promotion="structure")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=1)
        fam = await enrolment.family(f"CxP{trial}", {"A": born_years_ago(7), "B": born_years_ago(7)})
        a = await ask(enrolment, fam, "A", group)
        b = await ask(enrolment, fam, "B", group)
        assert (await cancel(enrolment, fam, a)).status_code == 204  # nobody promoted yet
        cancelled, promoted = await asyncio.gather(cancel(enrolment, fam, b), promote(enrolment, b))
        assert cancelled.status_code == 204, cancelled.text
        assert promoted.status_code == 204 or is_conflict(promoted), promoted.text
        final = await statuses(enrolment, group)
        assert final[b["id"]] == "annulee"
        evts = await outbox(enrolment)
        assert kinds(evts[b["id"]]) == (
            ["requested", "waitlisted", "promoted", "validated", "cancelled"]
            if promoted.status_code == 204 else ["requested", "waitlisted", "cancelled"])
        check_versions(evts, [a["id"], b["id"]])


async def test_promote_against_promote(enrolment, database_url):
    """One free place; two agents promote (two different requests, or the same one) at once."""
    ids = await enrolment.catalogue(validation="automatique", promotion="structure")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=1)
        fam = await enrolment.family(f"PxP{trial}", {"A": born_years_ago(7), "B": born_years_ago(7),
                                                     "C": born_years_ago(7)})
        a, b, c = [await ask(enrolment, fam, n, group) for n in "ABC"]
        assert (await cancel(enrolment, fam, a)).status_code == 204
        other = c if trial % 2 else b
        first, second = await asyncio.gather(promote(enrolment, b), promote(enrolment, other))
        assert sorted([first.status_code, second.status_code]) == [204, 409], (first.text, second.text)
        assert is_conflict(first if first.status_code == 409 else second)
        final = await statuses(enrolment, group)
        assert sum(s in HOLDS_A_PLACE for s in final.values()) == 1
        evts = await outbox(enrolment)
        assert sum(kinds(evts[r["id"]]).count("promoted") for r in (b, c)) == 1
        check_versions(evts, [a["id"], b["id"], c["id"]])


async def test_cancel_against_automatic_promotion(enrolment, database_url):
    """A (validated) and B (first in line) cancel at once: C must get the place, B stays
    cancelled."""
    ids = await enrolment.catalogue(validation="automatique", promotion="automatique")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=1)
        fam = await enrolment.family(f"CxA{trial}", {"A": born_years_ago(7), "B": born_years_ago(7),
                                                     "C": born_years_ago(7)})
        a, b, c = [await ask(enrolment, fam, n, group) for n in "ABC"]
        assert [r["status"] for r in (a, b, c)] == ["validee", "liste_attente", "liste_attente"]
        first, second = await asyncio.gather(cancel(enrolment, fam, a), cancel(enrolment, fam, b))
        assert (first.status_code, second.status_code) == (204, 204), (first.text, second.text)
        final = await statuses(enrolment, group)
        assert final == {a["id"]: "annulee", b["id"]: "annulee", c["id"]: "validee"}
        evts = await outbox(enrolment)
        assert kinds(evts[a["id"]]) == ["requested", "validated", "cancelled"]
        assert kinds(evts[b["id"]]) in (
            ["requested", "waitlisted", "cancelled"],
            ["requested", "waitlisted", "promoted", "validated", "cancelled"])
        assert kinds(evts[c["id"]]) == ["requested", "waitlisted", "promoted", "validated"]
        check_versions(evts, [a["id"], b["id"], c["id"]])


async def test_two_agents_decide_the_same_request(enrolment, database_url):
    """One agent validates X while another refuses it: exactly one decision stands."""
    ids = await enrolment.catalogue(validation="structure", promotion="automatique")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=1)
        fam = await enrolment.family(f"DxD{trial}", {"X": born_years_ago(7), "W": born_years_ago(7)})
        x = await ask(enrolment, fam, "X", group)
        w = await ask(enrolment, fam, "W", group)
        validated, refused = await asyncio.gather(decide(enrolment, x, True, ("manager",)),
                                                  decide(enrolment, x, False, ("administrator",)))
        assert validated["ok"] != refused["ok"], (validated, refused)
        loser = refused if validated["ok"] else validated
        assert "déjà été traitée" in loser["detail"]
        final = await statuses(enrolment, group)
        evts = await outbox(enrolment)
        if validated["ok"]:
            assert final == {x["id"]: "validee", w["id"]: "liste_attente"}
            assert kinds(evts[x["id"]]) == ["requested", "validated"]
            assert kinds(evts[w["id"]]) == ["requested", "waitlisted"]
        else:
            assert final == {x["id"]: "refusee", w["id"]: "en_attente"}
            assert kinds(evts[x["id"]]) == ["requested", "refused"]
            assert kinds(evts[w["id"]]) == ["requested", "waitlisted", "promoted"]
        check_versions(evts, [x["id"], w["id"]])


async def test_siblings_asked_at_once_for_the_last_place(enrolment, database_url):
    """Two requests at once for one place: two siblings in two requests (even trials), or one
    request duplicated on a sibling against another family's request (odd trials)."""
    ids = await enrolment.catalogue(validation="automatique")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=1)
        fam = await enrolment.family(f"Sib{trial}", {"Léa": born_years_ago(7), "Hugo": born_years_ago(7)})
        if trial % 2 == 0:
            answers = await asyncio.gather(enrolment.request(fam, "Léa", group),
                                           enrolment.request(fam, "Hugo", group))
        else:
            other = await enrolment.family(f"Oth{trial}", {"Max": born_years_ago(7)})
            answers = await asyncio.gather(
                enrolment.request(fam, "Léa", group, duplicate_for=[str(fam.children["Hugo"])]),
                enrolment.request(other, "Max", group))
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        results = [x for a in answers for x in a.json()["results"]]
        assert all(x["ok"] for x in results), results
        regs = [x["registration"] for x in results]
        assert sorted(r["status"] for r in regs) == sorted(
            ["validee"] + ["liste_attente"] * (len(regs) - 1))
        assert sorted(r["waitlist_position"] or 0 for r in regs) == list(range(len(regs)))
        final = await statuses(enrolment, group)
        assert sum(s in HOLDS_A_PLACE for s in final.values()) == 1
        evts = await outbox(enrolment)
        for r in regs:
            assert kinds(evts[r["id"]]) == ["requested", "validated" if r["status"] == "validee"
                                            else "waitlisted"]
        check_versions(evts, [r["id"] for r in regs])


async def test_the_same_request_twice_at_once(enrolment, database_url):
    """A double click (same group), or the same child on two groups of the period at once: one
    registration, the other answer a French refusal, never a 500."""
    ids = await enrolment.catalogue(validation="structure")
    for trial in range(trials(database_url)):
        group = await new_group(enrolment, ids["period"], capacity=5)
        other = group if trial % 2 == 0 else await new_group(enrolment, ids["period"], capacity=5)
        fam = await enrolment.family(f"Twice{trial}", {"Zoé": born_years_ago(7)})
        answers = await asyncio.gather(enrolment.request(fam, "Zoé", group),
                                       enrolment.request(fam, "Zoé", other))
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        results = [a.json()["results"][0] for a in answers]
        assert sorted(x["ok"] for x in results) == [False, True], results
        loser = next(x for x in results if not x["ok"])
        assert "déjà une inscription" in loser["detail"] and loser["registration"] is None
        async with enrolment.app.state.runtime.uow() as uow:
            rows = (await uow.session.execute(select(registration.c.id).where(
                registration.c.child_id == fam.children["Zoé"]))).all()
        assert len(rows) == 1
        evts = await outbox(enrolment)
        assert kinds(evts[str(rows[0].id)]) == ["requested"]
        check_versions(evts, [str(rows[0].id)])


async def test_staff_validation_checks_the_capacity(enrolment):
    """A pending request beyond the capacity (e.g. data from before capacity checks) is not
    validated: the item answers in French, the group stays within its capacity."""
    ids = await enrolment.catalogue(capacity=2, validation="structure")
    fam = await enrolment.family("Cap", {"A": born_years_ago(7), "B": born_years_ago(7)})
    a = await ask(enrolment, fam, "A", ids["group"])
    b = await ask(enrolment, fam, "B", ids["group"])
    async with enrolment.app.state.runtime.uow() as uow:
        await uow.session.execute(update(activity_group).where(
            activity_group.c.id == ids["group"]).values(capacity=1))
        await uow.commit()
    r = await enrolment.post("/staff/registrations/decisions", {"decisions": [
        {"registration_id": a["id"], "decision": "validate"},
        {"registration_id": b["id"], "decision": "validate"}]})
    assert r.status_code == 200
    first, second = r.json()["results"]
    assert first["ok"] is False and "complet" in first["detail"], first
    assert second["ok"] is False and "complet" in second["detail"], second
    # Refusing one frees the group; the other can then be validated.
    assert (await decide(enrolment, a, False))["ok"]
    assert (await decide(enrolment, b, True))["ok"]
    final = await statuses(enrolment, ids["group"])
    assert final == {a["id"]: "refusee", b["id"]: "validee"}


async def test_attestation_races_and_pdf_outside_transactions(enrolment, database_url, monkeypatch):
    """Two requests for an attestation at once: one 201, one 409. Two agents issue it at once:
    one 200, one 409, one event. The PDF is rendered in a worker thread while no database
    connection is held."""
    ids = await enrolment.catalogue(validation="automatique")
    engine = enrolment.app.state.runtime.engine
    seen: list[tuple[bool, int]] = []
    real = attestations.render_pdf

    def spy(**context):
        seen.append((threading.current_thread() is threading.main_thread(),
                     engine.sync_engine.pool.checkedout()))
        return real(**context)

    monkeypatch.setattr(attestations, "render_pdf", spy)
    for trial in range(3):
        fam = await enrolment.family(f"Att{trial}", {"Inès": born_years_ago(7)})
        reg = await ask(enrolment, fam, "Inès", ids["group"])
        path = f"/families/{fam.id}/registrations/{reg['id']}/attestation-requests"
        answers = await asyncio.gather(enrolment.client.post(path, headers=fam.headers),
                                       enrolment.client.post(path, headers=fam.headers))
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        att = next(a for a in answers if a.status_code == 201).json()
        issue = f"/staff/attestation-requests/{att['id']}/issue"
        answers = await asyncio.gather(enrolment.client.post(issue, headers=enrolment.staff),
                                       enrolment.client.post(issue, headers=enrolment.staff))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        assert all(a.status_code == 200 or is_conflict(a) for a in answers)
        async with enrolment.app.state.runtime.uow() as uow:
            rows = (await uow.session.execute(select(outbox_table(metadata)).where(
                outbox_table(metadata).c.event_type == "enrolment.attestation_issued"))).all()
        mine = [json.loads(r.envelope) for r in rows
                if json.loads(r.envelope)["payload"]["attestation_id"] == att["id"]]
        assert [e["aggregate_version"] for e in mine] == [2]
    assert seen and not any(in_main for in_main, _ in seen), seen
    # Alone (no rival holding a connection): while the PDF renders, no connection is held.
    seen.clear()
    fam = await enrolment.family("Seul", {"Inès": born_years_ago(7)})
    reg = await ask(enrolment, fam, "Inès", ids["group"])
    att = (await enrolment.client.post(
        f"/families/{fam.id}/registrations/{reg['id']}/attestation-requests",
        headers=fam.headers)).json()
    r = await enrolment.client.post(f"/staff/attestation-requests/{att['id']}/issue",
                                    headers=enrolment.staff)
    assert r.status_code == 200 and r.json()["status"] == "delivree"
    assert seen == [(False, 0)]


async def test_listings_run_a_fixed_number_of_queries(enrolment):
    """A family's listing, the staff queue and a waiting list cost the same number of SQL
    statements for 1 and for 20 waitlisted rows (1, 2 and 3 statements on PostgreSQL: the positions
    come with the rows; SQLite adds its BEGIN IMMEDIATE)."""
    small = await enrolment.catalogue(capacity=0, validation="automatique")
    big = await enrolment.catalogue(capacity=0, validation="automatique")
    one = await enrolment.family("Un", {"Solo": born_years_ago(7)})
    many = await enrolment.family("Vingt", {f"E{i:02}": born_years_ago(7) for i in range(20)})
    await ask(enrolment, one, "Solo", small["group"])
    for child in many.children:
        await ask(enrolment, many, child, big["group"])

    # The opening queue's decider polls the same engine in the background: not a page's cost.
    await enrolment.app.state.decider.stop()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = enrolment.app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async def cost(path: str, headers: dict, size: int) -> int:
            statements.clear()
            r = await enrolment.client.get(path, headers=headers)
            assert r.status_code == 200, r.text
            body = r.json()
            items = body["items"]
            assert len(items) == size
            positions = [i["waitlist_position"] for i in items]
            assert sorted(positions) == list(range(1, size + 1))
            return len(statements)

        family_cost = [await cost(f"/families/{f.id}/registrations", f.headers, n)
                       for f, n in ((one, 1), (many, 20))]
        queue_cost = [await cost(f"/staff/registrations?status=liste_attente&group_id={g['group']}",
                                 enrolment.staff, n) for g, n in ((small, 1), (big, 20))]
        list_cost = [await cost(f"/staff/groups/{g['group']}/waiting-list", enrolment.staff, n)
                     for g, n in ((small, 1), (big, 20))]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert family_cost[0] == family_cost[1]
    assert queue_cost[0] == queue_cost[1]
    assert list_cost[0] == list_cost[1]
    extra = 1 if enrolment.app.state.runtime.engine.dialect.name == "sqlite" else 0
    assert (family_cost[0], queue_cost[0], list_cost[0]) == (1 + extra, 2 + extra, 3 + extra)


async def test_period_versions_grow_with_every_change_even_at_once(enrolment, database_url):
    """period_published is version 1; every change to the period or to one of its groups takes
    the next version, also when agents change two groups of the period at the same moment."""
    ids = await enrolment.catalogue()
    second = await new_group(enrolment, ids["period"], capacity=3)
    body = {"label": "6-8 ans", "min_age": 6, "max_age": 8}
    answers = await asyncio.gather(
        enrolment.client.put(f"/staff/groups/{ids['group']}", json={**body, "capacity": 20},
                             headers=enrolment.staff),
        enrolment.client.put(f"/staff/groups/{second}", json={**body, "capacity": 4},
                             headers=enrolment.staff),
        enrolment.client.post(f"/staff/periods/{ids['period']}/close", headers=enrolment.staff))
    assert [a.status_code for a in answers] == [204, 204, 204], [a.text for a in answers]
    async with enrolment.app.state.runtime.uow() as uow:
        rows = (await uow.session.execute(select(outbox_table(metadata)).where(
            outbox_table(metadata).c.key == str(ids["period"])).order_by("id"))).all()
    envelopes = [json.loads(r.envelope) for r in rows]
    assert [e["event_type"] for e in envelopes] == ["enrolment.period_published"] + [
        "enrolment.period_changed"] * 5
    assert [e["aggregate_version"] for e in envelopes] == [1, 2, 3, 4, 5, 6]
    last = envelopes[-1]["payload"]
    assert last["closed"] is True
    assert sorted(g["capacity"] for g in last["groups"]) == [4, 20]


async def test_sibling_request_reports_every_child_on_database_errors(enrolment, monkeypatch):
    """A deadlock on one child's transaction is retried; a database error that is not a race
    ends that child's attempt with a French outcome; the other children are still reported."""
    from sqlalchemy.exc import OperationalError

    from marelle_enrolment.usecases import registrations

    class Deadlock(Exception):
        sqlstate = "40P01"

    ids = await enrolment.catalogue(validation="automatique")
    fam = await enrolment.family("Err", {"Un": born_years_ago(7), "Deux": born_years_ago(7),
                                         "Trois": born_years_ago(7)})
    calls: dict[uuid.UUID, int] = defaultdict(int)
    real = registrations._request_one

    async def flaky(uow, family_id, child_id, *args):
        calls[child_id] += 1
        if child_id == fam.children["Deux"] and calls[child_id] <= 2:
            raise OperationalError("INSERT …", {}, Deadlock("deadlock detected"))
        if child_id == fam.children["Trois"]:
            raise OperationalError("INSERT …", {}, Exception("connection lost"))
        return await real(uow, family_id, child_id, *args)

    monkeypatch.setattr(registrations, "_request_one", flaky)
    r = await enrolment.request(fam, "Un", ids["group"], duplicate_for=[
        str(fam.children["Deux"]), str(fam.children["Trois"])])
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert [x["ok"] for x in results] == [True, True, False]
    assert calls[fam.children["Deux"]] == 3
    assert "incident technique" in results[2]["detail"] and results[2]["registration"] is None
