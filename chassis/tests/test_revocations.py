"""Ended sessions: the verifier refuses their access tokens at once (before they expire)."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import RSAAlgorithm

from marelle_chassis.auth import (
    AUDIENCE,
    ISSUER,
    Principal,
    TokenVerifier,
    principal_dependency,
    verifier_from_app,
)
from marelle_chassis.errors import Unauthorized, install_problem_handlers
from marelle_chassis.http import NoStoreMiddleware
from marelle_chassis.revocations import Revocations
from marelle_contracts import new_envelope
from marelle_contracts.identity import SessionsRevoked

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
JWKS = {"keys": [{**json.loads(RSAAlgorithm.to_jwk(KEY.public_key())), "kid": "k1"}]}
ACCOUNT = str(uuid.uuid4())


def token(*, sub: str = ACCOUNT, sid: str | None = None, iat: float | None = None) -> str:
    now = time.time() if iat is None else iat
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": int(now), "exp": int(now) + 900,
              "sub": sub, "kind": "parent", "family_id": str(uuid.uuid4())}
    if sid:
        claims["sid"] = sid
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


def revoked(session_id: str | None, before: datetime, account: str = ACCOUNT):
    return new_envelope(SessionsRevoked(account_id=uuid.UUID(account), session_id=session_id,
                                        revoked_before=before, reason="logout"),
                        producer="identity")


@pytest.fixture
def revocations() -> Revocations:
    return Revocations()


@pytest.fixture
def verifier(revocations: Revocations) -> TokenVerifier:
    return TokenVerifier(jwks=JWKS, revocations=revocations)


async def test_a_token_of_an_ended_session_is_refused(verifier, revocations):
    session, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine, same_account_other_device = token(sid=session), token(sid=other)
    assert (await verifier.verify(mine)).subject == ACCOUNT
    assert revocations.apply(revoked(session, datetime.now(UTC)))
    with pytest.raises(Unauthorized, match="session a été fermée"):
        await verifier.verify(mine)
    # Only that session: the family's other device stays signed in.
    assert (await verifier.verify(same_account_other_device)).subject == ACCOUNT


async def test_revoking_every_session_refuses_tokens_issued_until_then(verifier, revocations):
    issued = time.time() - 60
    old_with_sid, old_without_sid = token(sid=str(uuid.uuid4()), iat=issued), token(iat=issued)
    revocations.apply(revoked(None, datetime.now(UTC) - timedelta(seconds=10)))
    for old in (old_with_sid, old_without_sid):
        with pytest.raises(Unauthorized):
            await verifier.verify(old)
    # A login after the password change gives a token that works.
    assert (await verifier.verify(token())).subject == ACCOUNT
    # Another account is not concerned.
    assert (await verifier.verify(token(sub=str(uuid.uuid4()), iat=issued)))


async def test_other_events_of_the_topic_are_ignored(revocations):
    from marelle_contracts.identity import EmailChanged

    event = new_envelope(EmailChanged(family_id=uuid.uuid4(), new_email="a@example.fr"),
                         producer="identity")
    assert not revocations.apply(event)
    assert len(revocations) == 0


async def test_a_logged_out_token_is_refused_by_this_process_at_once(verifier, revocations):
    mine, next_login = token(), token()
    revocations.revoke_token(mine, time.time() + 900)
    with pytest.raises(Unauthorized):
        await verifier.verify(mine)
    assert (await verifier.verify(next_login)).subject == ACCOUNT


def test_revocations_are_forgotten_once_no_token_they_concern_can_be_alive():
    now = [1_000_000.0]
    revocations = Revocations(memory_seconds=1200, clock=lambda: now[0])
    at = datetime.fromtimestamp(now[0], UTC)
    revocations.revoke(ACCOUNT, "s1", at)
    revocations.revoke(ACCOUNT, None, at)
    assert revocations.is_revoked(ACCOUNT, "s1", now[0] + 5)
    assert revocations.is_revoked(ACCOUNT, None, now[0] - 1)
    now[0] += 1199
    revocations.revoke(str(uuid.uuid4()), None, datetime.fromtimestamp(now[0], UTC))
    assert revocations.is_revoked(ACCOUNT, "s1", now[0])  # still within the memory
    now[0] += 61
    revocations.revoke(str(uuid.uuid4()), None, datetime.fromtimestamp(now[0], UTC))  # prunes
    assert not revocations.is_revoked(ACCOUNT, "s1", now[0])
    assert not revocations.is_revoked(ACCOUNT, None, now[0] - 1300)


async def test_a_service_answers_401_to_a_revoked_token_and_never_lets_answers_be_cached():
    revocations = Revocations()
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(NoStoreMiddleware)
    app.state.token_verifier = TokenVerifier(jwks=JWKS, revocations=revocations)
    current = principal_dependency(verifier_from_app)

    @app.get("/me")
    async def me(p: Principal = Depends(current)):
        return {"sub": p.subject}

    session = str(uuid.uuid4())
    headers = {"authorization": f"Bearer {token(sid=session)}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.get("/me", headers=headers)
        assert ok.status_code == 200
        assert ok.headers["cache-control"] == "no-store"
        revocations.apply(revoked(session, datetime.now(UTC)))
        refused = await client.get("/me", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "reconnectez-vous" in refused.json()["detail"]
    assert refused.headers["cache-control"] == "no-store"
