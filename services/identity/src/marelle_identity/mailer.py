"""Sends the queued emails over SMTP, with bounded retries; survives restarts (rows stay queued).

Several identity processes may share one database: each email is *claimed* before it is sent, so
that no two senders ever send the same one. A claim is a lease (`claimed_by`, `claimed_until`)
written in a short transaction (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
writer at a time anyway), committed before any SMTP traffic; the email is then sent outside any
transaction and marked sent only if the claim is still ours. A sender that dies while holding a
claim delays its emails until the lease expires; another sender then claims them again (an email
whose sending succeeded just before the crash, but was not yet marked, is then sent a second
time: SMTP gives no better than at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import uuid
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from marelle_identity.config import IdentitySettings
from marelle_identity.db import email_message
from marelle_identity.usecases.common import now

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
# One claim covers a batch: BATCH emails at most SMTP_TIMEOUT seconds each fit well inside LEASE.
BATCH = 10
SMTP_TIMEOUT = 20
LEASE = timedelta(minutes=5)
# A claim this close to its end is not used any more (released, claimed again later).
LEASE_MARGIN = timedelta(seconds=SMTP_TIMEOUT * 2)


class Mailer:
    def __init__(self, engine: AsyncEngine, settings: IdentitySettings, poll_interval: float = 2.0):
        self.engine = engine
        self.settings = settings
        self.poll_interval = poll_interval
        # Who holds a claim: one id per mailer (i.e. per process).
        self.sender_id = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mailer")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.send_due()
            except Exception:
                log.exception("mailer pass failed")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            try:
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def claim(self, limit: int = BATCH) -> list[Any]:
        """Claim up to `limit` due emails for this sender, in a short committed transaction."""
        m = email_message
        at = now()
        due = (select(m.c.id)
               .where(m.c.sent_at.is_(None), m.c.attempts < MAX_ATTEMPTS,
                      m.c.next_attempt_at <= at,
                      or_(m.c.claimed_until.is_(None), m.c.claimed_until <= at))
               .order_by(m.c.id).limit(limit)
               # Rows another sender is claiming right now are skipped, not waited for.
               .with_for_update(skip_locked=True))
        async with self.engine.begin() as conn:
            rows = (await conn.execute(
                update(m).where(m.c.id.in_(due.scalar_subquery()))
                .values(claimed_by=self.sender_id, claimed_until=at + LEASE)
                .returning(m.c.id, m.c.to_address, m.c.subject, m.c.text_body, m.c.html_body,
                           m.c.attempts, m.c.claimed_until))).all()
        return sorted(rows, key=lambda r: r.id)

    async def _finish(self, email_id: int, **values: Any) -> bool:
        """Record the outcome, only if the claim is still ours (the lease may have been taken)."""
        m = email_message
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(m).where(m.c.id == email_id, m.c.claimed_by == self.sender_id,
                                m.c.sent_at.is_(None))
                .values(attempts=m.c.attempts + 1, claimed_by=None, claimed_until=None, **values))
        if result.rowcount != 1:
            log.warning("email %s: claim lost before its outcome was recorded", email_id)
        return result.rowcount == 1

    async def mark_sent(self, email_id: int) -> bool:
        return await self._finish(email_id, sent_at=now(), last_error=None)

    async def _release(self, ids: list[int]) -> None:
        m = email_message
        async with self.engine.begin() as conn:
            await conn.execute(update(m).where(m.c.id.in_(ids), m.c.claimed_by == self.sender_id,
                                               m.c.sent_at.is_(None))
                               .values(claimed_by=None, claimed_until=None))

    async def send_due(self, limit: int = BATCH) -> int:
        rows = await self.claim(limit)
        sent = 0
        for index, row in enumerate(rows):
            if now() >= row.claimed_until - LEASE_MARGIN:  # too slow: let another pass take them
                await self._release([r.id for r in rows[index:]])
                break
            try:
                await asyncio.to_thread(self._send, row.to_address, row.subject, row.text_body,
                                        row.html_body)
            except Exception as exc:  # SMTP down or refused: retry later, with backoff
                attempts = row.attempts + 1
                delay = timedelta(seconds=min(3600, 15 * 2 ** attempts))
                log.warning("email %s not sent (attempt %d): %r", row.id, attempts, exc)
                await self._finish(row.id, last_error=repr(exc)[:2000],
                                   next_attempt_at=now() + delay)
            else:
                if await self.mark_sent(row.id):
                    sent += 1
        return sent

    def _send(self, to: str, subject: str, text: str, html: str) -> None:
        s = self.settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="marelle.local")
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        if s.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password or "")
            client.send_message(message)
