"""ReadCache: a value is read once per `ttl` per key, concurrent misses share one read, a failed
read is not kept."""

from __future__ import annotations

import asyncio

import pytest

from marelle_chassis.read_cache import ReadCache


async def test_one_read_per_key_while_fresh_then_read_again():
    reads: list[str] = []

    async def read(key: str) -> str:
        reads.append(key)
        await asyncio.sleep(0.01)
        return key.upper()

    cache: ReadCache[str] = ReadCache(ttl=0.2)
    values = await asyncio.gather(*(cache.get("a", lambda: read("a")) for _ in range(10)),
                                  cache.get("b", lambda: read("b")))
    assert values == ["A"] * 10 + ["B"] and sorted(reads) == ["a", "b"]
    assert await cache.get("a", lambda: read("a")) == "A" and reads.count("a") == 1
    await asyncio.sleep(0.25)
    assert await cache.get("a", lambda: read("a")) == "A" and reads.count("a") == 2


async def test_a_failed_read_fails_its_waiters_and_is_not_kept():
    calls = 0

    async def failing() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise LookupError("gone")

    cache: ReadCache[str] = ReadCache(ttl=10)
    outcomes = await asyncio.gather(*(cache.get("k", failing) for _ in range(3)),
                                    return_exceptions=True)
    assert all(isinstance(o, LookupError) for o in outcomes) and calls == 1
    with pytest.raises(LookupError):
        await cache.get("k", failing)
    assert calls == 2


async def test_a_zero_ttl_reads_every_time():
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        return reads

    cache: ReadCache[int] = ReadCache(ttl=0)
    assert [await cache.get("k", read) for _ in range(3)] == [1, 2, 3]
