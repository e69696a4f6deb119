import sys

from marelle_chassis.cli import run_cli
from marelle_identity.config import IdentitySettings
from marelle_identity.main import MIGRATIONS, seed_demo

sys.exit(run_cli(settings_factory=IdentitySettings, app_path="marelle_identity.main:create_app",
                 migrations_dir=MIGRATIONS, commands={"seed-demo": seed_demo}))
