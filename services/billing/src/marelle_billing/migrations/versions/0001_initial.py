"""initial: messaging tables and the copy of the children

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from marelle_chassis import migration_ops

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    migration_ops.create_messaging_tables_v1()
    migration_ops.create_child_copy_table_v1()


def downgrade() -> None:
    migration_ops.drop_child_copy_table_v1()
    migration_ops.drop_messaging_tables_v1()
