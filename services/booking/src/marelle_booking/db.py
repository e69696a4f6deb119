"""Booking's tables (its own database; no other service reads it)."""

from sqlalchemy import Column, Date, Integer, String, Table, Text, Uuid

from marelle_chassis.catalogue_copy import add_period_copy_table
from marelle_chassis.db import UtcDateTime, new_metadata
from marelle_chassis.identity_copy import add_child_copy_table, add_family_copy_table

metadata = new_metadata()

# Booking's own copy of the households and their children, fed by identity's events.
child_copy = add_child_copy_table(metadata)
family_copy = add_family_copy_table(metadata)
# Enrolment's periods and groups, fed by its catalogue events.
period_copy = add_period_copy_table(metadata)

# The registrations that allow bookings (« une inscription n'est pas une réservation »), fed by
# enrolment's events: only validated ones are bookable.
registration_copy = Table(
    "registration_copy", metadata,
    Column("registration_id", Uuid, primary_key=True),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("period_id", Uuid, nullable=False, index=True),
    Column("group_id", Uuid, nullable=False),
    Column("facility_name", String(120), nullable=False),
    Column("activity_name", String(120), nullable=False),
    Column("period_label", String(120), nullable=False),
    Column("group_label", String(120), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("status", String(16), nullable=False),  # validee | annulee
    Column("typical_week", Text, nullable=False),  # JSON
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The registration version of the event that last set the row: older events are ignored.
    Column("version", Integer, nullable=False, server_default="0"),
)
