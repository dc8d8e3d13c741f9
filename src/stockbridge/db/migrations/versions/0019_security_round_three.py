"""Security, round three: signed app callbacks used once (``app_call_uses``), partner
users' removals (``app_user_removals``), and the token that minted a token
(``api_tokens.parent_id``)

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_call_uses",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "jti", name=op.f("pk_app_call_uses")),
    )
    with op.batch_alter_table("app_call_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_call_uses_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "app_user_removals",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("store_external_id", sa.String(length=100), nullable=False),
        sa.Column("user_external_id", sa.String(length=100), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "store_external_id", "user_external_id", name=op.f("pk_app_user_removals")
        ),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_parent_id"), ["parent_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_parent_id_api_tokens"),
            "api_tokens",
            ["parent_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_tokens_parent_id_api_tokens"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_api_tokens_parent_id"))
        batch_op.drop_column("parent_id")
    op.drop_table("app_user_removals")
    with op.batch_alter_table("app_call_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_call_uses_expires_at"))
    op.drop_table("app_call_uses")
