"""Books that balance: order tax, buyer and payment method; web line ids; reversals of
posted orders (voids, refund receipts); the store's books settings

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax", sa.Numeric(14, 4), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("billing_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("payment_method", sa.String(length=100), nullable=True))
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("line_id", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "customer_mode", sa.String(length=20), nullable=False, server_default="single"
            )
        )
        batch_op.add_column(
            sa.Column("cancel_as", sa.String(length=20), nullable=False, server_default="void")
        )
        batch_op.add_column(sa.Column("deposit_account", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("payment_methods", sa.JSON(), nullable=True))
    op.create_table(
        "order_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("document_ref", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reported", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_reversals_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_reversals")),
        sa.UniqueConstraint("order_id", "key", name=op.f("uq_order_reversals_order_id")),
    )
    op.create_index("ix_order_reversals_state", "order_reversals", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_order_reversals_state", table_name="order_reversals")
    op.drop_table("order_reversals")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("payment_methods")
        batch_op.drop_column("deposit_account")
        batch_op.drop_column("cancel_as")
        batch_op.drop_column("customer_mode")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("line_id")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("payment_method")
        batch_op.drop_column("billing_name")
        batch_op.drop_column("tax")
