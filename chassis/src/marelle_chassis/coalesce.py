"""One statement in flight per key; what arrives meanwhile goes together in the next one
(docs/opening-rush.md, « Batched acknowledgements »).

At an opening, hundreds of submissions per second write to the same group's counter row. One
statement each means one round trip, one parse of its parameters and one wait on that row's
lock each. Coalesced, a submission that arrives while its group's statement is in flight waits
for it to end, then goes with every other one that waited, in one statement: the busier the
opening, the bigger the batches, and a lone submission still goes at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741 — an item
O = TypeVar("O")  # noqa: E741 — its result

Waiting = list[tuple[I, asyncio.Future[O | None]]]  # items, and their callers' answers


class Coalescer(Generic[K, I, O]):
    """`run(key, items)` does the items of one key in one go and returns one result per item,
    in their order of arrival; None for an item it did not do (the caller then does it alone,
    with the precise answer that path gives). A `run` that fails answers None to all its items:
    a batch is one statement, so none of it was done."""

    def __init__(self, run: Callable[[K, list[I]], Awaitable[list[O | None]]], *,
                 max_batch: int = 200) -> None:
        self._run = run
        self._max_batch = max_batch
        # A key is here while its drain runs: its items not yet taken, in order of arrival.
        self._queues: dict[K, Waiting[I, O]] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self.batches = 0  # statements run, for tests and benchmarks

    @property
    def waiting(self) -> int:
        """Items waiting for their key's run in flight to end."""
        return sum(len(queue) for queue in self._queues.values())

    async def submit(self, key: K, item: I) -> O | None:
        future: asyncio.Future[O | None] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is not None:
            queue.append((item, future))
        else:
            # Not awaited here: a request cancelled by its client must not stop the others'.
            self._queues[key] = [(item, future)]
            drain = asyncio.create_task(self._drain(key))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self, key: K) -> None:
        queue = self._queues[key]
        batch: Waiting[I, O] = []
        try:
            while queue:
                batch = queue[:self._max_batch]
                del queue[:len(batch)]
                self.batches += 1
                try:
                    results = await self._run(key, [item for item, _ in batch])
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 — each item is then done alone, and answered
                    log.warning("a batch of %d failed; done one by one", len(batch),
                                exc_info=True)
                    results = [None] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                batch = []
        finally:
            del self._queues[key]
            for _, future in [*batch, *queue]:  # stopped: each caller does its own
                if not future.done():
                    future.set_result(None)
