"""aggregate versions on registrations, periods and attestations; one pending attestation per
registration

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'demandee'")


def upgrade() -> None:
    for table in ('period', 'registration', 'attestation'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1',
                                          nullable=False))
    with op.batch_alter_table('attestation', schema=None) as batch_op:
        batch_op.create_index('uq_attestation_pending_registration', ['registration_id'],
                              unique=True, postgresql_where=PENDING, sqlite_where=PENDING)


def downgrade() -> None:
    with op.batch_alter_table('attestation', schema=None) as batch_op:
        batch_op.drop_index('uq_attestation_pending_registration', postgresql_where=PENDING,
                            sqlite_where=PENDING)
    for table in ('attestation', 'registration', 'period'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('version')
