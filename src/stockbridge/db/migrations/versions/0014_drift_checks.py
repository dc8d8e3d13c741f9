"""Drift checks per store (the drift report, inventory-in's web read, repairs)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("drifted", sa.Integer(), nullable=False),
        sa.Column("web_only", sa.Integer(), nullable=False),
        sa.Column("hub_only", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_drift_checks_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_checks")),
    )
    op.create_index(
        "ix_drift_checks_store_checked", "drift_checks", ["store_id", "checked_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_drift_checks_store_checked", table_name="drift_checks")
    op.drop_table("drift_checks")
