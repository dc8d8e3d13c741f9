"""One-time OAuth values: consent ``state`` and command-line start links

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_grants",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=True),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_oauth_grants_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_oauth_grants")),
    )
    op.create_index(op.f("ix_oauth_grants_store_id"), "oauth_grants", ["store_id"])
    op.create_index(op.f("ix_oauth_grants_expires_at"), "oauth_grants", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_oauth_grants_expires_at"), table_name="oauth_grants")
    op.drop_index(op.f("ix_oauth_grants_store_id"), table_name="oauth_grants")
    op.drop_table("oauth_grants")
