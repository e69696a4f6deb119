"""the copy of enrolment's periods and groups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from marelle_chassis import migration_ops

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migration_ops.create_period_copy_table_v1()


def downgrade() -> None:
    migration_ops.drop_period_copy_table_v1()
