"""Enrolment's tables (its own database; no other service reads it)."""

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
)

from marelle_chassis.audit import add_audit_table
from marelle_chassis.db import UtcDateTime, new_metadata
from marelle_chassis.identity_copy import add_child_copy_table, add_family_copy_table

metadata = new_metadata()
# Every staff action: who, what, when, before/after (GET /staff/audit).
staff_audit = add_audit_table(metadata)

# Enrolment's own copy of the households and their children, fed by identity's events.
child_copy = add_child_copy_table(metadata)
family_copy = add_family_copy_table(metadata)
# Whether identity still has the household « à vérifier » (online sign-up not yet reviewed by
# staff): with ENROLMENT_REFUSE_UNREVIEWED_FAMILIES, its registration requests are refused.
# No row: a household created by staff, or known from before this copy: not to review.
family_review = Table(
    "family_review", metadata,
    Column("family_id", Uuid, primary_key=True),
    Column("needs_review", Boolean, nullable=False),
    Column("version", Integer, nullable=False),  # household version of the event that set it
    Column("revision", Integer, nullable=False),
)

# Whether a household lives in the city, and its district, copied from billing's
# `residency_changed` (by profile version): the residents' and districts' priority openings. No
# row: not known as a resident, no district.
family_residency = Table(
    "family_residency", metadata,
    Column("family_id", Uuid, primary_key=True),
    Column("resident", Boolean, nullable=False),
    Column("district", String(30), nullable=True),
    Column("district_label", String(120), nullable=True),
    Column("version", Integer, nullable=False),  # billing profile version of the event
    Column("revision", Integer, nullable=False),
)

# The catalogue: équipement › type d'activité › activité › période › groupe.
facility = Table(
    "facility", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(120), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
)

activity_type = Table(
    "activity_type", metadata,
    Column("id", Uuid, primary_key=True),
    Column("facility_id", Uuid, ForeignKey("facility.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
)

activity = Table(
    "activity", metadata,
    Column("id", Uuid, primary_key=True),
    Column("activity_type_id", Uuid, ForeignKey("activity_type.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    # Petite enfance: requests are pre-registrations (« ! » until validated).
    Column("pre_registration", Boolean, nullable=False, server_default="0"),
)

period = Table(
    "period", metadata,
    Column("id", Uuid, primary_key=True),
    Column("activity_id", Uuid, ForeignKey("activity.id"), nullable=False, index=True),
    Column("label", String(120), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("opens_at", UtcDateTime, nullable=False),
    Column("closes_at", UtcDateTime, nullable=False),
    Column("priority_opens_at", UtcDateTime, nullable=True),
    # Households living in the city (billing's residency) may ask from then.
    Column("residents_open_at", UtcDateTime, nullable=True),
    # Districts at different times: JSON `[{"district", "district_label", "opens_at"}]`, NULL when
    # none. A column, not a child table: read with the period row (cached at the rush, no join,
    # no extra query), always written whole with the period, never queried by district.
    Column("district_openings", Text, nullable=True),
    Column("memo", Text, nullable=False, server_default=""),
    Column("validation_mode", String(12), nullable=False),  # structure | automatique
    Column("promotion_mode", String(12), nullable=False),  # structure | automatique
    Column("closed", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    # One step per event about the period or one of its groups (period_published = 1).
    Column("version", Integer, nullable=False, server_default="1"),
)

activity_group = Table(
    "activity_group", metadata,
    Column("id", Uuid, primary_key=True),
    Column("period_id", Uuid, ForeignKey("period.id"), nullable=False, index=True),
    Column("label", String(120), nullable=False),
    Column("min_age", Integer, nullable=False),
    Column("max_age", Integer, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("closed", Boolean, nullable=False, server_default="0"),
)

registration = Table(
    "registration", metadata,
    Column("id", Uuid, primary_key=True),
    Column("child_id", Uuid, nullable=False, index=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("period_id", Uuid, ForeignKey("period.id"), nullable=False),
    Column("group_id", Uuid, ForeignKey("activity_group.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("typical_week", Text, nullable=False, server_default="[]"),  # JSON [{weekday, units}]
    Column("memo", Text, nullable=False, server_default=""),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", Uuid, nullable=True),
    Column("reason", Text, nullable=True),
    # Order on the group's waiting list (staff may reorder); null when not waitlisted.
    Column("waitlist_rank", Float, nullable=True),
    Column("promoted_at", UtcDateTime, nullable=True),
    # One step per event about the registration (registration_requested = 1); bumped by the same
    # conditional UPDATE that changes the status.
    Column("version", Integer, nullable=False, server_default="1"),
)
# One active registration per child and period, enforced by the database as well.
Index("uq_registration_active_child_period", registration.c.child_id, registration.c.period_id,
      unique=True,
      postgresql_where=registration.c.status.in_(["en_attente", "validee", "liste_attente"]),
      sqlite_where=registration.c.status.in_(["en_attente", "validee", "liste_attente"]))

attestation = Table(
    "attestation", metadata,
    Column("id", Uuid, primary_key=True),
    Column("registration_id", Uuid, ForeignKey("registration.id"), nullable=False, index=True),
    Column("family_id", Uuid, nullable=False, index=True),
    Column("status", String(10), nullable=False),  # demandee | delivree
    Column("requested_at", UtcDateTime, nullable=False),
    Column("issued_at", UtcDateTime, nullable=True),
    Column("issued_by", Uuid, nullable=True),
    Column("pdf", LargeBinary, nullable=True),
    # 1 when requested, 2 when issued (attestation_issued carries it).
    Column("version", Integer, nullable=False, server_default="1"),
)
# At most one pending request per registration, enforced by the database as well.
Index("uq_attestation_pending_registration", attestation.c.registration_id, unique=True,
      postgresql_where=attestation.c.status == "demandee",
      sqlite_where=attestation.c.status == "demandee")

# Each child's school and class per school year, from the schools' system (inbound topic
# marelle.inbound.schools.v1). A child unknown here is kept too: the family may arrive later.
school_assignment = Table(
    "school_assignment", metadata,
    Column("child_id", Uuid, primary_key=True),
    Column("school_year", String(9), primary_key=True),  # 2026-2027
    Column("school_id", String(20), nullable=False),  # UAI
    Column("school_name", String(120), nullable=False),
    Column("class_name", String(60), nullable=False),
    Column("level", String(3), nullable=False),  # TPS … CM2
    # A later assignment replaces an earlier one (see marelle_enrolment.schools).
    Column("assigned_on", Date, nullable=False),
    Column("source_event_id", Uuid, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
# The lists per class.
Index("ix_school_assignment_class", school_assignment.c.school_year,
      school_assignment.c.school_id, school_assignment.c.class_name)

# --- The opening queue (docs/opening-rush.md) ----------------------------------------------------
# Per group: tickets issued (the next ticket's position) and decided. Acknowledging a submission
# locks this row for one INSERT and the COMMIT, never the group row staff transitions lock.
queue_counter = Table(
    "queue_counter", metadata,
    Column("group_id", Uuid, primary_key=True),
    Column("issued", Integer, nullable=False),
    Column("decided", Integer, nullable=False, server_default="0"),
)

queue_ticket = Table(
    "queue_ticket", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, nullable=False),
    # The family's key for this submission: a repeat returns the same ticket.
    Column("idempotency_key", String(64), nullable=False),
    Column("group_id", Uuid, nullable=False),
    Column("period_id", Uuid, nullable=False),
    Column("position", Integer, nullable=False),  # order of arrival on the group, from 1
    Column("child_ids", Text, nullable=False),  # JSON list, in the family's order
    Column("typical_week", Text, nullable=False, server_default="[]"),
    Column("memo", Text, nullable=False, server_default=""),
    Column("if_some_full", String(20), nullable=False),  # prendre_le_reste | tout_ou_rien
    Column("status", String(10), nullable=False),  # en_file | traite
    Column("received_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("outcomes", Text, nullable=False, server_default="[]"),  # JSON TicketOutcome list
)
Index("uq_queue_ticket_family_key", queue_ticket.c.family_id, queue_ticket.c.idempotency_key,
      unique=True)
Index("uq_queue_ticket_group_position", queue_ticket.c.group_id, queue_ticket.c.position,
      unique=True)
# The deciders' work list: queued tickets, oldest first.
Index("ix_queue_ticket_queued", queue_ticket.c.status, queue_ticket.c.received_at)
