"""the opening queue: tickets and per-group counters (issue #10, docs/opening-rush.md)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('queue_counter',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('decided', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_queue_counter'))
    )
    op.create_table('queue_ticket',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('child_ids', sa.Text(), nullable=False),
    sa.Column('typical_week', sa.Text(), server_default='[]', nullable=False),
    sa.Column('memo', sa.Text(), server_default='', nullable=False),
    sa.Column('if_some_full', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcomes', sa.Text(), server_default='[]', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_ticket'))
    )
    op.create_index('uq_queue_ticket_family_key', 'queue_ticket', ['family_id', 'idempotency_key'], unique=True)
    op.create_index('uq_queue_ticket_group_position', 'queue_ticket', ['group_id', 'position'], unique=True)
    op.create_index('ix_queue_ticket_queued', 'queue_ticket', ['status', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_queue_ticket_queued', table_name='queue_ticket')
    op.drop_index('uq_queue_ticket_group_position', table_name='queue_ticket')
    op.drop_index('uq_queue_ticket_family_key', table_name='queue_ticket')
    op.drop_table('queue_ticket')
    op.drop_table('queue_counter')
