"""billing confirmation: the operator's answer on messages, reversal recovery in the ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00
"""

from alembic import op
import sqlalchemy as sa
import mts_service.persistence.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billed_at', mts_service.persistence.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('billing_outcome', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('billing_recovery', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('billing_reply_sealed', sa.LargeBinary(), nullable=True))
        batch_op.create_index('ix_messages_billing_status', ['billing_status'], unique=False)
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recovery', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ledger', schema=None) as batch_op:
        batch_op.drop_column('recovery')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_billing_status')
        batch_op.drop_column('billing_reply_sealed')
        batch_op.drop_column('billing_recovery')
        batch_op.drop_column('billing_outcome')
        batch_op.drop_column('billed_at')
