"""the opening queue: tickets and their counters (issue « The opening rush »)

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
    op.create_table('queue_counter',
    sa.Column('resource_id', sa.Uuid(), nullable=False),
    sa.Column('issued', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('decided', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('resource_id', name=op.f('pk_queue_counter'))
    )
    op.create_table('queue_ticket',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.Uuid(), nullable=False),
    sa.Column('resource_label', sa.String(length=250), nullable=False),
    sa.Column('registration_id', sa.Uuid(), nullable=False),
    sa.Column('child_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('if_some_full', sa.String(length=20), nullable=False),
    sa.Column('days', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcomes', sa.Text(), server_default='[]', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_ticket')),
    sa.UniqueConstraint('family_id', 'idempotency_key', name='uq_queue_ticket_key')
    )
    with op.batch_alter_table('queue_ticket', schema=None) as batch_op:
        batch_op.create_index('ix_queue_ticket_family', ['family_id', 'received_at'], unique=False)
        batch_op.create_index('ix_queue_ticket_queue', ['resource_id', 'status', 'position'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('queue_ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_ticket_queue')
        batch_op.drop_index('ix_queue_ticket_family')
    op.drop_table('queue_ticket')
    op.drop_table('queue_counter')
