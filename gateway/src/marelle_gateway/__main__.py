"""`python -m marelle_gateway serve`."""

from marelle_chassis.cli import main_guard, run_cli

from marelle_gateway.config import GatewaySettings
from marelle_gateway.main import check_production

if __name__ == "__main__":
    main_guard(run_cli(settings_factory=GatewaySettings,
                       app_path="marelle_gateway.main:create_app", migrations_dir=None,
                       preflight=check_production))
