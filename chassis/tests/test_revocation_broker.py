"""On the real broker: a service built with the chassis refuses a token within seconds of
identity publishing `identity.sessions_revoked` for its session, and a process started after the
revocation still knows it (replay of the recent window)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from typing import ClassVar

from marelle_chassis import db
from marelle_chassis.auth import AUDIENCE, ISSUER
from marelle_chassis.messaging import create_broker, publish_raw
from marelle_chassis.outbox import envelope_headers
from marelle_chassis.runtime import ServiceRuntime, create_service_app
from marelle_chassis.settings import ServiceSettings
from marelle_contracts import Topics, new_envelope
from marelle_contracts.identity import SessionsRevoked

pytestmark = [pytest.mark.kafka]

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k-revocation"}]}


class _Settings(ServiceSettings):
    service_name: ClassVar[str] = "revocation-test"


def staff_token(account: str, session: str) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 900,
                       "sub": account, "sid": session, "kind": "staff",
                       "roles": ["administrator"]}, KEY, algorithm="RS256",
                      headers={"kid": "k-revocation"})


async def _service(kafka: str, tmp: Path, name: str):
    settings = _Settings(database_url=f"sqlite+aiosqlite:///{tmp / (name + '.sqlite3')}",
                         kafka_bootstrap_servers=kafka)
    metadata = db.new_metadata()
    runtime = ServiceRuntime(settings, metadata, tmp)
    async with runtime.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    runtime.token_verifier._load(JWKS)  # no identity here: its public key, as the JWKS says
    return create_service_app(runtime, title="test", routers=[])


async def _publish(kafka: str, payload: SessionsRevoked) -> None:
    envelope = new_envelope(payload, producer="identity")
    broker = create_broker(kafka, client_id="identity-test")
    await broker.start()
    try:
        delivery = await publish_raw(broker, Topics.IDENTITY, envelope.key.encode(),
                                     envelope.model_dump_json().encode(),
                                     envelope_headers(envelope))
        await delivery
    finally:
        await broker.stop()


async def _status(app, token: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/staff/outbox/parked",
                                    headers={"authorization": f"Bearer {token}"})
    return response.status_code


async def test_a_revoked_session_is_refused_by_a_running_service_and_a_new_one(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    account, session, other = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    token, other_session = staff_token(account, session), staff_token(account, other)
    app = await _service(kafka_bootstrap, tmp_path, "running")
    async with app.router.lifespan_context(app):
        assert await _status(app, token) == 200
        await _publish(kafka_bootstrap, SessionsRevoked(
            account_id=uuid.UUID(account), session_id=uuid.UUID(session),
            revoked_before=datetime.now(UTC), reason="logout"))
        deadline = time.monotonic() + 10
        while await _status(app, token) != 401:
            assert time.monotonic() < deadline, "token still accepted 10 s after the revocation"
            await asyncio.sleep(0.1)
        assert await _status(app, other_session) == 200  # the family's other session lives on

    # A process started after the event (a restart, a new replica) reads it back at start.
    later = await _service(kafka_bootstrap, tmp_path, "later")
    async with later.router.lifespan_context(later):
        assert await _status(later, token) == 401
        assert await _status(later, other_session) == 200
