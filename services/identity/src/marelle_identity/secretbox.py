"""Secrets identity must read back (the staff's TOTP seeds), encrypted at rest with Fernet
(AES-128-CBC + HMAC-SHA256, from `cryptography`): a stolen copy of the database or of a backup
does not give the second factor.

The key is `IDENTITY_TOTP_KEY` (`Fernet.generate_key()`: 32 bytes, url-safe base64). Development
and tests fall back to `DEVELOPMENT_KEY`, which is published here: production refuses it, and
refuses a missing or malformed key (`main.production_problems`).
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

# Published on purpose (development and tests only): production refuses it.
DEVELOPMENT_KEY = "bWFyZWxsZS1kZXZlbG9wbWVudC10b3RwLWtleS0zMmI="
ENV = "IDENTITY_TOTP_KEY"


def key_problem(key: str | None) -> str | None:
    """Why `key` cannot protect the secrets in production, or None."""
    if not key:
        return f"{ENV} est absent"
    if key == DEVELOPMENT_KEY:
        return f"{ENV} a la valeur publiée de développement"
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return f"{ENV} n'est pas une clé Fernet (32 octets en base64 url-safe)"
    return None


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def effective_key(key: str | None) -> str:
    return key or DEVELOPMENT_KEY


def seal(key: str | None, secret: str) -> str:
    return _fernet(effective_key(key)).encrypt(secret.encode()).decode()


def unseal(key: str | None, token: str) -> str:
    """The clear secret; a token sealed with another key is an error (never taken as clear)."""
    try:
        return _fernet(effective_key(key)).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError(f"secret TOTP illisible avec la clé {ENV} actuelle") from exc


def key_from_environment() -> str:
    """For the migration, which runs without the service's settings."""
    return effective_key(os.environ.get(ENV, ""))
