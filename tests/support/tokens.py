"""Test access tokens signed with a throwaway key, verified by the real chassis verifier."""

from __future__ import annotations

import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from marelle_chassis.auth import AUDIENCE, ISSUER, TokenVerifier

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_KID = "test-key"


def jwks() -> dict:
    jwk = json.loads(RSAAlgorithm.to_jwk(_KEY.public_key()))
    return {"keys": [{**jwk, "kid": _KID}]}


def verifier() -> TokenVerifier:
    return TokenVerifier(jwks=jwks())


def _sign(claims: dict) -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims},
                       _KEY, algorithm="RS256", headers={"kid": _KID})
    return {"Authorization": f"Bearer {token}"}


def parent(family_id: uuid.UUID) -> dict[str, str]:
    return _sign({"sub": str(uuid.uuid4()), "kind": "parent", "family_id": str(family_id)})


def staff(roles: tuple[str, ...] = ("administrator", "manager")) -> dict[str, str]:
    return _sign({"sub": str(uuid.uuid4()), "kind": "staff", "roles": list(roles),
                  "email": "agent@marelle.local", "name": "Agent"})
