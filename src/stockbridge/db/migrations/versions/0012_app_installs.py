"""Partner app installs (BigCommerce single-click app), the partner users they bring,
and framing for the dashboard sessions an app load opens

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_installs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=True),
        sa.Column("account_uuid", sa.String(length=100), nullable=True),
        sa.Column("owner_external_id", sa.String(length=100), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_schedules", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_app_installs_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_installs")),
        sa.UniqueConstraint("kind", "external_id", name=op.f("uq_app_installs_kind")),
    )
    op.create_index(op.f("ix_app_installs_store_id"), "app_installs", ["store_id"], unique=False)
    op.create_table(
        "app_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_app_users_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_users")),
        sa.UniqueConstraint("kind", "external_id", name=op.f("uq_app_users_kind")),
    )
    op.create_index(op.f("ix_app_users_user_id"), "app_users", ["user_id"], unique=True)
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frame_ancestors", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_column("frame_ancestors")
    op.drop_index(op.f("ix_app_users_user_id"), table_name="app_users")
    op.drop_table("app_users")
    op.drop_index(op.f("ix_app_installs_store_id"), table_name="app_installs")
    op.drop_table("app_installs")
