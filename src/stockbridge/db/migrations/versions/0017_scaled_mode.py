"""Scaled mode: procrastinate's job tables, and the partner quota ledger shared by every
worker process (PostgreSQL only; SQLite runs the embedded worker and needs neither)

Revision ID: 0017
Revises: 0016

Procrastinate's schema is the one of the installed procrastinate (the ``scaled`` extra
pins ``procrastinate>=3.10``). Without procrastinate installed nothing of it is applied
here; ``stockbridge init`` applies it once the extra is installed. A later procrastinate
whose schema changed comes with a revision of ours applying its migration files (shipped
in ``procrastinate/sql/migrations``), see docs/deploy.md.
"""

import logging

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The quota ledger (db/quota.py): what each partner account was sent, across processes.
    op.execute(
        """
        CREATE TABLE rate_limit_accounts (
            account varchar(200) PRIMARY KEY,
            not_before timestamptz NOT NULL DEFAULT now(),
            interval_seconds double precision NOT NULL DEFAULT 0,
            last_start timestamptz
        )
        """
    )
    op.execute(
        """
        CREATE TABLE rate_limit_sent (
            account varchar(200) NOT NULL,
            at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX ix_rate_limit_sent ON rate_limit_sent (account, at)")
    op.execute(
        """
        CREATE TABLE rate_limit_in_flight (
            id bigserial PRIMARY KEY,
            account varchar(200) NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX ix_rate_limit_in_flight ON rate_limit_in_flight (account)")
    try:
        from procrastinate.schema import SchemaManager
    except ImportError:
        log.warning("procrastinate is not installed: scaled mode's job tables not created")
        return
    has_jobs = bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar()
    if not has_jobs:
        bind.connection.cursor().execute(SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("DROP TABLE rate_limit_in_flight")
    op.execute("DROP TABLE rate_limit_sent")
    op.execute("DROP TABLE rate_limit_accounts")
