"""Partner apps a store's owner installed from the partner's side (BigCommerce's
single-click app): which partner store each install is, and which partner users are
which dashboard users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, UtcDateTime

__all__ = ["AppCallUse", "AppInstall", "AppUser", "AppUserRemoval"]


class AppInstall(Base):
    """A partner store (``kind``, ``external_id``: a BigCommerce store hash) that installed
    the hub's app, and the hub store it became. ``uninstalled_at`` set: the partner
    uninstalled the app; the store keeps its history, syncs nothing and has no token until
    the app is installed again. ``paused_schedules``: the ids of the schedules the
    uninstall turned off (a re-install turns exactly those back on)."""

    __tablename__ = "app_installs"
    __table_args__ = (UniqueConstraint("kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str | None] = mapped_column(Text)
    account_uuid: Mapped[str | None] = mapped_column(String(100))
    owner_external_id: Mapped[str | None] = mapped_column(String(100))
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_schedules: Mapped[list[Any]] = mapped_column(JSON, default=list)


class AppUser(Base):
    """A partner's user (``kind``, ``external_id``: a BigCommerce user id) and the
    dashboard user who stands for them. Such users have no password: they come in only
    through the partner's signed app load."""

    __tablename__ = "app_users"
    __table_args__ = (UniqueConstraint("kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, unique=True
    )
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AppCallUse(Base):
    """A partner's signed callback (BigCommerce's load / uninstall / remove_user JWT,
    by its ``jti``) already acted on. Kept until the JWT expires, so a replay of the same
    link is refused; rows past ``expires_at`` are dropped as new ones come in."""

    __tablename__ = "app_call_uses"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AppUserRemoval(Base):
    """When the partner last took a store away from one of its users (``remove_user``):
    a signed load issued before that moment no longer opens the store for them."""

    __tablename__ = "app_user_removals"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_external_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_external_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    removed_at: Mapped[datetime] = mapped_column(UtcDateTime)
