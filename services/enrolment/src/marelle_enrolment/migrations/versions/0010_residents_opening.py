"""the residents' priority opening: period.residents_open_at and the copy of billing's residency
(issue #10, docs/opening-rush.md)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('family_residency',
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('resident', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('family_id', name=op.f('pk_family_residency'))
    )
    # A nullable column: a plain ALTER TABLE … ADD COLUMN on SQLite and PostgreSQL alike.
    op.add_column('period', sa.Column('residents_open_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.drop_column('residents_open_at')
    op.drop_table('family_residency')
