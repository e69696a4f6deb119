"""Alembic operations for the tables the chassis defines, shared by every service's migrations.

Each function is a frozen snapshot of one version of the tables: a later change to them is a new
function (`..._v2`) used by a new migration, never an edit of these.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_messaging_tables_v1() -> None:
    op.create_table(
        "inbox_message",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox_message")),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_message_event_id")),
    )
    op.create_index("ix_outbox_message_unsent", "outbox_message", ["id"], unique=False,
                    postgresql_where=sa.text("sent_at IS NULL"),
                    sqlite_where=sa.text("sent_at IS NULL"))


def drop_messaging_tables_v1() -> None:
    op.drop_index("ix_outbox_message_unsent", table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_table("inbox_message")


def create_child_copy_table_v1() -> None:
    op.create_table(
        "child_copy",
        sa.Column("child_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("child_id", name=op.f("pk_child_copy")),
    )
    op.create_index(op.f("ix_child_copy_family_id"), "child_copy", ["family_id"], unique=False)


def drop_child_copy_table_v1() -> None:
    op.drop_index(op.f("ix_child_copy_family_id"), table_name="child_copy")
    op.drop_table("child_copy")


def create_family_copy_table_v1() -> None:
    op.create_table(
        "family_copy",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("home_phone", sa.String(length=20), nullable=True),
        sa.Column("beneficiary_name", sa.String(length=100), nullable=True),
        sa.Column("beneficiary_scheme", sa.String(length=10), nullable=True),
        sa.Column("beneficiary_number", sa.String(length=20), nullable=True),
        sa.Column("guardian_phones", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("family_id", name=op.f("pk_family_copy")),
    )


def drop_family_copy_table_v1() -> None:
    op.drop_table("family_copy")


def create_period_copy_table_v1() -> None:
    op.create_table(
        "period_copy",
        sa.Column("period_id", sa.Uuid(), nullable=False),
        sa.Column("facility_name", sa.String(length=120), nullable=False),
        sa.Column("activity_type_name", sa.String(length=120), nullable=False),
        sa.Column("activity_name", sa.String(length=120), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("groups", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("period_id", name=op.f("pk_period_copy")),
    )


def drop_period_copy_table_v1() -> None:
    op.drop_table("period_copy")


# v2: outbox rows can be set aside, sent and inbox rows are pruned by age (indexes), copies keep
# the version of their aggregate.

def upgrade_messaging_tables_v2() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_message_sent_at", "outbox_message", ["sent_at"], unique=False)
    op.create_index("ix_inbox_message_processed_at", "inbox_message", ["processed_at"],
                    unique=False)


def downgrade_messaging_tables_v2() -> None:
    op.drop_index("ix_inbox_message_processed_at", table_name="inbox_message")
    op.drop_index("ix_outbox_message_sent_at", table_name="outbox_message")
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("parked_at")


def _add_version(table: str, column: str = "version") -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column(column, sa.Integer(), server_default="0", nullable=False))


def _drop_version(table: str, column: str = "version") -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_column(column)


def add_child_copy_version_v2() -> None:
    _add_version("child_copy")


def drop_child_copy_version_v2() -> None:
    _drop_version("child_copy")


def add_family_copy_versions_v2() -> None:
    _add_version("family_copy")
    _add_version("family_copy", "email_version")


def drop_family_copy_versions_v2() -> None:
    _drop_version("family_copy", "email_version")
    _drop_version("family_copy")


def add_period_copy_version_v2() -> None:
    _add_version("period_copy")


def drop_period_copy_version_v2() -> None:
    _drop_version("period_copy")
