"""codes bound by address (code_guards, code_requests, several live codes), idle sessions,
e-mail addresses in one form

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:00:00
"""
import logging

import sqlalchemy as sa
from alembic import op

from services.auth.domain import normalize_email
from services.shared.db import UtcDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _codes_table(primary_key: tuple[str, ...], attempts: bool) -> None:
    columns = [
        sa.Column('account_id', sa.String(length=36), nullable=False),
        sa.Column('purpose', sa.String(length=10), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=False),
        *([sa.Column('attempts', sa.Integer(), nullable=False)] if attempts else []),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['accounts.id'],
                                name=op.f('fk_verification_codes_account_id_accounts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(*primary_key, name=op.f('pk_verification_codes')),
    ]
    op.create_table('verification_codes', *columns)


def upgrade() -> None:
    # Live codes live 30 minutes: the table is made again rather than reshaped (a code sent
    # just before the upgrade must be asked for again).
    op.drop_table('verification_codes')
    _codes_table(('account_id', 'purpose', 'code_hash'), attempts=False)
    op.create_table(
        'code_guards',
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('locked_until', UtcDateTime(), nullable=True),
        sa.Column('last_failure_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('subject', name=op.f('pk_code_guards')))
    with op.batch_alter_table('code_guards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_code_guards_last_failure_at'), ['last_failure_at'])
    op.create_table(
        'code_requests',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('purpose', sa.String(length=10), nullable=False),
        sa.Column('requested_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_code_requests')))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('idle_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=200), nullable=True))
    _normalize_addresses()


def _normalize_addresses() -> None:
    """Addresses stored before they were normalised take their one form; two that turn out to
    be one mailbox keep their spelling (an operator merges them) and are logged."""
    bind = op.get_bind()
    accounts = sa.table('accounts', sa.column('id'), sa.column('email'))
    rows = bind.execute(sa.select(accounts.c.id, accounts.c.email)).all()
    taken = {email for _, email in rows}
    for account_id, email in rows:
        normal = normalize_email(email)
        if normal == email:
            continue
        if normal in taken:
            log.warning("account %s: its address is another account's mailbox; left as is",
                        account_id)
            continue
        bind.execute(sa.update(accounts).where(accounts.c.id == account_id).values(email=normal))
        taken.add(normal)


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('user_agent')
        batch_op.drop_column('idle_seconds')
        batch_op.drop_column('last_seen_at')
    op.drop_table('code_requests')
    with op.batch_alter_table('code_guards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_code_guards_last_failure_at'))
    op.drop_table('code_guards')
    op.drop_table('verification_codes')
    _codes_table(('account_id', 'purpose'), attempts=True)
