"""alert incidents remember which channels took them

Revision ID: 0006
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "delivered_channels", sa.String(length=100), server_default="", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_incidents", schema=None) as batch_op:
        batch_op.drop_column("delivered_channels")
