"""Coalesced acknowledgements (PostgreSQL; docs/opening-rush.md): the submissions to a period that
arrive while its last acknowledgement runs are written by ONE statement, with places in line in
their order of arrival; a repeated key or a failed batch is answered exactly as one by one."""

from __future__ import annotations

import asyncio

import pytest

from marelle_booking.db import queue_counter, queue_ticket
from marelle_booking.usecases import tickets
from tests.support import queue as queue_support

from .test_tickets import TUE, decided, families, opening, submit

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


@pytest.fixture
def batches(booking):
    return queue_support.held_batches(booking.app.state.acknowledgements)


async def test_submissions_during_a_statement_share_the_next_one_in_order_of_arrival(
        booking, batches):
    period = await opening(booking, capacity=3)
    regs = await families(booking, period, 10)
    batches.hold_for = 10
    first = asyncio.ensure_future(submit(booking, regs[0], [(TUE, "repas")]))
    await queue_support.until(lambda: batches.sizes)
    later = []
    for reg in regs[1:]:  # one after the other, while the first statement runs
        later.append(asyncio.ensure_future(submit(booking, reg, [(TUE, "repas")])))
        await queue_support.until(lambda: batches.waiting == len(later))
    answers = [await first, *await asyncio.gather(*later)]
    assert [a.status_code for a in answers] == [202] * 10, [a.text for a in answers]
    assert batches.sizes == [1, 9]
    assert [a.json()["position"] for a in answers] == list(range(1, 11))
    [counter] = await booking.rows(queue_counter, queue_counter.c.resource_id == period.id)
    assert counter.issued == 10
    final = [await decided(booking, r, a.json()["id"]) for r, a in zip(regs, answers)]
    assert [t["outcomes"][0]["status"] for t in final] == ["reservee"] * 3 + ["liste_attente"] * 7


async def test_a_repeated_key_within_a_batch_or_given_before_is_the_same_ticket(booking, batches):
    period = await opening(booking, capacity=5)
    regs = await families(booking, period, 3)
    before = await submit(booking, regs[2], [(TUE, "repas")], key="cle-deja-donnee")
    assert before.status_code == 202
    batches.sizes.clear()
    batches.hold_for = 4
    answers = await asyncio.gather(
        submit(booking, regs[0], [(TUE, "repas")], key="double-clic-1"),
        submit(booking, regs[0], [(TUE, "repas")], key="double-clic-1"),
        submit(booking, regs[1], [(TUE, "repas")]),
        submit(booking, regs[2], [(TUE, "repas")], key="cle-deja-donnee"))
    assert sum(batches.sizes) == 4 and len(batches.sizes) <= 2, batches.sizes
    codes = [a.status_code for a in answers]
    assert sorted(codes[:2]) == [200, 202] and answers[0].json()["id"] == answers[1].json()["id"]
    assert codes[2] == 202
    assert codes[3] == 200 and answers[3].json()["id"] == before.json()["id"]
    # Three tickets, positions 1..3 without a gap: no repeat took a place in line.
    assert sorted(t.position for t in await booking.rows(queue_ticket)) == [1, 2, 3]
    [counter] = await booking.rows(queue_counter)
    assert counter.issued == 3


async def test_a_failed_batch_leaves_each_submission_to_be_written_alone(booking, batches,
                                                                         monkeypatch):
    """A batch is one statement: when it fails (here: a row PostgreSQL refuses), nothing of it
    was written, and each submission is written alone, with its own answer."""
    period = await opening(booking, capacity=5)
    regs = await families(booking, period, 4)
    real = tickets.json_rows

    def breaking(rows):  # the batch gets a row the statement refuses: not a UUID
        return real([*rows, {**rows[0], "id": "pas-un-uuid"}])

    monkeypatch.setattr(tickets, "json_rows", breaking)
    batches.hold_for = 4
    answers = await asyncio.gather(*(submit(booking, r, [(TUE, "repas")]) for r in regs))
    assert [a.status_code for a in answers] == [202] * 4, [a.text for a in answers]
    assert sorted(a.json()["position"] for a in answers) == [1, 2, 3, 4]
    assert sum(batches.sizes) == 4 and len(batches.sizes) <= 2, batches.sizes
    assert len(await booking.rows(queue_ticket)) == 4
