from typing import ClassVar, Literal

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "identity"

    port: int = 8101
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    invitation_ttl_days: int = 7
    reset_ttl_minutes: int = 60
    # Links in the emails point to the parent portal.
    portal_url: str = "http://127.0.0.1:8080"
    # SMTP: in development the run command starts a local mailbox on 1025 (web view on 8025).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = "Portail famille <no-reply@marelle.local>"
    mail_enabled: bool = True
    demo_admin_email: str = "admin@marelle.local"
    demo_admin_password: str = "marelle-admin"
