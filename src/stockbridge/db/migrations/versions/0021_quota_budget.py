"""The quota ledger keeps what BigCommerce's headers say is left in its window (a budget
used by one per request start, so a burst goes at once) instead of an even spacing
(PostgreSQL only, like the ledger itself)

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE rate_limit_accounts ADD COLUMN budget integer, "
        "ADD COLUMN budget_until timestamptz, "
        "DROP COLUMN interval_seconds, DROP COLUMN last_start"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE rate_limit_accounts DROP COLUMN budget, DROP COLUMN budget_until, "
        "ADD COLUMN interval_seconds double precision NOT NULL DEFAULT 0, "
        "ADD COLUMN last_start timestamptz"
    )
