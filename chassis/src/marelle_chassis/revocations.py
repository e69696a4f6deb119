"""Sessions ended before their access tokens expire: every process learns them from identity.

Identity publishes `identity.sessions_revoked` (logout, password changed or reset, login email
changed, account disabled, refresh-token reuse). Each process keeps the revocations in memory for
a little longer than an access token lives, and its `TokenVerifier` refuses a token when

- its `sub` has a revocation whose `session_id` equals the token's `sid`, or
- its `sub` has a revocation without `session_id` whose `revoked_before` >= the token's `iat`.

`RevocationFeed` reads `marelle.identity.v1` without a consumer group: it assigns itself every
partition and, at start, seeks to the offsets of "now minus the memory" (`offsets_for_times`), so
every process sees every revocation that can still matter, replays only that window (not the
topic's whole history), commits nothing and leaves no consumer group behind on the broker.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from marelle_chassis.kafka_security import kafka_client_options
from marelle_contracts import Envelope, Topics
from marelle_contracts.identity import SessionsRevoked

log = logging.getLogger(__name__)

EVENT_TYPE = "identity.sessions_revoked"
# Access tokens live 15 min (identity's `access_token_ttl_seconds`); 5 more cover clock skew.
DEFAULT_MEMORY_SECONDS = 20 * 60


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Account:
    # session id -> wall-clock time (epoch seconds) after which the entry can be forgotten
    sessions: dict[str, float] = field(default_factory=dict)
    # the latest "every token issued until" instant, as epoch seconds (-inf: none)
    before: float = float("-inf")


class Revocations:
    """The revocations that may still concern a live access token, in memory (thread-free)."""

    def __init__(self, memory_seconds: float = DEFAULT_MEMORY_SECONDS,
                 clock: Any = time.time) -> None:
        self.memory = memory_seconds
        self._clock = clock
        self._accounts: dict[str, _Account] = {}
        self._tokens: dict[str, float] = {}  # digest of one logged-out token -> forget after
        self._next_prune = 0.0

    def revoke(self, account_id: str, session_id: str | None, revoked_before: datetime) -> None:
        at = revoked_before.timestamp()
        entry = self._accounts.setdefault(str(account_id), _Account())
        if session_id:
            entry.sessions[str(session_id)] = max(entry.sessions.get(str(session_id), 0.0),
                                                  at + self.memory)
        else:
            entry.before = max(entry.before, at)
        self._prune()

    def revoke_token(self, token: str, expires_at: float | None = None) -> None:
        """One token refused here at once (a logout seen by this very process)."""
        until = (expires_at if expires_at is not None else self._clock()) + self.memory
        self._tokens[token_digest(token)] = until
        self._prune()

    def is_revoked(self, subject: str, session_id: str | None, issued_at: float,
                   token: str | None = None) -> bool:
        if token is not None and self._tokens and token_digest(token) in self._tokens:
            return True
        entry = self._accounts.get(str(subject))
        if entry is None:
            return False
        if session_id and str(session_id) in entry.sessions:
            return True
        return issued_at <= entry.before

    def __len__(self) -> int:
        return len(self._accounts) + len(self._tokens)

    def _prune(self) -> None:
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + 60.0
        for account_id, entry in list(self._accounts.items()):
            entry.sessions = {sid: until for sid, until in entry.sessions.items() if until > now}
            if entry.before + self.memory <= now:
                entry.before = float("-inf")
            if not entry.sessions and entry.before == float("-inf"):
                del self._accounts[account_id]
        self._tokens = {digest: until for digest, until in self._tokens.items() if until > now}

    def apply(self, envelope: Envelope) -> bool:
        """Take in one event of identity's topic; True when it was a revocation."""
        if envelope.event_type != EVENT_TYPE:
            return False
        payload = SessionsRevoked.model_validate(envelope.payload)
        self.revoke(str(payload.account_id),
                    str(payload.session_id) if payload.session_id else None,
                    payload.revoked_before)
        return True


class RevocationFeed:
    """Feeds `revocations` from identity's topic, in a background task of this process."""

    def __init__(self, bootstrap_servers: str, revocations: Revocations, *, client_id: str,
                 topic: str = Topics.IDENTITY, consumer_options: dict[str, Any] | None = None
                 ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.revocations = revocations
        self.client_id = client_id
        self.topic = topic
        # SASL/SCRAM credentials in production (marelle_chassis.kafka_security), unless given.
        self.options = consumer_options if consumer_options is not None else kafka_client_options()
        self.caught_up = asyncio.Event()
        self.error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.client_id}-revocations")

    async def wait_caught_up(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self.caught_up.wait()
            return True
        except TimeoutError:
            log.warning("revocations not caught up after %.0f s (%s); going on", timeout,
                        self.error or "Kafka slow")
            return False

    def check(self) -> None:
        """Readiness: a process that has not read the recent revocations may accept a token
        whose session was ended."""
        if not self.caught_up.is_set():
            raise ConnectionError("révocations de sessions pas encore lues"
                                  + (f" ({self.error})" if self.error else ""))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Kafka unreachable or lost: retry; tokens keep being checked against what we know.
                self.error = type(exc).__name__
                log.warning("revocation feed interrupted (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:
                return

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, group_id=None,
                                    client_id=f"{self.client_id}-revocations",
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    **self.options)
        await consumer.start()
        try:
            partitions = await self._partitions(consumer, TopicPartition)
            consumer.assign(partitions)
            # Revocations older than the memory concern only tokens expired by now: skip them.
            since = int((time.time() - self.revocations.memory) * 1000)
            starts = await consumer.offsets_for_times({tp: since for tp in partitions})
            ends = await consumer.end_offsets(partitions)
            for tp in partitions:
                found = starts.get(tp)
                if found is None:
                    consumer.seek(tp, ends[tp])
                else:
                    consumer.seek(tp, found.offset)
            pending = {tp: end for tp, end in ends.items()}
            self.error = None
            await self._catch_up_if_done(consumer, pending)
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batches.values():
                    for record in records:
                        self._take(record)
                await self._catch_up_if_done(consumer, pending)
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: Any, topic_partition: Any) -> list[Any]:
        for _ in range(60):
            # Without a subscription the consumer keeps no metadata of the topic: ask the cluster.
            cluster = await consumer._client.fetch_all_metadata()
            numbers = cluster.partitions_for_topic(self.topic)
            if numbers:
                return [topic_partition(self.topic, n) for n in sorted(numbers)]
            await asyncio.sleep(1.0)
        raise ConnectionError(f"topic {self.topic} unknown")

    async def _catch_up_if_done(self, consumer: Any, pending: dict[Any, int]) -> None:
        if self.caught_up.is_set():
            return
        for tp in list(pending):
            if await consumer.position(tp) >= pending[tp]:
                del pending[tp]
        if not pending:
            log.info("revocations caught up (%d remembered)", len(self.revocations))
            self.caught_up.set()

    def _take(self, record: Any) -> None:
        headers = dict(record.headers or ())
        declared = headers.get("event_type")
        if declared is not None and declared != EVENT_TYPE.encode():
            return  # not a revocation: no need to parse it
        try:
            envelope = Envelope.model_validate_json(record.value)
            self.revocations.apply(envelope)
        except (ValidationError, ValueError) as exc:
            # Other consumers park bad events in the DLQ; this one only skips them.
            log.warning("unreadable event on %s[%s]@%s skipped: %r", record.topic,
                        record.partition, record.offset, exc)

