from marelle_chassis.migrations import run_env
from marelle_booking.db import metadata

run_env(metadata)
