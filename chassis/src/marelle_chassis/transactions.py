"""Retrying a whole transaction that lost a race inside the database.

PostgreSQL aborts one of two transactions that deadlock (40P01) or that cannot be serialized
(40001); SQLite may answer "database is locked" past its busy timeout. The work is then safe to run
again from the start, in a fresh unit of work: a bounded number of times, then a clear 503 rather
than a 500. Conflicts the use case detects itself (a compare-and-set that matched no row) are
domain errors (409) and are never retried here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

from marelle_chassis.domain_errors import ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def is_retryable(exc: BaseException) -> bool:
    """A serialization failure or deadlock (PostgreSQL), or a busy database (SQLite)."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(orig)


class ConnectionLost(Exception):
    """A pooled connection used through its driver directly (`queue_sql.HotPath`) was found
    dead; it is invalidated, and the work may run again on a fresh one."""


async def retry_transaction(work: Callable[[], Awaitable[T]], *, attempts: int = 5,
                            base_delay: float = 0.02) -> T:
    """Run `work` (which opens and commits its own unit of work) until it does not lose a race
    inside the database; after `attempts` losses raise `ServiceUnavailable` (503)."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except (DBAPIError, ConnectionLost) as exc:
            # A pooled connection found dead (PostgreSQL restarted): the pool is invalidated,
            # the next attempt connects afresh.
            if not (isinstance(exc, ConnectionLost) or is_retryable(exc)
                    or exc.connection_invalidated):
                raise
            if attempt == attempts:
                log.warning("transaction lost %d races, giving up: %r", attempt,
                            getattr(exc, "orig", exc.__cause__))
                raise ServiceUnavailable(
                    "Le service est très sollicité : votre demande n'a pas pu être enregistrée. "
                    "Réessayez dans un instant.") from exc
            # Jitter so the rivals do not collide again at the same instant.
            await asyncio.sleep(base_delay * attempt * (1 + random.random()))
    raise AssertionError("unreachable")


# SQLSTATE classes that say "the database is not answering right now", not "your data is wrong":
# 08 connection exception, 53 insufficient resources, 57P admin shutdown / cannot connect now,
# 58 system error, and the race losers above.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "58", "40001", "40P01")


def is_transient(exc: BaseException) -> bool:
    """True when the same work may well succeed later unchanged: the database or the broker is
    unreachable, a timeout, a lost race. Such failures are retried without end; everything else
    is deterministic (a bug, a bad payload) and goes to the DLQ after a few attempts."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OperationalError) and _sqlite_error(current):
            # SQLite says OperationalError for a missing table too: only "busy" is transient.
            text = str(current.orig).lower()
            return any(w in text for w in ("locked", "busy", "unable to open", "disk i/o"))
        if isinstance(current, (ConnectionError, TimeoutError, PoolTimeout, OperationalError,
                                InterfaceError)):
            return True
        if isinstance(current, OSError) and not isinstance(current, (FileNotFoundError,
                                                                     PermissionError)):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated or is_retryable(current):
                return True
            state = getattr(current.orig, "sqlstate", None) or ""
            if state.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
                return True
            current = current.orig
            continue
        if _is_retriable_kafka_error(current):
            return True
        # asyncpg raises its own classes for a server that is going away or not there yet.
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in {
                "ConnectionDoesNotExistError", "CannotConnectNowError", "AdminShutdownError",
                "ConnectionFailureError", "InterfaceError", "TooManyConnectionsError"}:
            return True
        current = current.__cause__ or current.__context__
    return False


def _sqlite_error(exc: DBAPIError) -> bool:
    return "sqlite" in type(exc.orig).__module__ or "sqlite" in type(exc.orig).__qualname__.lower()


def _is_retriable_kafka_error(exc: BaseException) -> bool:
    try:
        from aiokafka.errors import KafkaError
    except ImportError:  # pragma: no cover - aiokafka is a dependency of the chassis
        return False
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))
