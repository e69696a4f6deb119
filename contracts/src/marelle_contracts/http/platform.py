"""Every service's platform endpoints (the chassis mounts them): what its consumers parked in a
dead-letter topic (`/staff/dead-letters`) and the events its outbox relay could never publish
(`/staff/outbox/parked`). The back-office's « Messages en échec » page reads both."""

from __future__ import annotations

import uuid
from datetime import datetime

from marelle_contracts.http._base import Answer

__all__ = ["DeadLetter", "DeadLetters", "ParkedRow", "ParkedRows"]


# --- dead letters (`/staff/dead-letters`) -------------------------------------------------------

class DeadLetter(Answer):
    """One record of a DLQ topic: where it sits, where it came from, why it was parked."""

    dlq_topic: str
    partition: int
    offset: int
    parked_at: datetime
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    consumer_group: str | None
    error: str | None
    attempts: int | None
    event_id: str | None
    event_type: str | None


class DeadLetters(Answer):
    items: list[DeadLetter]


# --- parked outbox rows (`/staff/outbox/parked`) ------------------------------------------------

class ParkedRow(Answer):
    """An outbox row set aside by the relay after attempts that can never succeed."""

    id: int
    event_id: uuid.UUID
    event_type: str
    topic: str
    key: str
    attempts: int
    last_error: str | None
    created_at: datetime
    # None once staff put it back in the queue (the answer of the retry action).
    parked_at: datetime | None


class ParkedRows(Answer):
    items: list[ParkedRow]
