"""Identity's API on a real database (SQLite and PostgreSQL) and a real SMTP server (aiosmtpd).

Kafka is not needed here: events stay in the outbox table, which the tests read.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from aiosmtpd.controller import Controller

from marelle_chassis import migrations
from marelle_identity.config import IdentitySettings
from marelle_identity.main import MIGRATIONS, create_app
from tests.support.infra import free_port

PROXY_SECRET = "secret-partage-de-test-" + "x" * 16
ADMIN = ("admin@marelle.local", "marelle-admin")
MANAGER = ("gestionnaire@marelle.local", "marelle-gestion")


@dataclass
class Mailbox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    async def wait_for(self, to: str, subject_part: str, timeout: float = 10.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for m in self.messages:
                if m["To"] == to and subject_part in str(m["Subject"]):
                    return m
            await asyncio.sleep(0.05)
        raise AssertionError(f"no email to {to} about {subject_part!r}: "
                             f"{[(m['To'], m['Subject']) for m in self.messages]}")

    @staticmethod
    def text(message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def link_token(message) -> str:
        return re.search(r"jeton=([\w-]+)", Mailbox.text(message)).group(1)


@pytest.fixture
def smtp() -> Mailbox:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port  # type: ignore[attr-defined]
    yield box
    controller.stop()


def proxied(ip: str) -> dict[str, str]:
    """What the gateway sends: the end user's address, proven by the shared secret."""
    return {"X-Marelle-Client-Address": ip, "X-Marelle-Proxy-Secret": PROXY_SECRET}


@dataclass
class Identity:
    client: httpx.AsyncClient
    app: object
    mail: Mailbox

    async def staff_token(self, who: tuple[str, str] = ADMIN) -> dict[str, str]:
        r = await self.client.post("/auth/staff/token", json={"email": who[0], "password": who[1]})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def login(self, email_: str, password: str, ip: str = "203.0.113.1") -> httpx.Response:
        return await self.client.post("/auth/token", json={"email": email_, "password": password},
                                      headers=proxied(ip))

    async def parent(self, email_: str, password: str) -> dict[str, str]:
        r = await self.login(email_, password)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def family_with_account(self, name: str, email_: str, password: str = "un-mot-de-passe",
                                  child: str | None = "Léa") -> tuple[str, dict[str, str]]:
        """A household created by staff, invitation accepted: (family_id, parent headers)."""
        staff = await self.staff_token()
        children = ([{"first_name": child, "last_name": name.split()[-1], "birth_date": "2017-05-14"}]
                    if child else [])
        r = await self.client.post("/staff/families", headers=staff, json={
            "name": name, "email": email_,
            "guardian": {"first_name": "Claire", "last_name": name.split()[-1]},
            "children": children})
        assert r.status_code == 201, r.text
        invitation = await self.mail.wait_for(email_, "accès au portail")
        r = await self.client.post("/auth/invitation/accept", json={
            "token": Mailbox.link_token(invitation), "password": password})
        assert r.status_code == 204, r.text
        return await self._family_id(staff, email_), await self.parent(email_, password)

    async def sign_up(self, email_: str, password: str = "un-mot-de-passe",
                      family_name: str | None = None, ip: str | None = None) -> httpx.Response:
        return await self.client.post("/auth/signup", headers=proxied(ip) if ip else None, json={
            "family_name": family_name or f"Famille {email_.split('@')[0]}", "email": email_,
            "password": password, "guardian": {"first_name": "Ana", "last_name": "Nouvelle"}})

    async def signed_up(self, email_: str, password: str = "un-mot-de-passe",
                        family_name: str | None = None) -> None:
        """Online sign-up, its emailed link opened: the account is active."""
        r = await self.sign_up(email_, password, family_name)
        assert r.status_code == 202, r.text
        message = await self.mail.wait_for(email_, "Confirmez votre adresse")
        r = await self.client.post("/auth/signup/confirm",
                                   json={"token": Mailbox.link_token(message)})
        assert r.status_code == 204, r.text

    async def _family_id(self, staff: dict[str, str], email_: str) -> str:
        r = await self.client.get("/staff/families", params={"q": email_}, headers=staff)
        return r.json()["items"][0]["id"]


@pytest.fixture
async def identity(database_url: str, smtp: Mailbox, tmp_path) -> AsyncIterator[Identity]:
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, database_url)
    settings = IdentitySettings(database_url=database_url, kafka_enabled=False,
                                smtp_port=smtp.port, identity_url="http://identity.test",
                                proxy_secret=PROXY_SECRET)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        from marelle_identity.usecases.accounts import ensure_staff_account

        await ensure_staff_account(app.state.uow_factory(), *ADMIN, "Admin",
                                   ["administrator", "manager"])
        await ensure_staff_account(app.state.uow_factory(), *MANAGER, "Gestion", ["manager"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity.test") as client:
            yield Identity(client, app, smtp)
