"""The opening queue's decider loop: a burst of submissions is decided in few batches when the
decider lingers, nothing notified is left undecided, and a stop is prompt whatever the loop is
doing (an app's shutdown must not wait for the poll interval)."""

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
