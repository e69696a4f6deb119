import sys

from marelle_chassis.cli import run_cli
from marelle_enrolment.config import EnrolmentSettings
from marelle_enrolment.demo import seed_demo
from marelle_enrolment.main import MIGRATIONS

sys.exit(run_cli(settings_factory=EnrolmentSettings, app_path="marelle_enrolment.main:create_app",
                 migrations_dir=MIGRATIONS, commands={"seed-demo": seed_demo}))
