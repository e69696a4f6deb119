"""the copy of the households' contact details

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from marelle_chassis import migration_ops

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migration_ops.create_family_copy_table_v1()


def downgrade() -> None:
    migration_ops.drop_family_copy_table_v1()
