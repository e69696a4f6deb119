from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from marelle_chassis.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "billing"

    port: int = 8104
    # Where browsers and providers reach this service (the sandbox bank page, the provider's
    # callback URL handed to eopayment).
    public_url: str = "http://127.0.0.1:8104"
    # The local sandbox bank (eopayment's `dummy` backend) accepts forged callbacks by design:
    # off unless a development or test run turns it on (BILLING_PAYMENT_SANDBOX=true).
    payment_sandbox: bool = False
    # Invoicing runs: families per transaction (progress is saved after each batch).
    run_batch_size: int = 200
