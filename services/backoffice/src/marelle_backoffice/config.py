"""Back-office settings (`BACKOFFICE_*`): where the services answer."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class BackofficeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "backoffice"

    port: int = 8090
    # The back-office holds no domain state: no database, no broker.
    kafka_enabled: bool = False
    enrolment_url: str = "http://127.0.0.1:8102"
    booking_url: str = "http://127.0.0.1:8103"
    billing_url: str = "http://127.0.0.1:8104"
    upstream_timeout: float = 5.0

    def upstream_urls(self) -> dict[str, str]:
        return {
            "identity": self.identity_url,
            "enrolment": self.enrolment_url,
            "booking": self.booking_url,
            "billing": self.billing_url,
        }
