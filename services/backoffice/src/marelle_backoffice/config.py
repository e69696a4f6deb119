"""Back-office settings (`BACKOFFICE_*`): where the services answer, how cookies are sent."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class BackofficeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BACKOFFICE_", extra="ignore",
                                      populate_by_name=True)
    service_name: ClassVar[str] = "backoffice"

    port: int = 8090
    # The back-office holds no domain state: no database. Kafka is only read, for identity's
    # `sessions_revoked` (a disabled or logged-out staff member is refused at once).
    kafka_enabled: bool = True
    enrolment_url: str = "http://127.0.0.1:8102"
    booking_url: str = "http://127.0.0.1:8103"
    billing_url: str = "http://127.0.0.1:8104"
    upstream_timeout: float = 5.0
    # Secure cookies (HTTPS only); the development run on http://127.0.0.1 turns it off
    # explicitly (BACKOFFICE_COOKIE_SECURE=false).
    cookie_secure: bool = True
    # The origin browsers see (e.g. "https://agents.ville.fr") when a proxy rewrites the scheme or
    # host; empty means the request's own scheme and Host. POSTs from any other origin are refused.
    public_origin: str = ""

    def upstream_urls(self) -> dict[str, str]:
        return {
            "identity": self.identity_url,
            "enrolment": self.enrolment_url,
            "booking": self.booking_url,
            "billing": self.billing_url,
        }

    def dead_letter_services(self) -> tuple[str, ...]:
        """The services whose consumers park messages (identity consumes nothing)."""
        return ("enrolment", "booking", "billing")

    def outbox_services(self) -> tuple[str, ...]:
        """The services whose outbox relay may set events aside (every service publishes)."""
        return ("identity", "enrolment", "booking", "billing")
