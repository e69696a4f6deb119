"""the city's districts and a household's district on its financial profile (issue #10: opening
a period's registrations by district)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('district',
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_district')),
    sa.UniqueConstraint('label', name=op.f('uq_district_label'))
    )
    # Batch mode: SQLite adds a foreign key by rebuilding the table (PostgreSQL: ALTER TABLE).
    with op.batch_alter_table('financial_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('district', sa.String(length=30), nullable=True))
        batch_op.create_index(batch_op.f('ix_financial_profile_district'), ['district'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_financial_profile_district_district'),
                                    'district', ['district'], ['code'])


def downgrade() -> None:
    with op.batch_alter_table('financial_profile', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_financial_profile_district_district'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_financial_profile_district'))
        batch_op.drop_column('district')
    op.drop_table('district')
