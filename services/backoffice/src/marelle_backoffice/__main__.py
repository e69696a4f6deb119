"""`python -m marelle_backoffice serve`."""

from marelle_chassis.cli import main_guard, run_cli

from marelle_backoffice.config import BackofficeSettings
from marelle_backoffice.main import check_production

if __name__ == "__main__":
    main_guard(run_cli(settings_factory=BackofficeSettings,
                       app_path="marelle_backoffice.main:create_app", migrations_dir=None,
                       preflight=check_production))
