import sys

from marelle_chassis.cli import run_cli
from marelle_billing.config import BillingSettings
from marelle_billing.main import MIGRATIONS

sys.exit(run_cli(settings_factory=BillingSettings, app_path="marelle_billing.main:create_app",
                 migrations_dir=MIGRATIONS))
