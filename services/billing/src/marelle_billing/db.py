"""Billing's tables (its own database; no other service reads it)."""

from sqlalchemy import Boolean, Column, Date, Integer, String, Table, Uuid

from marelle_chassis.catalogue_copy import add_period_copy_table
from marelle_chassis.db import UtcDateTime, new_metadata
from marelle_chassis.identity_copy import add_child_copy_table, add_family_copy_table

metadata = new_metadata()

# Billing's own copy of the households and their children, fed by identity's events.
child_copy = add_child_copy_table(metadata)
family_copy = add_family_copy_table(metadata)
# Enrolment's periods and groups, fed by its catalogue events.
period_copy = add_period_copy_table(metadata)

# Booking's facts billing prices from, fed by marelle.booking.v1 (newest version wins, see
# marelle_chassis.copies): reservations (with who cancelled, when, within the deadline or not),
# attendance (justified absences are not billed), shuttle bookings.
reservation_copy = Table(
    "reservation_copy", metadata,
    Column("reservation_id", Uuid, primary_key=True),
    Column("registration_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("unit_label", String(120), nullable=False),
    Column("status", String(16), nullable=False),  # reservee | liste_attente | annulee
    Column("cancelled_by", String(16), nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("within_deadline", Boolean, nullable=True),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

attendance_copy = Table(
    "attendance_copy", metadata,
    Column("attendance_id", Uuid, primary_key=True),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False),
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(24), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

shuttle_copy = Table(
    "shuttle_copy", metadata,
    Column("shuttle_booking_id", Uuid, primary_key=True),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False),
    Column("line_name", String(120), nullable=False),
    Column("stop_name", String(120), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(16), nullable=False),  # reservee | annulee
    Column("version", Integer, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
