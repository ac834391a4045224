"""job lease (lease_owner, lease_until): one run of a job at a time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:40:00
"""
import sqlalchemy as sa
from alembic import op

from services.shared.db import UtcDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('lease_until', UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
