"""Settings base: one environment prefix per service, `KAFKA_BOOTSTRAP_SERVERS` shared."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

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
    identity_url: str = "http://127.0.0.1:8101"
    # Sent outbox rows and inbox rows older than this are pruned by the relay. The inbox must
    # outlive any redelivery (versions protect the copies beyond it).
    outbox_retention_days: float = 7.0
    inbox_retention_days: float = 30.0
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="after")
    def _default_database(self) -> "ServiceSettings":
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{var_dir() / (self.service_name + '.sqlite3')}"
        return self

    @property
    def jwks_url(self) -> str:
        return f"{self.identity_url.rstrip('/')}/.well-known/jwks.json"
