from typing import ClassVar, Literal

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings

# Demo credentials: `seed-demo` creates them, in development only; a production start refuses to
# run while any of them still opens an account (see `main.production_problems`).
DEMO_STAFF = (
    ("admin@marelle.local", "marelle-admin", "Administratrice de démonstration",
     ["administrator", "manager"]),
    ("gestionnaire@marelle.local", "marelle-gestion", "Gestionnaire de démonstration", ["manager"]),
)
DEMO_FAMILY = ("famille.martin@example.org", "marelle-famille")


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "identity"

    # `environment` (MARELLE_ENV, production by default) and `proxy_secret`
    # (MARELLE_PROXY_SECRET) come from the chassis' settings, shared by every process.

    port: int = 8101
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_days: int = 30
    invitation_ttl_days: int = 7
    reset_ttl_minutes: int = 60
    # The sign-up's confirmation link (the account stays inactive until it is opened).
    signup_confirmation_ttl_hours: int = 48
    # Links in the emails point to the parent portal.
    portal_url: str = "http://127.0.0.1:8080"
    # SMTP: in development the run command starts a local mailbox on 1025 (web view on 8025).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    # STARTTLS by default in production, not in development (the local mailbox speaks plain
    # SMTP). `smtp_security` (none, starttls, tls), when set, wins over it.
    smtp_starttls: bool | None = None
    smtp_security: Literal["none", "starttls", "tls"] | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = "Portail famille <no-reply@marelle.local>"
    mail_enabled: bool = True
    # Administrators must use a TOTP second factor: one without it gets only a token restricted
    # to enrolling it (`api.totp`), until it is confirmed.
    totp_required_for_admins: bool = False
    # The name the authenticator application shows next to the code.
    totp_issuer: str = "Marelle"
    # Encrypts the TOTP secrets at rest (`secretbox`): a Fernet key (`python -c "from
    # cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`). Empty: the
    # published development key, which production refuses.
    totp_key: str = ""

    @property
    def production(self) -> bool:
        return not self.is_development

    @model_validator(mode="after")
    def _smtp_security(self) -> "IdentitySettings":
        if self.smtp_starttls is None:
            self.smtp_starttls = self.production
        if self.smtp_security is None:
            self.smtp_security = "starttls" if self.smtp_starttls else "none"
        return self
