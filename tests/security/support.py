"""The attack suite's tools: forged tokens, the operations of an OpenAPI document, their URLs
filled with a household's ids, and the check that an answer leaks nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from marelle_chassis.auth import AUDIENCE, ISSUER
from tests.support import tokens

METHODS = ("get", "post", "put", "patch", "delete")

# Operations anyone may call, and why. Every other operation of every service must refuse an
# anonymous call: an endpoint added without a protection fails the matrix until it is listed here.
PUBLIC: dict[str, str] = {
    r"GET /health/(live|ready)": "sondes de l'orchestrateur, sans donnée",
    r"GET /\.well-known/jwks\.json": "clés publiques de vérification des jetons",
    r"POST /auth/(token|refresh|logout|password-reset|password-reset/confirm|one-time-token"
    r"|invitation/accept|signup|staff/token|staff/password|email/confirm|signup/confirm)":
        "connexion, renouvellement, mot de passe oublié, inscription : la preuve est dans le "
        "corps (mot de passe, jeton à usage unique), limitée en débit",
    r"GET /calendar-feeds/\{token\}\.ics": "flux d'agenda : le jeton secret du chemin est la "
                                           "preuve (révocable par la famille)",
    r"(GET|POST) /payments/callback/\{regie_code\}": "notification signée du prestataire de "
                                                     "paiement (signature vérifiée par le backend)",
    r"(GET|POST) /sandbox-bank/.*": "banque de démonstration, refusée en production",
    # The gateway's JSON API.
    r"GET /api/v1/health": "état agrégé des services, sans donnée",
    r"POST /api/v1/auth/.*": "connexion et inscription des applications (voir identity)",
}


# Failures this suite found in code outside it, reported for a fix: "METHOD path", or
# "METHOD path [postgresql]" when only that database fails. Tolerated meanwhile, strictly: a
# listed operation that stops failing fails the suite until its line is removed.
KNOWN_BUGS: dict[str, str] = {}


def known_bug(key: str, database: str) -> bool:
    return key in KNOWN_BUGS or f"{key} [{database}]" in KNOWN_BUGS


def is_public(method: str, path: str) -> bool:
    key = f"{method.upper()} {path}"
    return any(re.fullmatch(pattern, key) for pattern in PUBLIC)


# --- forged tokens -----------------------------------------------------------------------------

_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
            "sub": str(uuid.uuid4()), "kind": "staff", "roles": ["administrator", "manager"],
            **extra}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(family_id: uuid.UUID | None = None) -> dict[str, dict[str, str]]:
    """Tokens every protected operation must refuse (401), each claiming the most powerful
    identity: an administrator, or the parent of `family_id`."""
    claims = (_claims(kind="parent", family_id=str(family_id), roles=[]) if family_id
              else _claims())
    now = int(time.time())
    public_pem = tokens._KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": tokens._KID}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    confused = signing_input + "." + _b64(hmac.new(public_pem, signing_input.encode(),
                                                   hashlib.sha256).digest())
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": tokens._KID}).encode())
    return {
        "anonyme": {},
        "schéma autre que Bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "jeton expiré": bearer(jwt.encode({**claims, "iat": now - 3600, "exp": now - 60},
                                          tokens._KEY, algorithm="RS256",
                                          headers={"kid": tokens._KID})),
        "jeton signé par une autre clé": bearer(jwt.encode(claims, _OTHER_KEY, algorithm="RS256",
                                                           headers={"kid": tokens._KID})),
        "jeton d'une clé inconnue": bearer(jwt.encode(claims, _OTHER_KEY, algorithm="RS256",
                                                      headers={"kid": "cle-pirate"})),
        "jeton alg none": bearer(f"{none_header}.{_b64(json.dumps(claims).encode())}."),
        "jeton HS256 signé avec la clé publique": bearer(confused),
        "jeton d'un autre émetteur": bearer(jwt.encode({**claims, "iss": "pirate"}, tokens._KEY,
                                                       algorithm="RS256",
                                                       headers={"kid": tokens._KID})),
        "jeton illisible": bearer("pas.un.jeton"),
    }


# --- operations --------------------------------------------------------------------------------

@dataclass
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def protected(self) -> bool:
        return bool(self.spec.get("security"))

    @property
    def has_body(self) -> bool:
        return "requestBody" in self.spec

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.path)


def operations(spec: dict[str, Any], prefix: str = "") -> list[Operation]:
    return [Operation(method, path, op) for path, ops in spec["paths"].items()
            if path.startswith(prefix) for method, op in ops.items() if method in METHODS]


@dataclass
class Household:
    """A seeded household: its ids (by path parameter name) and the words only it has."""

    family_id: uuid.UUID
    ids: dict[str, Any] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return tokens.parent(self.family_id)


def url(op: Operation, ids: dict[str, Any]) -> str:
    """The operation's path with its parameters: the household's ids, else valid-looking values
    (a random UUID, today, a code) so that only the authorization can refuse the call."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ids:
            return str(ids[name])
        schema = next((p.get("schema", {}) for p in op.spec.get("parameters", [])
                       if p.get("name") == name), {})
        if schema.get("format") == "date" or name == "day":
            return date.today().isoformat()
        if schema.get("type") == "integer":
            return "1"
        if schema.get("format") == "uuid" or name.endswith("_id"):
            return str(uuid.uuid4())
        return "ENFANCE"

    return re.sub(r"\{([^}]+)\}", value, op.path)


def leaks(body: str, household: Household, url_: str) -> list[str]:
    """What of the household's data an answer shows (its ids other than those the caller put in
    the URL, its names, its email)."""
    found = [s for s in household.secrets if s.lower() in body.lower()]
    found += [str(v) for v in household.ids.values()
              if str(v) and str(v) not in url_ and str(v) in body]
    return found


def is_problem(response: Any) -> bool:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return False
    body = response.json()
    return {"type", "title", "status", "detail"} <= set(body) \
        and body["status"] == response.status_code
