"""`Coalescer`: one run in flight per key; what arrives meanwhile goes together in the next run,
in order of arrival; a lone item goes at once; a failed run leaves each caller to do its own."""

from __future__ import annotations

import asyncio

import pytest

from marelle_chassis.coalesce import Coalescer


class Recorder:
    """A `run` that records its batches; those of key « g » wait for `release`."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail = fail

    async def __call__(self, key: str, items: list[int]) -> list[int | None]:
        self.batches.append((key, items))
        if key == "g":
            await self.release.wait()
        if self.fail:
            raise RuntimeError("the statement failed")
        return [item * 10 if item % 2 == 0 else None for item in items]


async def until(condition, timeout: float = 2.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0)


async def test_a_lone_item_goes_at_once_on_its_own():
    run = Recorder()
    coalescer = Coalescer(run)
    assert await asyncio.wait_for(coalescer.submit("g", 2), 1) == 20
    assert run.batches == [("g", [2])]


async def test_items_arriving_during_a_run_go_together_next_in_order_of_arrival():
    run = Recorder()
    run.release.clear()
    coalescer = Coalescer(run)
    first = asyncio.ensure_future(coalescer.submit("g", 0))
    await until(lambda: len(run.batches) == 1)
    later = [asyncio.ensure_future(coalescer.submit("g", n)) for n in (5, 2, 4, 7)]
    other_key = asyncio.ensure_future(coalescer.submit("h", 6))  # another group: not held back
    assert await asyncio.wait_for(other_key, 1) == 60
    assert coalescer.waiting == 4
    run.release.set()
    # Each caller gets its own item's result; None where the run did not do it.
    assert await asyncio.gather(first, *later) == [0, None, 20, 40, None]
    assert run.batches == [("g", [0]), ("h", [6]), ("g", [5, 2, 4, 7])]
    assert coalescer.batches == 3 and coalescer.waiting == 0


async def test_a_batch_never_exceeds_its_size():
    run = Recorder()
    run.release.clear()
    coalescer = Coalescer(run, max_batch=2)
    items = [asyncio.ensure_future(coalescer.submit("g", n)) for n in range(5)]
    await until(lambda: len(run.batches) == 1)
    run.release.set()
    assert await asyncio.gather(*items) == [0, None, 20, None, 40]
    assert [batch for _, batch in run.batches] == [[0, 1], [2, 3], [4]]


async def test_a_failed_run_answers_none_to_each_of_its_items_and_the_next_runs_go_on():
    run = Recorder(fail=True)
    run.release.clear()
    coalescer = Coalescer(run)
    items = [asyncio.ensure_future(coalescer.submit("g", n)) for n in (2, 4)]
    await until(lambda: len(run.batches) == 1)
    run.release.set()
    assert await asyncio.gather(*items) == [None, None]
    run.fail = False
    assert await coalescer.submit("g", 8) == 80


async def test_a_caller_that_goes_away_does_not_stop_the_others():
    run = Recorder()
    run.release.clear()
    coalescer = Coalescer(run)
    first = asyncio.ensure_future(coalescer.submit("g", 2))
    await until(lambda: len(run.batches) == 1)
    second = asyncio.ensure_future(coalescer.submit("g", 4))
    await asyncio.sleep(0)
    first.cancel()  # the client of the first request hung up
    run.release.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == 40
