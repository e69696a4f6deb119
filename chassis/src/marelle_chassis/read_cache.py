"""Rows an opening's submissions are checked against, kept a moment per process
(docs/opening-rush.md).

At an opening thousands of submissions name the same group or period within seconds; reading
its rows once a second instead of once per submission is a round trip less for each of them.
A change by staff (closing, new dates) is seen within `ttl` seconds; the decisions always read
the rows again, under the resource's lock. When a key's rows are due, the submissions arriving
while they are read wait for that one read (bench/rush.py: with 128 in flight, each of them read
the rows again, a tenth of the service's CPU).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ReadCache(Generic[V]):
    def __init__(self, ttl: float = 1.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._reading: dict[Hashable, asyncio.Future[V]] = {}

    async def get(self, key: Hashable, read: Callable[[], Awaitable[V]]) -> V:
        """The value kept for `key` if younger than `ttl`, else `read()`'s (one at a time)."""
        kept = self._values.get(key)
        if kept and time.monotonic() - kept[0] < self.ttl:
            return kept[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key, read))
            self._reading[key] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        # Shielded: a submission given up (its client gone) does not cancel the others' read.
        return await asyncio.shield(reading)

    async def _read(self, key: Hashable, read: Callable[[], Awaitable[V]]) -> V:
        read_at = time.monotonic()
        value = await read()
        if len(self._values) >= self.max_entries:
            self._values.clear()
        self._values[key] = (read_at, value)
        return value
