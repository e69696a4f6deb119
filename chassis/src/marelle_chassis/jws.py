"""Verifying an access token (compact JWS, RS256 only) with `cryptography` directly.

Why not `jwt.decode`: at an opening every submission carries a token its process has never seen,
and verifying it is done twice (gateway, then the service). PyJWT checks each character of
the token's three segments in a Python loop and validates claims through layers of options;
that was 0.1–0.3 ms of CPU per verification in bench/rush.py, most of it not the RSA check.
This module does the same checks, stricter where PyJWT is lenient, in compiled code: one
regular expression over the token, `binascii` decoding, orjson, the RSA signature by OpenSSL.
Identity still signs with PyJWT; the tests compare both on valid and forged tokens.

What is refused (`Refused`, or `Expired` for a past `exp`):
- anything but three base64url segments without padding, in canonical form;
- a header that is not a JSON object, an `alg` other than RS256, a `kid` that is not a known
  key's, any `crit` (no extension is supported), `b64`;
- a bad signature (PKCS#1 v1.5 with SHA-256, the key being RSA);
- a payload that is not a JSON object; `exp`, `iat`, `sub` missing; `exp`, `iat`, `nbf`
  that are not numbers; `iat` or `nbf` in the future, `exp` past (with `leeway` seconds);
  an `aud` without `audience` (string or list of strings), an `iss` other than `issuer`;
  a `sub` or `jti` that is not a string.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.hashes import SHA256

ALGORITHM = "RS256"
_TOKEN = re.compile(rb"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_PKCS1 = padding.PKCS1v15()
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


class Refused(ValueError):
    """The token is not a valid one (its reason, for logs: never shown as is)."""


class Expired(Refused):
    pass


def _segment(raw: bytes) -> bytes:
    # The alphabet was checked by _TOKEN: only the length and the last character's spare bits
    # remain (canonical form: one token, one spelling).
    if len(raw) % 4 == 1:
        raise Refused("segment length")
    standard = raw.translate(_TO_STANDARD)
    decoded = binascii.a2b_base64(standard + b"=" * (-len(raw) % 4))
    if binascii.b2a_base64(decoded, newline=False).rstrip(b"=") != standard:
        raise Refused("segment not canonical")
    return decoded


def _object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refused(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(f"{what} is not a JSON object")
    return value


def header_kid(token: str) -> str:
    """The `kid` of a well-formed token's header (to choose the key; nothing is verified)."""
    match = _TOKEN.fullmatch(token.encode("ascii", "replace"))
    if match is None:
        raise Refused("not a compact JWS")
    kid = _object(_segment(match[1]), "header").get("kid")
    if not isinstance(kid, str):
        raise Refused("kid")
    return kid


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"{name} is not a number")
    return float(value)


def verify(token: str, keys: Mapping[str, Any], *, audience: str, issuer: str, now: float,
           leeway: float = 0.0) -> dict[str, Any]:
    """The claims of `token` if it is an RS256 JWS signed by one of `keys` (by `kid`) and valid
    at `now` (Unix seconds); `Refused` / `Expired` otherwise."""
    match = _TOKEN.fullmatch(token.encode("ascii", "replace"))
    if match is None:
        raise Refused("not a compact JWS")
    header = _object(_segment(match[1]), "header")
    if header.get("alg") != ALGORITHM:
        raise Refused("alg")
    if "crit" in header or "b64" in header:
        raise Refused("unsupported header parameter")
    key = keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
    if not isinstance(key, RSAPublicKey):
        raise Refused("unknown kid")
    signing_input = match[0][: match.end(2)]
    try:
        key.verify(_segment(match[3]), signing_input, _PKCS1, SHA256())
    except InvalidSignature:
        raise Refused("signature") from None
    claims = _object(_segment(match[2]), "payload")
    for name in ("exp", "iat", "sub"):
        if claims.get(name) is None:
            raise Refused(f"{name} missing")
    if _number(claims, "iat") > now + leeway:
        raise Refused("iat in the future")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise Refused("not yet valid")
    if _number(claims, "exp") <= now - leeway:
        raise Expired("expired")
    if claims.get("iss") != issuer:
        raise Refused("iss")
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud
                                and all(isinstance(a, str) for a in aud))):
        raise Refused("aud")
    if not isinstance(claims["sub"], str) or not isinstance(claims.get("jti", ""), str):
        raise Refused("sub or jti")
    return claims
