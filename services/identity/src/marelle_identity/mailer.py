"""Sends the queued emails over SMTP, with bounded retries; survives restarts (rows stay queued)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from marelle_identity.config import IdentitySettings
from marelle_identity.db import email_message
from marelle_identity.usecases.common import now

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


class Mailer:
    def __init__(self, engine: AsyncEngine, settings: IdentitySettings, poll_interval: float = 2.0):
        self.engine = engine
        self.settings = settings
        self.poll_interval = poll_interval
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

    async def send_due(self, limit: int = 20) -> int:
        m = email_message
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(m).where(m.c.sent_at.is_(None), m.c.attempts < MAX_ATTEMPTS,
                                m.c.next_attempt_at <= now())
                .order_by(m.c.id).limit(limit))).all()
            await conn.commit()
        sent = 0
        for row in rows:
            try:
                await asyncio.to_thread(self._send, row.to_address, row.subject, row.text_body,
                                        row.html_body)
            except Exception as exc:  # SMTP down or refused: retry later, with backoff
                attempts = row.attempts + 1
                delay = timedelta(seconds=min(3600, 15 * 2 ** attempts))
                log.warning("email %s not sent (attempt %d): %r", row.id, attempts, exc)
                values = {"attempts": attempts, "last_error": repr(exc)[:2000],
                          "next_attempt_at": now() + delay}
            else:
                sent += 1
                values = {"attempts": row.attempts + 1, "sent_at": now(), "last_error": None}
            async with self.engine.begin() as conn:
                await conn.execute(update(m).where(m.c.id == row.id).values(**values))
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
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=20,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=20)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password or "")
            client.send_message(message)
