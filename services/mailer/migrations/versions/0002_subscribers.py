"""newsletter subscribers; a mail is unique per event, kind and account

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:03:02.939707
"""
import sqlalchemy as sa
from alembic import op

from services.shared.db import UtcDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subscribers',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('changed_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_subscribers'))
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscribers_subscribed'), ['subscribed'], unique=False)
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.drop_constraint('uq_mails_event_id', type_='unique')
        batch_op.create_unique_constraint('uq_mails_delivery', ['event_id', 'kind', 'account_id'])



def downgrade() -> None:
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.drop_constraint('uq_mails_delivery', type_='unique')
        batch_op.create_unique_constraint('uq_mails_event_id', ['event_id', 'kind'])
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscribers_subscribed'))

    op.drop_table('subscribers')
