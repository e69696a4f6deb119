"""family review copy (issue #11: registrations of unreviewed sign-ups)

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('family_review',
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('family_id', name=op.f('pk_family_review'))
    )


def downgrade() -> None:
    op.drop_table('family_review')
