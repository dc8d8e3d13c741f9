"""delivery state: alert channels that took an incident, order status write-backs

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "delivered_channels", sa.String(length=100), server_default="", nullable=False
            )
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("ack_attempts", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            "ix_orders_store_unacknowledged", ["store_id", "acknowledged_at"], unique=False
        )
    # Orders posted before this revision had their write-back tried then: not again.
    op.execute(
        "UPDATE orders SET acknowledged_at = posted_at, ack_attempts = 1 "
        "WHERE post_state = 'posted'"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_store_unacknowledged")
        batch_op.drop_column("ack_attempts")
        batch_op.drop_column("acknowledged_at")
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.drop_column("delivered_channels")
