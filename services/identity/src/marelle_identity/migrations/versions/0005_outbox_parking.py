"""outbox rows can be set aside; pruning indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from marelle_chassis import migration_ops

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migration_ops.upgrade_messaging_tables_v2()


def downgrade() -> None:
    migration_ops.downgrade_messaging_tables_v2()
