"""copies keep aggregate versions; outbox rows can be set aside; pruning indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

from marelle_chassis import migration_ops

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migration_ops.upgrade_messaging_tables_v2()
    migration_ops.add_child_copy_version_v2()
    migration_ops.add_family_copy_versions_v2()
    migration_ops.add_period_copy_version_v2()
    with op.batch_alter_table("registration_copy") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("registration_copy") as batch:
        batch.drop_column("version")
    migration_ops.drop_period_copy_version_v2()
    migration_ops.drop_family_copy_versions_v2()
    migration_ops.drop_child_copy_version_v2()
    migration_ops.downgrade_messaging_tables_v2()
