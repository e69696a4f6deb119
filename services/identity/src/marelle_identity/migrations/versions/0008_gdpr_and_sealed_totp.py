"""GDPR (deletion requests, staff reads of a household, anonymised households) and TOTP secrets
encrypted at rest

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from marelle_identity import secretbox

    with op.batch_alter_table('family', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'deletion_request',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('family_id', sa.Uuid(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.Uuid(), nullable=True),
        sa.Column('decision_reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['family_id'], ['family.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_deletion_request_family_id', 'deletion_request', ['family_id'])
    op.create_index('uq_deletion_request_pending', 'deletion_request', ['family_id'], unique=True,
                    postgresql_where=sa.text("status = 'en_attente'"),
                    sqlite_where=sa.text("status = 'en_attente'"))
    op.create_table(
        'household_read',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('family_id', sa.Uuid(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('staff_id', sa.Uuid(), nullable=True),
        sa.Column('staff_email', sa.String(length=254), nullable=False),
        sa.Column('what', sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_household_read_family_at', 'household_read', ['family_id', 'at'])

    # TOTP secrets: wider columns, then every existing one encrypted with IDENTITY_TOTP_KEY.
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64),
                              type_=sa.String(length=255), existing_nullable=True)
        batch_op.alter_column('totp_pending_secret', existing_type=sa.String(length=64),
                              type_=sa.String(length=255), existing_nullable=True)
    key = secretbox.key_from_environment()
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, totp_secret, totp_pending_secret FROM staff_account "
        "WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL")).all()
    for row in rows:
        bind.execute(sa.text("UPDATE staff_account SET totp_secret = :s, totp_pending_secret = :p "
                             "WHERE id = :id"), {
            "id": row.id,
            "s": secretbox.seal(key, row.totp_secret) if row.totp_secret else None,
            "p": secretbox.seal(key, row.totp_pending_secret) if row.totp_pending_secret else None,
        })


def downgrade() -> None:
    from marelle_identity import secretbox

    key = secretbox.key_from_environment()
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, totp_secret, totp_pending_secret FROM staff_account "
        "WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL")).all()
    for row in rows:
        bind.execute(sa.text("UPDATE staff_account SET totp_secret = :s, totp_pending_secret = :p "
                             "WHERE id = :id"), {
            "id": row.id,
            "s": secretbox.unseal(key, row.totp_secret) if row.totp_secret else None,
            "p": secretbox.unseal(key, row.totp_pending_secret) if row.totp_pending_secret else None,
        })
    with op.batch_alter_table('staff_account', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=255),
                              type_=sa.String(length=64), existing_nullable=True)
        batch_op.alter_column('totp_pending_secret', existing_type=sa.String(length=255),
                              type_=sa.String(length=64), existing_nullable=True)
    op.drop_index('ix_household_read_family_at', table_name='household_read')
    op.drop_table('household_read')
    op.drop_index('uq_deletion_request_pending', table_name='deletion_request')
    op.drop_index('ix_deletion_request_family_id', table_name='deletion_request')
    op.drop_table('deletion_request')
    with op.batch_alter_table('family', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
