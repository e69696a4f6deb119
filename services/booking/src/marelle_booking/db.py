"""Booking's tables (its own database; no other service reads it)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)

from marelle_chassis.catalogue_copy import add_period_copy_table
from marelle_chassis.audit import add_audit_table
from marelle_chassis.db import UtcDateTime, new_metadata
from marelle_chassis.identity_copy import add_child_copy_table, add_family_copy_table

metadata = new_metadata()
# Every staff action: who, what, when, before/after (GET /staff/audit).
staff_audit = add_audit_table(metadata)

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
    # The family's note (allergies, pick-up…), shown on the staff day lists.
    Column("memo", Text, nullable=False, server_default=""),
)

# --- calendars: one per period, the manager's options ---------------------------------------

calendar = Table(
    "calendar", metadata,
    Column("period_id", Uuid, primary_key=True),
    Column("weekdays", Text, nullable=False),  # JSON list of ISO weekdays (1 = Monday)
    Column("added_dates", Text, nullable=False, server_default="[]"),  # JSON list of ISO dates
    Column("removed_dates", Text, nullable=False, server_default="[]"),
    Column("skip_public_holidays", Boolean, nullable=False),
    Column("skip_school_holidays", Boolean, nullable=False),
    Column("school_zone", String(1), nullable=True),
    Column("booking_deadline_days", Integer, nullable=False),
    Column("booking_deadline_working", Boolean, nullable=False),
    Column("booking_cutoff", Time, nullable=False),
    Column("cancellation_deadline_days", Integer, nullable=False),
    Column("cancellation_deadline_working", Boolean, nullable=False),
    Column("cancellation_cutoff", Time, nullable=False),
    Column("horizon_days", Integer, nullable=True),
    Column("families_may_modify", Boolean, nullable=False),
    Column("week_only", Boolean, nullable=False),
    Column("memo", Text, nullable=False, server_default=""),
    # The scheduled opening of bookings to families (null: open at once).
    Column("bookings_open_at", UtcDateTime, nullable=True),
    # JSON list of {code, label, kind, implies}, in the grid's order.
    Column("units", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Places of a group for a unit on every opening day of the period…
unit_capacity = Table(
    "unit_capacity", metadata,
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("capacity", Integer, nullable=False),
    PrimaryKeyConstraint("period_id", "group_id", "unit"),
)

# … or on one day (overrides the above).
day_capacity = Table(
    "day_capacity", metadata,
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("day", Date, nullable=False),
    Column("capacity", Integer, nullable=False),
    PrimaryKeyConstraint("period_id", "group_id", "unit", "day"),
)

# The counter that makes a booking one conditional statement, whatever the rush:
#   UPDATE day_slot SET booked = booked + 1
#    WHERE period_id = … AND group_id = … AND unit = … AND day = … AND booked < capacity
# (no row updated: full → the day's waiting list). Created on demand (INSERT … ON CONFLICT DO
# NOTHING with the capacity in force); a capacity change updates `capacity` here too.
day_slot = Table(
    "day_slot", metadata,
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("day", Date, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("booked", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("period_id", "group_id", "unit", "day"),
)

ACTIVE_RESERVATION = ("reservee", "liste_attente")

# A child on a day for a unit: booked, waiting (the day's waiting list, in `requested_at`
# order) or cancelled (kept: history, billing, tombstone).
reservation = Table(
    "reservation", metadata,
    Column("id", Uuid, primary_key=True),
    Column("registration_id", Uuid, nullable=False, index=True),
    Column("child_id", Uuid, nullable=False),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(16), nullable=False),  # reservee | liste_attente | annulee
    # Arrival on the day's waiting list (then promotions follow it); a tie is broken by `seq`.
    Column("requested_at", UtcDateTime, nullable=False),
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("promoted_at", UtcDateTime, nullable=True),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("cancelled_by", String(16), nullable=True),  # famille | structure | inscription
    Column("within_deadline", Boolean, nullable=True),
    Column("version", Integer, nullable=False),
)
# One active reservation of a child per day and unit (a second one is refused, never doubled).
Index("uq_reservation_active", reservation.c.child_id, reservation.c.day, reservation.c.unit,
      unique=True,
      postgresql_where=reservation.c.status.in_(ACTIVE_RESERVATION),
      sqlite_where=reservation.c.status.in_(ACTIVE_RESERVATION))
Index("ix_reservation_slot", reservation.c.period_id, reservation.c.day, reservation.c.group_id,
      reservation.c.unit, reservation.c.status)
Index("ix_reservation_child_day", reservation.c.child_id, reservation.c.day)

# --- shuttles (« Mes navettes ») ------------------------------------------------------------

shuttle_line = Table(
    "shuttle_line", metadata,
    Column("id", Uuid, primary_key=True),
    Column("period_id", Uuid, nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("seats", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

shuttle_stop = Table(
    "shuttle_stop", metadata,
    Column("id", Uuid, primary_key=True),
    Column("line_id", Uuid, nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", String(120), nullable=False),
    Column("morning_time", Time, nullable=True),
    Column("evening_time", Time, nullable=True),
)

# Seats left, the same one-statement counter as `day_slot` (per line, direction and day).
shuttle_seat = Table(
    "shuttle_seat", metadata,
    Column("line_id", Uuid, nullable=False),
    Column("direction", String(8), nullable=False),  # aller | retour
    Column("day", Date, nullable=False),
    Column("seats", Integer, nullable=False),
    Column("taken", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("line_id", "direction", "day"),
)

shuttle_booking = Table(
    "shuttle_booking", metadata,
    Column("id", Uuid, primary_key=True),
    Column("registration_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("period_id", Uuid, nullable=False),
    Column("line_id", Uuid, nullable=False),
    Column("stop_id", Uuid, nullable=False),
    Column("direction", String(8), nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(16), nullable=False),  # reservee | annulee
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime, nullable=True),
    Column("version", Integer, nullable=False),
)
Index("uq_shuttle_booking_active", shuttle_booking.c.child_id, shuttle_booking.c.day,
      shuttle_booking.c.direction, unique=True,
      postgresql_where=shuttle_booking.c.status == "reservee",
      sqlite_where=shuttle_booking.c.status == "reservee")

# --- attendance (« pointage ») --------------------------------------------------------------

roll_call = Table(
    "roll_call", metadata,
    Column("id", Uuid, primary_key=True),
    Column("period_id", Uuid, nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("locked_at", UtcDateTime, nullable=True),
    Column("locked_by", Uuid, nullable=True),
    Column("version", Integer, nullable=False),
    UniqueConstraint("period_id", "group_id", "day", name="uq_roll_call_day"),
)

# Every unlock of a roll call, with who and why (a locked roll call is billed from).
roll_call_unlock = Table(
    "roll_call_unlock", metadata,
    Column("id", Uuid, primary_key=True),
    Column("roll_call_id", Uuid, nullable=False, index=True),
    Column("unlocked_by", Uuid, nullable=False),
    Column("unlocked_at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

attendance = Table(
    "attendance", metadata,
    Column("id", Uuid, primary_key=True),
    Column("roll_call_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False),
    Column("family_id", Uuid, nullable=False),
    Column("status", String(24), nullable=False),
    Column("reason", String(200), nullable=True),
    Column("recorded_by", Uuid, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("roll_call_id", "child_id", name="uq_attendance_child"),
)

# --- calendar feeds (ICS subscription URLs) -------------------------------------------------

calendar_feed = Table(
    "calendar_feed", metadata,
    # SHA-256 of the secret in the URL: a database leak does not give the feeds away.
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("family_id", "child_id", name="uq_calendar_feed_child"),
)

# --- the opening queue (docs/opening-rush.md) -------------------------------------------------

# One row per resource decisions are ordered on (booking: the period's calendar). `issued` gives
# each ticket its position (INSERT … ON CONFLICT DO UPDATE SET issued = issued + 1 RETURNING);
# `decided` counts the tickets decided (a ticket's `ahead` = position − decided − 1).
queue_counter = Table(
    "queue_counter", metadata,
    Column("resource_id", Uuid, primary_key=True),
    Column("issued", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("decided", BigInteger().with_variant(Integer, "sqlite"), nullable=False,
           server_default="0"),
)

# A family's submission at the opening: acknowledged at once (en_file), decided later in
# `position` order by the decider (traite, with one outcome per day asked).
queue_ticket = Table(
    "queue_ticket", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("resource_id", Uuid, nullable=False),  # the period
    Column("resource_label", String(250), nullable=False),
    Column("registration_id", Uuid, nullable=False),
    Column("child_id", Uuid, nullable=False),
    Column("position", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("status", String(16), nullable=False),  # en_file | traite
    Column("if_some_full", String(20), nullable=False),
    Column("days", Text, nullable=False),  # JSON list of {date, unit}, as asked
    Column("received_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("outcomes", Text, nullable=False, server_default="[]"),  # JSON list of TicketOutcome
    # A refresh, a double click or a resubmission with the same key finds this ticket again.
    UniqueConstraint("family_id", "idempotency_key", name="uq_queue_ticket_key"),
)
Index("ix_queue_ticket_queue", queue_ticket.c.resource_id, queue_ticket.c.status,
      queue_ticket.c.position)
Index("ix_queue_ticket_family", queue_ticket.c.family_id, queue_ticket.c.received_at)
