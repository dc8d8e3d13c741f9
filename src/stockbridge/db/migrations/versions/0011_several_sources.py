"""Several inventory sources per store (supplier connections by name, SKU claims),
business-day schedules

Revision ID: 0011
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A store keeps its one web store and one (primary) back office; suppliers are
    # connections of role "supplier", one per name. Existing rows get the name "".
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("owns", sa.String(length=255), nullable=True))
        batch_op.drop_constraint("uq_connections_store_id", type_="unique")
        batch_op.create_unique_constraint("uq_connections_store_id", ["store_id", "role", "name"])
    op.create_table(
        "source_claims",
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_source_claims_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"],
            ["variants.id"],
            name=op.f("fk_source_claims_variant_id_variants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("variant_id", name=op.f("pk_source_claims")),
    )
    op.create_index(
        op.f("ix_source_claims_connection_id"), "source_claims", ["connection_id"], unique=False
    )
    # New stores start with Sync All hidden (the hub sets it when it adds a store); the
    # stores already there keep the value they have: nothing to change in "stores".
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("business_days", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("holidays", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_column("holidays")
        batch_op.drop_column("business_days")
    op.drop_index(op.f("ix_source_claims_connection_id"), table_name="source_claims")
    op.drop_table("source_claims")
    # Suppliers have no place in the old schema (one back office per store).
    op.execute("DELETE FROM connections WHERE role = 'supplier'")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_constraint("uq_connections_store_id", type_="unique")
        batch_op.create_unique_constraint("uq_connections_store_id", ["store_id", "role"])
        batch_op.drop_column("owns")
        batch_op.drop_column("name")
