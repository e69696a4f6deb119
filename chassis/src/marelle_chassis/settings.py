"""Settings base: one environment prefix per service, `KAFKA_BOOTSTRAP_SERVERS` shared."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def var_dir() -> Path:
    """Where embedded databases and runtime files live (`MARELLE_VAR_DIR`, default ./var)."""
    return Path(os.environ.get("MARELLE_VAR_DIR", "var")).resolve()


class ServiceSettings(BaseSettings):
    """Subclasses set `service_name`, `model_config` (env prefix) and the default port."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "service"

    host: str = "127.0.0.1"
    port: int = 8000
    # Empty means the embedded SQLite file under var/.
    database_url: str = ""
    # Unprefixed on purpose: the same broker for every service, and the user's value always wins.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers"),
    )
    kafka_enabled: bool = True
    # Unprefixed, shared by every process. Production unless said otherwise: secure by default.
    environment: Literal["development", "production"] = Field(
        default="production", validation_alias="MARELLE_ENV")
    # Proves a request comes from the gateway or the back-office, so identity may trust the
    # client address they pass on (X-Marelle-Client-Address). Empty: trust no one.
    proxy_secret: str = Field(
        default="", validation_alias="MARELLE_PROXY_SECRET")
    # How long a session revocation is remembered: longer than an access token lives (15 min).
    revocation_memory_seconds: float = 1200.0
    identity_url: str = "http://127.0.0.1:8101"
    # Sent outbox rows and inbox rows older than this are pruned by the relay. The inbox must
    # outlive any redelivery (versions protect the copies beyond it).
    outbox_retention_days: float = 7.0
    inbox_retention_days: float = 30.0
    log_level: str = "INFO"
    # Requests served at once by a process; beyond, 503 + Retry-After (LoadSheddingMiddleware).
    max_in_flight: int = 512
    # PostgreSQL connections of the process (each service has its own; 4 × 20 fits the default
    # max_connections of 100 with room for the migrations and the operators).
    db_pool_size: int = 20
    log_json: bool = True

    @model_validator(mode="after")
    def _default_database(self) -> "ServiceSettings":
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{var_dir() / (self.service_name + '.sqlite3')}"
        return self

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def jwks_url(self) -> str:
        return f"{self.identity_url.rstrip('/')}/.well-known/jwks.json"


DEVELOPMENT_NOTICE = ("Mode développement : données de démonstration, ne pas utiliser en "
                      "production")
# Values published in this repository (examples, former defaults): never secrets in production.
KNOWN_SECRETS = frozenset({"", "changeme", "change-me", "secret", "marelle", "dev", "development",
                           "test", "proxy-secret", "marelle-proxy-secret"})
MIN_SECRET_LENGTH = 32


class UnsafeConfiguration(RuntimeError):
    """A production start with a missing or known secret: refused, with what to set."""


def check_secret(name: str, value: str) -> str | None:
    """Why `value` is not an acceptable production secret for env `name`, or None."""
    if value.strip().lower() in KNOWN_SECRETS:
        return f"{name} est absent ou a une valeur connue"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{name} est trop court ({MIN_SECRET_LENGTH} caractères au moins)"
    return None


def refuse_unsafe_production(settings: ServiceSettings, secrets: dict[str, str]) -> None:
    """In production, every secret in `secrets` (env name -> value) must be set and unknown."""
    if settings.is_development:
        return
    problems = [p for name, value in secrets.items() if (p := check_secret(name, value))]
    if getattr(settings, "kafka_enabled", False):
        from marelle_chassis.kafka_security import production_problems

        problems += production_problems()
    if problems:
        raise UnsafeConfiguration(
            f"{settings.service_name} : démarrage en production refusé : " + "; ".join(problems)
            + ". Générez un secret (ex. `python -c 'import secrets; "
              "print(secrets.token_urlsafe(32))'`) et donnez la même valeur à tous les "
              "processus, ou lancez en développement avec MARELLE_ENV=development.")


def announce_mode(settings: ServiceSettings) -> None:
    """Say on the console, at start, that a development run is not for real data."""
    import logging
    import sys

    if settings.is_development:
        message = f"{settings.service_name} — {DEVELOPMENT_NOTICE}"
        print(f"*** {message} ***", file=sys.stderr, flush=True)
        logging.getLogger(settings.service_name).warning(message)
