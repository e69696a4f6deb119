import sys

from marelle_chassis.cli import run_cli
from marelle_booking.config import BookingSettings
from marelle_booking.main import MIGRATIONS

sys.exit(run_cli(settings_factory=BookingSettings, app_path="marelle_booking.main:create_app",
                 migrations_dir=MIGRATIONS))
