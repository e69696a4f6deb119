from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "identity"

    port: int = 8101
    access_token_ttl_seconds: int = 900
    demo_admin_email: str = "admin@marelle.local"
    demo_admin_password: str = "marelle-admin"
