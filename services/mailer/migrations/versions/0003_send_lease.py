"""mail send lease

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:34:43.903307
"""
import sqlalchemy as sa
from alembic import op

from services.shared.db import UtcDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', UtcDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('mails', schema=None) as batch_op:
        batch_op.drop_column('lease_until')

