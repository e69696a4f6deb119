from marelle_chassis.migrations import run_env
from marelle_enrolment.db import metadata

run_env(metadata)
