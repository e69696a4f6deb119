"""Throttling that holds (atomic SQL counters, the client address only from a proven proxy,
every guessable endpoint counted, unknown accounts as slow as known ones) and production safety
(no start with known or missing secrets, no demo data, the first administrator)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from marelle_chassis import migrations
from marelle_identity.config import IdentitySettings
from marelle_identity.db import login_throttle
from marelle_identity.domain import throttle
from marelle_identity.main import MIGRATIONS, create_app, production_problems, seed_demo
from marelle_identity.usecases import common, throttling

PROXY_SECRET = "secret-partage-de-test-" + "x" * 16  # as in conftest's settings


def proxied(ip: str) -> dict[str, str]:
    return {"X-Marelle-Client-Address": ip, "X-Marelle-Proxy-Secret": PROXY_SECRET}

pytestmark = pytest.mark.postgres


async def test_a_client_address_without_the_proxy_secret_is_ignored(identity):
    """Anyone can write X-Marelle-Client-Address: without the shared secret it is ignored and
    the counter keys on the TCP peer, so changing the header on every guess gains nothing."""
    await identity.family_with_account("Famille Faux", "faux@example.org", "mot-de-passe-1")
    for i in range(5):
        forged = {"X-Marelle-Client-Address": f"198.51.100.{i + 1}"}
        if i % 2:
            forged["X-Marelle-Proxy-Secret"] = "pas-le-bon-secret"
        r = await identity.client.post("/auth/token", headers=forged, json={
            "email": "faux@example.org", "password": "devine-devine"})
        assert r.status_code == 401
    r = await identity.client.post("/auth/token", headers={
        "X-Marelle-Client-Address": "198.51.100.99", "X-Forwarded-For": "198.51.100.98"},
        json={"email": "faux@example.org", "password": "mot-de-passe-1"})
    assert r.status_code == 429
    async with identity.app.state.uow_factory() as uow:
        keys = set(await uow.session.scalars(select(login_throttle.c.key)))
    peer = "127.0.0.1"  # httpx's ASGI transport
    assert f"login:parent:faux@example.org@{peer}" in keys
    assert not [k for k in keys if "198.51.100." in k]
    # Proven by the secret, the same header is the end user's address.
    ok = await identity.client.post("/auth/token", headers=proxied("192.0.2.77"), json={
        "email": "faux@example.org", "password": "mot-de-passe-1"})
    assert ok.status_code == 200


async def test_parallel_attempts_each_count(identity):
    """N attempts at once count N: one atomic upsert each (a read-then-write would lose some)."""
    limit = throttle.Limit(attempts=1000, window=throttle.WINDOW)
    factory = identity.app.state.uow_factory

    async def attempt() -> None:
        await throttling.charge_alone(factory(), {"test:parallel": limit}, "de test")

    await asyncio.gather(*(attempt() for _ in range(25)))
    async with factory() as uow:
        failures = await uow.session.scalar(select(login_throttle.c.failures)
                                            .where(login_throttle.c.key == "test:parallel"))
    assert failures == 25


async def test_a_refused_attempt_does_not_lengthen_the_wait(identity):
    factory = identity.app.state.uow_factory
    limit = throttle.Limit(attempts=2, window=throttle.WINDOW)
    for _ in range(2):
        await throttling.charge_alone(factory(), {"test:refused": limit}, "de test")
    for _ in range(3):
        with pytest.raises(Exception) as refused:
            await throttling.charge_alone(factory(), {"test:refused": limit}, "de test")
        assert refused.value.status == 429
    async with factory() as uow:
        assert await uow.session.scalar(select(login_throttle.c.failures)
                                        .where(login_throttle.c.key == "test:refused")) == 2


async def test_password_reset_requests_are_throttled(identity):
    for _ in range(3):
        r = await identity.client.post("/auth/password-reset", headers=proxied("198.51.100.5"),
                                       json={"email": "quelquun@example.org"})
        assert r.status_code == 202
    r = await identity.client.post("/auth/password-reset", headers=proxied("198.51.100.5"),
                                   json={"email": "quelquun@example.org"})
    assert r.status_code == 429 and "réessayez dans" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) > 0
    r = await identity.client.post("/auth/password-reset", headers=proxied("192.0.2.5"),
                                   json={"email": "quelquun@example.org"})
    assert r.status_code == 202


async def test_signup_is_throttled_per_address(identity):
    def body(i: int) -> dict:
        return {"family_name": f"Famille N{i}", "email": f"n{i}@example.org",
                "password": "mot-de-passe-neuf", "guardian": {"first_name": "A", "last_name": "N"}}

    for i in range(throttle.SIGNUP_ADDRESS.attempts):
        r = await identity.client.post("/auth/signup", headers=proxied("198.51.100.8"), json=body(i))
        assert r.status_code == 202, r.text
    r = await identity.client.post("/auth/signup", headers=proxied("198.51.100.8"), json=body(99))
    assert r.status_code == 429 and "d'inscription" in r.json()["detail"]
    r = await identity.client.post("/auth/signup", headers=proxied("192.0.2.8"), json=body(99))
    assert r.status_code == 202


async def test_signup_is_throttled_per_email(identity):
    """Each sign-up sends an email to the address given: nobody floods a mailbox through the
    form, from however many addresses."""
    for i in range(throttle.SIGNUP_EMAIL.attempts):
        r = await identity.sign_up("cible@example.org", ip=f"198.51.100.{30 + i}")
        assert r.status_code == 202, r.text
    r = await identity.sign_up("cible@example.org", ip="198.51.100.60")
    assert r.status_code == 429 and "d'inscription" in r.json()["detail"]


async def test_link_guessing_is_throttled(identity):
    for _ in range(throttle.LINK_ADDRESS.attempts):
        r = await identity.client.post("/auth/one-time-token", headers=proxied("198.51.100.9"),
                                       json={"token": "x" * 43, "purpose": "reset"})
        assert r.status_code == 400
    r = await identity.client.post("/auth/password-reset/confirm", headers=proxied("198.51.100.9"),
                                   json={"token": "x" * 43, "password": "mot-de-passe-neuf"})
    assert r.status_code == 429


async def test_password_change_is_throttled(identity):
    _, parent = await identity.family_with_account("Famille Essai", "essai@example.org",
                                                   "mot-de-passe-1")
    for _ in range(throttle.PASSWORD_CHANGE.attempts):
        r = await identity.client.post("/me/password", headers=parent, json={
            "current_password": "faux-faux-faux", "new_password": "mot-de-passe-2"})
        assert r.status_code == 400
    r = await identity.client.post("/me/password", headers=parent, json={
        "current_password": "mot-de-passe-1", "new_password": "mot-de-passe-2"})
    assert r.status_code == 429


async def test_an_unknown_account_costs_the_same_argon2_work(identity, monkeypatch):
    """One Argon2 check in the worker thread whether the account exists or not (no early
    answer that would tell, by its speed, which addresses have an account)."""
    await identity.family_with_account("Famille Temps", "temps@example.org", "mot-de-passe-1")
    calls: Counter[str] = Counter()
    real = common.hasher

    class Spy:
        def hash(self, password: str) -> str:
            calls["hash"] += 1
            return real.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            calls["verify"] += 1
            return real.verify(password_hash, password)

    monkeypatch.setattr(common, "hasher", Spy())
    for email in ("temps@example.org", "personne-ici@example.org"):
        calls.clear()
        r = await identity.login(email, "pas-le-bon-1")
        assert r.status_code == 401
        assert calls == Counter(verify=1), (email, calls)
        calls.clear()
        r = await identity.client.post("/auth/staff/token", json={"email": email,
                                                                  "password": "pas-le-bon-1"})
        assert r.status_code == 401 and calls == Counter(verify=1)


# --- production safety ----------------------------------------------------------------------

def production(**values) -> IdentitySettings:
    return IdentitySettings(environment="production", kafka_enabled=False, **values)


SAFE = {"proxy_secret": "k" * 24 + "-secret-de-prod-tres-long",
        "portal_url": "https://famille.ville.example",
        "totp_key": "Zm9yLXRlc3RzLW9ubHktYS1yZWFsLWtleS0wMDAwMDA="}


def test_a_production_start_refuses_missing_or_known_secrets():
    problems = " ".join(production_problems(production()))
    assert "MARELLE_PROXY_SECRET" in problems and "IDENTITY_PORTAL_URL" in problems
    assert production_problems(production(**SAFE)) == []
    assert "MARELLE_PROXY_SECRET" in " ".join(
        production_problems(production(**{**SAFE, "proxy_secret": "marelle-proxy-secret"})))
    unsafe_mail = production_problems(production(**SAFE, smtp_starttls=False))
    assert ["SMTP" in p for p in unsafe_mail] == [True]
    assert production_problems(production(**SAFE, smtp_user="mailer")) != []
    with pytest.raises(RuntimeError, match="MARELLE_PROXY_SECRET"):
        create_app(production(database_url="sqlite+aiosqlite:///:memory:"))
    # Development, on the other hand, runs with the local mailbox.
    assert production_problems(IdentitySettings(environment="development")) == []


def test_smtp_uses_starttls_by_default_in_production_only():
    assert production().smtp_security == "starttls"
    assert IdentitySettings(environment="development").smtp_security == "none"
    assert production(smtp_starttls=False).smtp_security == "none"
    assert production(smtp_security="tls").smtp_security == "tls"


async def test_seed_demo_refuses_production(tmp_path):
    with pytest.raises(SystemExit, match="seed-demo refusé en production"):
        await seed_demo(production(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3"))


async def test_a_production_database_with_a_demo_password_does_not_start(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/identity.sqlite3"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, url)
    await seed_demo(IdentitySettings(environment="development", database_url=url,
                                     kafka_enabled=False, mail_enabled=False))
    app = create_app(production(database_url=url, mail_enabled=False, **SAFE))
    with pytest.raises(RuntimeError, match="admin@marelle.local"):
        async with app.router.lifespan_context(app):
            pass


def test_create_admin_prints_a_one_time_password_once(tmp_path):
    env = {**os.environ, "MARELLE_ENV": "production", "IDENTITY_KAFKA_ENABLED": "false",
           "IDENTITY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/identity.sqlite3",
           "MARELLE_PROXY_SECRET": PROXY_SECRET}
    command = [sys.executable, "-m", "marelle_identity", "create-admin",
               "--email", "maire@ville.example"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "maire@ville.example" in first.stdout and "usage unique" in first.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "existe déjà" in again.stderr
