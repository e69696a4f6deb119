"""Billing's tables (its own database; no other service reads it)."""

from marelle_chassis.catalogue_copy import add_period_copy_table
from marelle_chassis.db import new_metadata
from marelle_chassis.identity_copy import add_child_copy_table, add_family_copy_table

metadata = new_metadata()

# Billing's own copy of the households and their children, fed by identity's events.
child_copy = add_child_copy_table(metadata)
family_copy = add_family_copy_table(metadata)
# Enrolment's periods and groups, fed by its catalogue events.
period_copy = add_period_copy_table(metadata)
