from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "billing"

    port: int = 8104
