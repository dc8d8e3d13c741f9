"""dashboard users' store grants: operators see every store, others only granted ones

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("operator", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Users from before this revision saw every store: they stay operators until an
    # operator narrows them (nobody is locked out by the upgrade).
    op.execute(sa.text("UPDATE users SET operator = :yes").bindparams(yes=True))
    op.create_table(
        "user_stores",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_user_stores_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_stores_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "store_id", name=op.f("pk_user_stores")),
    )
    with op.batch_alter_table("user_stores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_stores_store_id"), ["store_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_stores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_stores_store_id"))
    op.drop_table("user_stores")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("operator")
