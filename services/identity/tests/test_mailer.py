"""The mailer under races: two identity processes on one database never send one email twice.

Two `Mailer` instances, each with its own engine (as two processes would have), drain the same
queue at the same time into a real SMTP server (aiosmtpd); the server must receive every email
exactly once. A sender that crashed holding a claim does not lose the emails: once its lease has
expired, another sender claims and sends them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from marelle_chassis import db, migrations
from marelle_identity import mailer as mailer_module
from marelle_identity.config import IdentitySettings
from marelle_identity.db import email_message
from marelle_identity.main import MIGRATIONS
from marelle_identity.mailer import Mailer
from marelle_identity.usecases.common import now

pytestmark = pytest.mark.postgres

EMAILS = 40


async def _queue(url: str, count: int) -> None:
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            at = now()
            for i in range(count):
                await conn.execute(insert(email_message).values(
                    to_address=f"famille{i}@example.org", subject=f"message {i}",
                    text_body=f"bonjour {i}", html_body=f"<p>bonjour {i}</p>", created_at=at,
                    attempts=0, next_attempt_at=at))
    finally:
        await engine.dispose()


async def _drain(mailer: Mailer) -> None:
    # Bounded: a few passes are enough for 40 emails; a pass that finds nothing ends it.
    for _ in range(EMAILS):
        if not await mailer.send_due():
            return


async def _unsent(url: str) -> int:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(email_message)
                                     .where(email_message.c.sent_at.is_(None)))
    finally:
        await engine.dispose()


async def test_two_mailers_on_one_database_send_each_email_once(database_url, smtp):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    await _queue(database_url, EMAILS)
    settings = IdentitySettings(database_url=database_url, kafka_enabled=False,
                                smtp_port=smtp.port)
    engines = [db.create_engine(database_url) for _ in range(2)]
    try:
        mailers = [Mailer(engine, settings) for engine in engines]
        await asyncio.gather(*(_drain(m) for m in mailers))
    finally:
        for engine in engines:
            await engine.dispose()
    received = Counter(str(m["Subject"]) for m in smtp.messages)
    assert sorted(received) == sorted(f"message {i}" for i in range(EMAILS))
    assert [s for s, n in received.items() if n > 1] == []
    assert len(smtp.messages) == EMAILS
    assert await _unsent(database_url) == 0


async def test_an_expired_claim_of_a_crashed_sender_is_claimed_again(database_url, smtp,
                                                                     monkeypatch):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    await _queue(database_url, 3)
    settings = IdentitySettings(database_url=database_url, kafka_enabled=False,
                                smtp_port=smtp.port)
    engines = [db.create_engine(database_url) for _ in range(2)]
    try:
        crashed, survivor = (Mailer(engine, settings) for engine in engines)
        claimed = await crashed.claim(limit=10)  # ...and then the process dies before sending
        assert len(claimed) == 3
        assert await survivor.send_due() == 0  # claimed rows are left alone while the lease runs
        assert smtp.messages == []
        later = now() + mailer_module.LEASE + timedelta(seconds=1)
        monkeypatch.setattr(mailer_module, "now", lambda: later)
        assert await survivor.send_due() == 3
        assert sorted(str(m["Subject"]) for m in smtp.messages) == [
            "message 0", "message 1", "message 2"]
        # The crashed sender, come back to life, cannot mark as sent what it no longer holds.
        assert await crashed.mark_sent(claimed[0].id) is False
        async with engines[0].connect() as conn:
            rows = (await conn.execute(select(email_message))).all()
        assert all(r.sent_at is not None and r.claimed_by is None for r in rows)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_refused_email_is_released_for_a_later_retry(database_url, smtp):
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    await _queue(database_url, 1)
    closed_port = smtp.port
    smtp_down = IdentitySettings(database_url=database_url, kafka_enabled=False,
                                 smtp_port=_closed_port())
    engine = db.create_engine(database_url)
    try:
        assert await Mailer(engine, smtp_down).send_due() == 0
        async with engine.connect() as conn:
            row = (await conn.execute(select(email_message))).one()
        assert row.attempts == 1 and row.sent_at is None and row.claimed_by is None
        assert row.next_attempt_at > now() and row.last_error
        async with engine.begin() as conn:  # skip the backoff
            await conn.execute(update(email_message).values(next_attempt_at=now()))
        up = IdentitySettings(database_url=database_url, kafka_enabled=False, smtp_port=closed_port)
        assert await Mailer(engine, up).send_due() == 1
        assert len(smtp.messages) == 1
    finally:
        await engine.dispose()


def _closed_port() -> int:
    from tests.support.infra import free_port

    return free_port()  # nothing listens there
