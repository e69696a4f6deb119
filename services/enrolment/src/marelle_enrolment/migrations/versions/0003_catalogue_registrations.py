"""catalogue registrations attestations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 06:58:28.498626
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('facility',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility')),
    sa.UniqueConstraint('name', name=op.f('uq_facility_name'))
    )
    op.create_table('activity_type',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('facility_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_activity_type_facility_id_facility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_type'))
    )
    with op.batch_alter_table('activity_type', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_type_facility_id'), ['facility_id'], unique=False)

    op.create_table('activity',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('activity_type_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('pre_registration', sa.Boolean(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['activity_type_id'], ['activity_type.id'], name=op.f('fk_activity_activity_type_id_activity_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_activity_type_id'), ['activity_type_id'], unique=False)

    op.create_table('period',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('activity_id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('priority_opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('memo', sa.Text(), server_default='', nullable=False),
    sa.Column('validation_mode', sa.String(length=12), nullable=False),
    sa.Column('promotion_mode', sa.String(length=12), nullable=False),
    sa.Column('closed', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_period_activity_id_activity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period'))
    )
    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_period_activity_id'), ['activity_id'], unique=False)

    op.create_table('activity_group',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('min_age', sa.Integer(), nullable=False),
    sa.Column('max_age', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('closed', sa.Boolean(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_activity_group_period_id_period')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_group'))
    )
    with op.batch_alter_table('activity_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_group_period_id'), ['period_id'], unique=False)

    op.create_table('registration',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('child_id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('typical_week', sa.Text(), server_default='[]', nullable=False),
    sa.Column('memo', sa.Text(), server_default='', nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('waitlist_rank', sa.Float(), nullable=True),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['activity_group.id'], name=op.f('fk_registration_group_id_activity_group')),
    sa.ForeignKeyConstraint(['period_id'], ['period.id'], name=op.f('fk_registration_period_id_period')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration'))
    )
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_child_id'), ['child_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registration_family_id'), ['family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registration_group_id'), ['group_id'], unique=False)
        batch_op.create_index('uq_registration_active_child_period', ['child_id', 'period_id'], unique=True, postgresql_where=sa.text("status IN ('en_attente', 'validee', 'liste_attente')"), sqlite_where=sa.text("status IN ('en_attente', 'validee', 'liste_attente')"))

    op.create_table('attestation',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('registration_id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_by', sa.Uuid(), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_attestation_registration_id_registration')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attestation'))
    )
    with op.batch_alter_table('attestation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attestation_family_id'), ['family_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_registration_id'), ['registration_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('attestation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attestation_registration_id'))
        batch_op.drop_index(batch_op.f('ix_attestation_family_id'))

    op.drop_table('attestation')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('uq_registration_active_child_period', postgresql_where=sa.text("status IN ('en_attente', 'validee', 'liste_attente')"), sqlite_where=sa.text("status IN ('en_attente', 'validee', 'liste_attente')"))
        batch_op.drop_index(batch_op.f('ix_registration_group_id'))
        batch_op.drop_index(batch_op.f('ix_registration_family_id'))
        batch_op.drop_index(batch_op.f('ix_registration_child_id'))

    op.drop_table('registration')
    with op.batch_alter_table('activity_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_group_period_id'))

    op.drop_table('activity_group')
    with op.batch_alter_table('period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_period_activity_id'))

    op.drop_table('period')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_activity_type_id'))

    op.drop_table('activity')
    with op.batch_alter_table('activity_type', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_type_facility_id'))

    op.drop_table('activity_type')
    op.drop_table('facility')
