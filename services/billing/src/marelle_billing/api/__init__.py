"""Billing's HTTP adapter: thin routers over the use cases (`marelle_billing.usecases`)."""

from marelle_billing.api import (
    family_accounts,
    family_payments,
    provider,
    staff_accounts,
    staff_catalogue,
    staff_payments,
    staff_runs,
)

routers = [family_accounts.router, family_payments.router, provider.router,
           staff_accounts.router, staff_catalogue.router, staff_payments.router,
           staff_runs.router]
