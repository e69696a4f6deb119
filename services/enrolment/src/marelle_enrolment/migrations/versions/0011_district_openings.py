"""districts at different times: period.district_openings and the household's district in the
copy of billing's residency (issue #10, docs/opening-rush.md)

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: a plain ALTER TABLE … ADD COLUMN on SQLite and PostgreSQL alike.
    op.add_column('family_residency', sa.Column('district', sa.String(length=30), nullable=True))
    op.add_column('family_residency', sa.Column('district_label', sa.String(length=120),
                                                nullable=True))
    op.add_column('period', sa.Column('district_openings', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.drop_column('district_openings')
    with op.batch_alter_table('family_residency', schema=None) as batch_op:
        batch_op.drop_column('district_label')
        batch_op.drop_column('district')
