"""The Web Connector as a durable mailbox: its sessions and the requests in flight

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qbwc_sessions",
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_call_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("exchanges", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_qbwc_sessions_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_qbwc_sessions_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket", name=op.f("pk_qbwc_sessions")),
    )
    op.create_index(op.f("ix_qbwc_sessions_store_id"), "qbwc_sessions", ["store_id"], unique=False)
    op.create_table(
        "qbwc_exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("covers", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket"],
            ["qbwc_sessions.ticket"],
            name=op.f("fk_qbwc_exchanges_ticket_qbwc_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbwc_exchanges")),
    )
    op.create_index(op.f("ix_qbwc_exchanges_ticket"), "qbwc_exchanges", ["ticket"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_qbwc_exchanges_ticket"), table_name="qbwc_exchanges")
    op.drop_table("qbwc_exchanges")
    op.drop_index(op.f("ix_qbwc_sessions_store_id"), table_name="qbwc_sessions")
    op.drop_table("qbwc_sessions")
