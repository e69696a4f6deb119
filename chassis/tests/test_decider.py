"""The opening queue's decider loop: a burst of submissions is decided in few batches when the
decider lingers, nothing notified is left undecided, and a stop is prompt whatever the loop is
doing (an app's shutdown must not wait for the poll interval); admission keeps the backlog
of acknowledged, undecided items within its bound, for a bounded wait."""

from __future__ import annotations

import asyncio
import time

from marelle_chassis.decider import Decider


class Queue:
    """Queued items; each `decide_once` call is one batch (one transaction in the services)."""

    def __init__(self) -> None:
        self.waiting = 0
        self.batches: list[int] = []

    async def decide_once(self) -> int:
        count, self.waiting = self.waiting, 0
        if count:
            self.batches.append(count)
        return count


async def _burst(queue: Queue, decider: Decider, items: int) -> None:
    for _ in range(items):
        queue.waiting += 1
        decider.notify()
        await asyncio.sleep(0.001)  # submissions a millisecond apart


async def _decided_burst(linger: float, items: int = 40) -> list[int]:
    """The batches a decider made of `items` notified a millisecond apart."""
    queue = Queue()
    decider = Decider("test", queue.decide_once, poll_seconds=3600, linger_seconds=linger)
    decider.start()
    try:
        await _burst(queue, decider, items)
        for _ in range(100):
            if sum(queue.batches) == items:
                break
            await asyncio.sleep(0.02)
    finally:
        await decider.stop(grace=5)
    assert sum(queue.batches) == items, "every notified item decided"
    return queue.batches


async def test_a_lingering_decider_takes_a_burst_in_a_few_batches():
    batches = await _decided_burst(linger=0.05)
    assert len(batches) <= 6, batches


async def test_without_lingering_each_wake_is_its_own_batch():
    batches = await _decided_burst(linger=0.0)
    assert len(batches) > 20, batches


async def test_a_stop_while_lingering_or_idle_is_prompt():
    queue = Queue()
    decider = Decider("test", queue.decide_once, poll_seconds=3600, linger_seconds=0.2)
    decider.start()
    await asyncio.sleep(0.05)  # lingering before its first batch
    started = time.monotonic()
    await decider.stop(grace=5)
    assert time.monotonic() - started < 1.0
    decider.start()
    await asyncio.sleep(0.5)  # idle, waiting for a notification for up to an hour
    started = time.monotonic()
    await decider.stop(grace=5)
    assert time.monotonic() - started < 1.0


class SlowQueue(Queue):
    """A decider slower than the submissions: at most `per_batch` items per 30 ms batch."""

    def __init__(self, per_batch: int = 2, stuck: bool = False) -> None:
        super().__init__()
        self.per_batch, self.stuck = per_batch, stuck

    async def decide_once(self) -> int:
        await asyncio.sleep(0.03)
        if self.stuck:
            raise RuntimeError("the database is gone")
        count = min(self.waiting, self.per_batch)
        self.waiting -= count
        if count:
            self.batches.append(count)
        return count


async def _submit_all(queue: Queue, decider: Decider, items: int) -> list[int]:
    """Submissions one after another, each admitted first; the backlog each one found."""
    seen = []
    for _ in range(items):
        await decider.admit()
        seen.append(decider.backlog)
        queue.waiting += 1
        decider.notify()
    return seen


async def test_admission_keeps_the_backlog_within_its_bound():
    queue = SlowQueue()
    decider = Decider("test", queue.decide_once, poll_seconds=3600, max_backlog=5,
                      admission_wait=5.0)
    decider.start()
    try:
        seen = await _submit_all(queue, decider, 30)
        for _ in range(200):
            if sum(queue.batches) == 30:
                break
            await asyncio.sleep(0.02)
    finally:
        await decider.stop(grace=5)
    assert max(seen) < 5, seen
    assert sum(queue.batches) == 30


async def test_without_admission_the_backlog_grows_with_the_submissions():
    queue = SlowQueue()
    decider = Decider("test", queue.decide_once, poll_seconds=3600)
    decider.start()
    try:
        seen = await _submit_all(queue, decider, 30)
    finally:
        await decider.stop(grace=5)
    assert max(seen) >= 25, seen


async def test_admission_waits_a_bounded_time_when_nothing_is_decided():
    queue = SlowQueue(stuck=True)  # every batch fails: the backlog never shrinks
    decider = Decider("test", queue.decide_once, poll_seconds=3600, max_backlog=3,
                      admission_wait=0.1, max_backoff=0.05)
    decider.start()
    try:
        started = time.monotonic()
        await _submit_all(queue, decider, 6)
        elapsed = time.monotonic() - started
    finally:
        await decider.stop(grace=5)
    # The three over the bound each waited its 0.1 s, then went in (the ticket is not refused).
    assert 0.3 <= elapsed < 2.0, elapsed
    assert queue.waiting == 6


async def test_a_stop_releases_the_submissions_waiting_for_room():
    queue = SlowQueue(stuck=True)
    decider = Decider("test", queue.decide_once, poll_seconds=3600, max_backlog=1,
                      admission_wait=30.0, max_backoff=0.05)
    decider.start()
    await _submit_all(queue, decider, 1)
    waiting = asyncio.create_task(decider.admit())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await decider.stop(grace=5)
    await asyncio.wait_for(waiting, timeout=1.0)
