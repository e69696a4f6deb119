"""Login throttling policy: slow down guessing without locking the real owner out for long.

Per account: 5 failures within 15 minutes block it for 1 minute, doubling with each further
failure, never more than 15 minutes. Per address: 30 failures within 15 minutes block it for
5 minutes. A successful login clears the account's counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Limit:
    free_failures: int
    first_block: timedelta
    max_block: timedelta


ACCOUNT = Limit(free_failures=5, first_block=timedelta(minutes=1), max_block=timedelta(minutes=15))
ADDRESS = Limit(free_failures=30, first_block=timedelta(minutes=5), max_block=timedelta(minutes=5))


@dataclass(frozen=True)
class Counter:
    failures: int
    window_started_at: datetime
    blocked_until: datetime | None


def after_failure(counter: Counter | None, limit: Limit, now: datetime) -> Counter:
    if counter is None or now - counter.window_started_at > WINDOW:
        counter = Counter(0, now, None)
    failures = counter.failures + 1
    blocked_until = counter.blocked_until
    if failures >= limit.free_failures:
        extra = failures - limit.free_failures
        block = min(limit.first_block * (2 ** min(extra, 10)), limit.max_block)
        blocked_until = now + block
    return Counter(failures, counter.window_started_at, blocked_until)


def wait_left(counter: Counter | None, now: datetime) -> timedelta | None:
    if counter and counter.blocked_until and counter.blocked_until > now:
        return counter.blocked_until - now
    return None
