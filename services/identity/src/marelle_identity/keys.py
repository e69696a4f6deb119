"""Token signing keys: RSA, kept in identity's database, public halves published as JWKS."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from marelle_chassis.auth import ALGORITHM, AUDIENCE, ISSUER
from marelle_identity.db import signing_key


@dataclass
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


class KeyRing:
    def __init__(self) -> None:
        self.keys: list[SigningKey] = []

    async def load_or_create(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            rows = (await session.execute(select(signing_key).order_by(signing_key.c.created_at))).all()
            if not rows:
                # Once, on the very first start; ~0.1 s of CPU: off the event loop all the same.
                private = await asyncio.to_thread(rsa.generate_private_key, public_exponent=65537,
                                                  key_size=2048)
                pem = private.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode()
                await session.execute(insert(signing_key).values(
                    kid=uuid.uuid4().hex, private_pem=pem, active=True,
                    created_at=datetime.now(UTC)))
                await session.commit()
                rows = (await session.execute(select(signing_key))).all()
        self.keys = [
            SigningKey(r.kid, serialization.load_pem_private_key(r.private_pem.encode(), None))  # type: ignore[arg-type]
            for r in rows
        ]
        self._active = next((k for k, r in zip(self.keys, rows) if r.active), self.keys[-1])
        self._jwks = {"keys": [k.public_jwk() for k in self.keys]}

    def jwks(self) -> dict[str, Any]:
        """Computed once per load: the keys do not change while the process runs."""
        return self._jwks

    # RS256 signing costs ~0.4 ms of CPU here (Argon2: ~100-250 ms): it stays on the event loop,
    # where a thread hop would cost about as much as the signature.
    def sign(self, claims: dict[str, Any], ttl_seconds: int, issued_at: float | None = None) -> str:
        """`iat` in milliseconds (a JSON number, as RFC 7519 allows): a session revoked at
        12:00:00.400 must not also refuse the new login of 12:00:00.700. Truncated, never
        rounded up, so a token is never dated after the moment it was issued."""
        issued = time.time() if issued_at is None else issued_at
        iat = math.floor(issued * 1000) / 1000
        body = {"iss": ISSUER, "aud": AUDIENCE, "iat": iat, "exp": int(issued) + ttl_seconds,
                "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(body, self._active.private_key, algorithm=ALGORITHM,
                          headers={"kid": self._active.kid})
