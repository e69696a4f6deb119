"""Unit of work: the transaction boundary; it also writes the outbox rows of its events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

from pydantic import BaseModel
from sqlalchemy import MetaData, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from marelle_chassis import context, inbox
from marelle_chassis.messaging_tables import inbox_table, outbox_table
from marelle_chassis.outbox import add_to_outbox, outbox_row
from marelle_contracts import Envelope, event_spec, new_envelope


class UnitOfWork:
    """`async with uow: ...; await uow.commit()`; leaving without commit rolls back."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], metadata: MetaData, *,
                 producer: str, on_commit: Callable[[], None] | None = None) -> None:
        self._sessions = sessions
        self._metadata = metadata
        self.producer = producer
        self._on_commit = on_commit
        self._events: list[Envelope] = []
        self._written = 0  # outbox rows written by `write_events` in this transaction
        self._after_commit: list[Callable[[], None]] = []
        self.session: AsyncSession

    @property
    def engine(self) -> AsyncEngine:
        """The database this unit of work writes to (hot paths reach its pool directly)."""
        return self._sessions.kw["bind"]

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._events = []
        self._written = 0
        self._after_commit = []
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    def publish(self, payload: BaseModel, *, version: int) -> Envelope:
        """Record an event; it is written to the outbox at commit, in the same transaction.

        `version` is the aggregate's version after the change (from the conditional UPDATE that
        made it, e.g. `... SET version = version + 1 ... RETURNING version`): copies use it to
        ignore late or replayed events.
        """
        envelope = new_envelope(
            payload,
            version=version,
            producer=self.producer,
            correlation_id=context.correlation_id.get(),
            causation_id=context.causation_id.get(),
        )
        self._events.append(envelope)
        return envelope

    async def claim(self, consumer: str, event_id: uuid.UUID) -> bool:
        """Inbox guard for event handlers (see `marelle_chassis.inbox`)."""
        return await inbox.claim(self.session, inbox_table(self._metadata), consumer, event_id)

    async def claim_many(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """The inbox guard for a batch: the ids seen for the first time (`inbox.claim_many`)."""
        return await inbox.claim_many(self.session, inbox_table(self._metadata), consumer,
                                      event_ids)

    async def write_events(self) -> None:
        """Write the outbox rows of the events published so far, now (`commit` writes the rest).

        The opening queue's deciders call it before their last statement, the one that locks
        the row every acknowledgement updates: that lock is then held only until COMMIT."""
        outbox = outbox_table(self._metadata)
        if len(self._events) == 1:
            envelope = self._events[0]
            await add_to_outbox(self.session, outbox, event_spec(envelope.event_type).topic,
                                envelope)
        elif self._events:
            # A batch (the opening queue's decisions): one multi-row INSERT, in order.
            await self.session.execute(insert(outbox), [
                outbox_row(event_spec(e.event_type).topic, e) for e in self._events])
        self._written += len(self._events)
        self._events = []

    async def commit(self) -> None:
        await self.write_events()
        await self.session.commit()
        had_events = bool(self._written)
        self._written = 0
        if had_events and self._on_commit:
            self._on_commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this unit of work has committed (e.g. wake a sender task)."""
        self._after_commit.append(callback)

    async def rollback(self) -> None:
        self._events = []
        self._written = 0
        self._after_commit = []
        await self.session.rollback()


UnitOfWorkFactory = Callable[[], UnitOfWork]
