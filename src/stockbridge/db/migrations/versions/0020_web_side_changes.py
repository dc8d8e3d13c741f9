"""Web-side changes and the hub's own echoes: the writes awaiting their webhook
(``stock_echoes``), the web products a run reads (``sync_runs.targets``) and what an inbox
pass made of each event (``inbox_events.outcome``)

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_echoes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("change", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("awaiting", sa.Boolean(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_stock_echoes_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_echoes")),
        sa.UniqueConstraint("connection_id", "product", name=op.f("uq_stock_echoes_connection_id")),
    )
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("targets", sa.JSON(), nullable=True))
    with op.batch_alter_table("inbox_events") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_column("outcome")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("targets")
    op.drop_table("stock_echoes")
