"""Coalesced acknowledgements (PostgreSQL; docs/opening-rush.md): the submissions to a group that
arrive while its last acknowledgement runs are written by ONE statement, with places in line
in their order of arrival; a refusal, a repeated key or a failed batch is answered exactly as
one by one."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from marelle_enrolment.db import queue_counter, queue_ticket
from marelle_enrolment.usecases import tickets
from tests.support import queue as queue_support

from .conftest import born_years_ago
from .test_tickets import settled, submit

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def batches(enrolment):
    return queue_support.held_batches(enrolment.app.state.acknowledgements)


async def rows(enrolment, statement):
    async with enrolment.app.state.runtime.uow() as uow:
        return (await uow.session.execute(statement)).all()


async def test_submissions_during_a_statement_share_the_next_one_in_order_of_arrival(
        enrolment, batches):
    ids = await enrolment.catalogue(capacity=3, validation="automatique")
    families = [await enrolment.family(f"C{i}", {"Enfant": born_years_ago(7)}) for i in range(12)]
    batches.hold_for = 12
    first = asyncio.ensure_future(submit(enrolment, families[0], ids["group"], ["Enfant"]))
    await queue_support.until(lambda: batches.sizes)
    # The others arrive one after the other while the first statement runs.
    later = []
    for f in families[1:]:
        later.append(asyncio.ensure_future(submit(enrolment, f, ids["group"], ["Enfant"])))
        await queue_support.until(lambda: batches.waiting == len(later))
    answers = [await first, *await asyncio.gather(*later)]
    assert [a.status_code for a in answers] == [202] * 12, [a.text for a in answers]
    assert batches.sizes == [1, 11]  # two statements for twelve submissions
    # Places in line in order of arrival, no gap, no twin; the counter bumped by all of them.
    assert [a.json()["position"] for a in answers] == list(range(1, 13))
    assert await rows(enrolment, select(queue_counter.c.issued)) == [(12,)]
    stored = await rows(enrolment, select(queue_ticket.c.position, queue_ticket.c.received_at)
                        .order_by(queue_ticket.c.position))
    assert [at for _, at in stored] == sorted(at for _, at in stored)
    # Decided in that order: the first three take the places.
    decided = [await settled(enrolment, f, a.json()["id"]) for f, a in zip(families, answers)]
    assert [t["outcomes"][0]["status"] for t in decided] == ["validee"] * 3 + ["liste_attente"] * 9


async def test_a_refusal_or_a_repeated_key_within_a_batch_is_answered_as_one_by_one(
        enrolment, batches):
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    ok = [await enrolment.family(f"B{i}", {"Enfant": born_years_ago(7)}) for i in range(3)]
    baby = await enrolment.family("Bébé", {"Bébé": born_years_ago(2)})
    given = await enrolment.family("Déjà", {"Lou": born_years_ago(7)})
    r = await submit(enrolment, given, ids["group"], ["Lou"], key="cle-deja-donnee")
    assert r.status_code == 202
    already = r.json()
    batches.sizes.clear()
    batches.hold_for = 6
    answers = await asyncio.gather(
        submit(enrolment, ok[0], ids["group"], ["Enfant"]),
        submit(enrolment, ok[1], ids["group"], ["Enfant"], key="double-clic-1"),
        submit(enrolment, baby, ids["group"], ["Bébé"]),
        submit(enrolment, ok[1], ids["group"], ["Enfant"], key="double-clic-1"),
        submit(enrolment, given, ids["group"], ["Lou"], key="cle-deja-donnee"),
        submit(enrolment, ok[2], ids["group"], ["Enfant"]))
    # One statement for all six, or two when the first went before the others arrived.
    assert sum(batches.sizes) == 6 and len(batches.sizes) <= 2, batches.sizes
    codes = [a.status_code for a in answers]
    # The refusal in French, as alone; the double click: one ticket, the second a repeat; the
    # key given before: its ticket back.
    assert codes[2] == 422 and "accueille les enfants de 6 à 8 ans" in answers[2].json()["detail"]
    assert sorted([codes[1], codes[3]]) == [200, 202]
    assert answers[1].json()["id"] == answers[3].json()["id"]
    assert codes[4] == 200 and answers[4].json()["id"] == already["id"]
    assert codes[0] == codes[5] == 202
    # Four tickets in all, positions 1..4 without a gap: nothing refused or repeated took one.
    positions = sorted(p for (p,) in await rows(enrolment, select(queue_ticket.c.position)))
    assert positions == [1, 2, 3, 4]
    assert await rows(enrolment, select(queue_counter.c.issued)) == [(4,)]


async def test_a_failed_batch_leaves_each_submission_to_be_written_alone(enrolment, batches,
                                                                         monkeypatch, caplog):
    """A batch is one statement: when it fails (here: a row PostgreSQL refuses), nothing of it
    was written, and each submission goes the one-by-one way, with its own answer."""
    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    families = [await enrolment.family(f"E{i}", {"Enfant": born_years_ago(7)}) for i in range(4)]
    real = tickets._write_if_allowed

    async def breaking(db, key, items):  # a batch gets a row the statement refuses: not a UUID
        asked = len(items)
        if asked > 1:
            items = [*items, ({**items[0][0], "id": "pas-un-uuid"}, items[0][1])]
        return (await real(db, key, items))[:asked]

    monkeypatch.setattr(tickets, "_write_if_allowed", breaking)
    batches.hold_for = 4
    answers = await asyncio.gather(*(submit(enrolment, f, ids["group"], ["Enfant"])
                                     for f in families))
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    assert sorted(a.json()["position"] for a in answers) == [1, 2, 3, 4]
    assert sum(batches.sizes) == 4 and len(batches.sizes) <= 2, batches.sizes
    assert "failed; done one by one" in caplog.text
    count = await rows(enrolment, select(func.count()).select_from(queue_ticket))
    assert count == [(4,)]


async def test_each_group_has_its_own_statements(enrolment, batches):
    first = await enrolment.catalogue(capacity=5, validation="automatique")
    second = await enrolment.catalogue(capacity=5, validation="automatique")
    families = [await enrolment.family(f"G{i}", {"Enfant": born_years_ago(7)}) for i in range(4)]
    answers = await asyncio.gather(*(
        submit(enrolment, f, (first if i % 2 else second)["group"], ["Enfant"])
        for i, f in enumerate(families)))
    assert [a.status_code for a in answers] == [202] * 4
    by_group = {}
    for i, a in enumerate(answers):
        by_group.setdefault(i % 2, []).append(a.json()["position"])
    assert sorted(by_group[0]) == sorted(by_group[1]) == [1, 2]
    counters = await rows(enrolment, select(queue_counter.c.group_id, queue_counter.c.issued))
    assert sorted(n for _, n in counters) == [2, 2]
    assert {g for g, _ in counters} == {first["group"], second["group"]}


async def test_a_key_committed_by_a_rival_during_the_batch_is_a_repeat_and_costs_no_place(
        enrolment, batches, caplog):
    """Another process writes a family's key after the batch's statement began (it read the key
    as free): the batch meets the unique index and fails whole; the family gets the rival's
    ticket back (200), the others their places in line, without a gap."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, text

    ids = await enrolment.catalogue(capacity=5, validation="automatique")
    rival_family, *others = [await enrolment.family(f"R{i}", {"Enfant": born_years_ago(7)})
                             for i in range(3)]
    engine = enrolment.app.state.runtime.engine
    rival_id = uuid.uuid4()
    async with engine.connect() as rival:
        await rival.begin()  # not committed yet: the batch's INSERT waits for it
        await rival.execute(insert(queue_ticket).values(
            id=rival_id, family_id=rival_family.id, idempotency_key="cle-concurrente",
            group_id=ids["group"], period_id=ids["period"], position=999, child_ids="[]",
            typical_week="[]", memo="", if_some_full="prendre_le_reste", status="traite",
            received_at=datetime.now(UTC), decided_at=datetime.now(UTC), outcomes="[]"))
        batches.hold_for = 3
        answers = asyncio.gather(
            submit(enrolment, rival_family, ids["group"], ["Enfant"], key="cle-concurrente"),
            *(submit(enrolment, f, ids["group"], ["Enfant"]) for f in others))

        async def blocked() -> bool:
            async with engine.connect() as probe:
                return bool(await probe.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")))

        answers = asyncio.ensure_future(answers)
        deadline = asyncio.get_running_loop().time() + 5
        while not await blocked():
            assert asyncio.get_running_loop().time() < deadline and not answers.done()
            await asyncio.sleep(0.02)
        await rival.commit()
    again, *fresh = await answers
    assert again.status_code == 200 and again.json()["id"] == str(rival_id), again.text
    assert [a.status_code for a in fresh] == [202, 202]
    assert sorted(a.json()["position"] for a in fresh) == [1, 2]
    assert await rows(enrolment, select(queue_counter.c.issued)) == [(2,)]
    assert batches.sizes[0] == 3  # one batch, which failed; then the one-by-one way
    assert "a batch of 3 failed" in caplog.text
