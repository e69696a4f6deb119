"""Which failures are transient (retried without end) and which are deterministic (DLQ)."""

from __future__ import annotations

import sqlite3

from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from marelle_chassis.transactions import is_transient


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def test_unreachable_dependencies_and_lost_races_are_transient():
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert is_transient(KafkaConnectionError())
    assert is_transient(OperationalError("SELECT 1", {}, sqlite3.OperationalError(
        "database is locked")))
    assert is_transient(ProgrammingError("x", {}, _PgError("40P01")))  # deadlock
    assert is_transient(ProgrammingError("x", {}, _PgError("57P03")))  # cannot connect now
    wrapped = RuntimeError("handler failed")
    wrapped.__cause__ = ConnectionResetError()
    assert is_transient(wrapped)


def test_bugs_and_bad_data_are_deterministic():
    assert not is_transient(KeyError("x"))
    assert not is_transient(ValueError("x"))
    assert not is_transient(MessageSizeTooLargeError())
    assert not is_transient(IntegrityError("x", {}, _PgError("23505")))
    assert not is_transient(OperationalError("x", {}, sqlite3.OperationalError(
        "no such table: child_copy")))
    assert not is_transient(FileNotFoundError())
