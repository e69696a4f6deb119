"""The whole system as separate processes: every service, the gateway and the back-office,
on the real broker and PostgreSQL (one database per service), for end-to-end tests."""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.support.infra import ROOT, create_pg_database, free_port

DOMAIN_SERVICES = ["identity", "enrolment", "booking", "billing"]
ADMIN = ("admin@marelle.local", "marelle-admin")


@dataclass
class Process:
    name: str
    module: str
    prefix: str
    env: dict[str, str]
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen([sys.executable, "-m", self.module, "serve"],
                                      env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.popen.returncode}); see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if not self.popen or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final commit."""
        self.stop(signal.SIGKILL)


class Mailbox:
    """A real SMTP server (aiosmtpd) in the test process: identity sends the families' emails here."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content,  # type: ignore[attr-defined]
                                                      policy=email.policy.default))
        return "250 OK"

    def find(self, to: str, subject_part: str, timeout: float = 20.0) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if message["To"] == to and subject_part in str(message["Subject"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no email to {to} about {subject_part!r}")

    @staticmethod
    def text(message: email.message.EmailMessage) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    @classmethod
    def link(cls, message: email.message.EmailMessage) -> str:
        return re.search(r"https?://\S+", cls.text(message)).group(0)  # type: ignore[union-attr]


@dataclass
class Stack:
    processes: dict[str, Process] = field(default_factory=dict)
    mailbox: Mailbox | None = None

    def url(self, name: str) -> str:
        return self.processes[name].url

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    @property
    def backoffice_url(self) -> str:
        return self.url("backoffice")

    def restart(self, name: str) -> None:
        self.processes[name].start()
        self.processes[name].wait_ready()


def _migrate_and_seed(module: str, env: dict[str, str], log_path: Path, seed: bool) -> None:
    for command in (["migrate"] + (["seed-demo"] if seed else [])):
        with log_path.open("ab") as log:
            subprocess.run([sys.executable, "-m", module, command], env=env, stdout=log,
                           stderr=subprocess.STDOUT, cwd=ROOT, check=True, timeout=120)


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, pg_base_url: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Stack]:
    import asyncio

    logs = ROOT / "var" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in DOMAIN_SERVICES + ["gateway", "backoffice"]}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    base_env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    base_env.update({"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PYTHONUNBUFFERED": "1",
                     "MARELLE_VAR_DIR": str(tmp_path_factory.mktemp("var")),
                     # Development mode, one proxy secret for all, cookies over plain HTTP.
                     "MARELLE_ENV": "development",
                     "MARELLE_PROXY_SECRET": secrets.token_urlsafe(32),
                     "GATEWAY_COOKIE_SECURE": "false", "BACKOFFICE_COOKIE_SECURE": "false",
                     # Their unit tests turn the revocation feed off; the stack has a broker.
                     "GATEWAY_KAFKA_ENABLED": "true", "BACKOFFICE_KAFKA_ENABLED": "true"})
    mailbox = Mailbox()
    mailbox.controller.start()
    base_env.update({"IDENTITY_SMTP_PORT": str(mailbox.port), "IDENTITY_PORTAL_URL": urls["gateway"]})
    stack = Stack(mailbox=mailbox)
    for name in DOMAIN_SERVICES + ["gateway", "backoffice"]:
        prefix = name.upper() + "_"
        env = dict(base_env)
        env[f"{prefix}PORT"] = str(ports[name])
        for other in DOMAIN_SERVICES:
            env[f"{prefix}{other.upper()}_URL"] = urls[other]
        if name == "billing":
            # The local sandbox bank plays the card provider (never on in production).
            env.update({"BILLING_PAYMENT_SANDBOX": "true", "BILLING_PUBLIC_URL": urls["billing"]})
        if name in DOMAIN_SERVICES:
            env[f"{prefix}DATABASE_URL"] = asyncio.run(create_pg_database(pg_base_url, f"e2e_{name}"))
        stack.processes[name] = Process(name, f"marelle_{name}", prefix, env, ports[name],
                                        logs / f"{name}.log")
    try:
        for name in DOMAIN_SERVICES:
            p = stack.processes[name]
            _migrate_and_seed(p.module, p.env, p.log_path, seed=name == "identity")
        for p in stack.processes.values():
            p.start()
        for p in stack.processes.values():
            p.wait_ready()
        yield stack
    finally:
        for p in stack.processes.values():
            p.stop()
        mailbox.controller.stop()


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    return stack.gateway_url


@pytest.fixture
async def staff_client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(f"{stack.url('identity')}/auth/staff/token",
                                     json={"email": ADMIN[0], "password": ADMIN[1]})
        response.raise_for_status()
        client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        yield client
