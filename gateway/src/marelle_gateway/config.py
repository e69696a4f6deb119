"""Gateway settings (`GATEWAY_*`): where the upstream services answer."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "gateway"

    port: int = 8080
    # The gateway holds no domain state: no database. Kafka is only read, for identity's
    # `sessions_revoked` (a logged-out session is refused at once); off, a revoked token is
    # refused by the services but the gateway's pages accept it until it expires.
    kafka_enabled: bool = True
    enrolment_url: str = "http://127.0.0.1:8102"
    booking_url: str = "http://127.0.0.1:8103"
    billing_url: str = "http://127.0.0.1:8104"
    upstream_timeout: float = 5.0
    # Submissions to an opening queue on their way to one service at once; beyond, a French
    # 503 + Retry-After at once (they would only queue in the service until the timeout above).
    queue_submissions_in_flight: int = 128
    default_language: str = "fr"
    # Secure cookies (sent over HTTPS only). The development run on http://127.0.0.1 turns it off
    # explicitly (GATEWAY_COOKIE_SECURE=false).
    cookie_secure: bool = True
    # Request bodies larger than this are refused (413); the portal has no upload.
    max_body_bytes: int = 1 << 20
    # The portal's public origin (e.g. https://famille.ville.fr), for the CSRF Origin check
    # behind a TLS-terminating proxy. Empty: the request's own Host is the reference.
    public_url: str = ""
    # The opening rush: from a calendar's scheduled `bookings_open_at` until this many minutes
    # after it, the grid's « réserver » choices go through booking's queue (one ticket).
    booking_rush_minutes: int = 120

    def upstream_urls(self) -> dict[str, str]:
        """Upstream base URLs by service name, in menu order."""
        return {
            "identity": self.identity_url,
            "enrolment": self.enrolment_url,
            "booking": self.booking_url,
            "billing": self.billing_url,
        }
