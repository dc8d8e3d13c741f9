"""Dashboard users, their store grants, sessions and the login throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, UtcDateTime

__all__ = ["DashboardSession", "LoginThrottle", "User", "UserStore"]


class User(Base):
    """Someone who may use the dashboard. Only an Argon2id hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: An operator sees every store; anyone else only the stores granted in ``user_stores``.
    operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class UserStore(Base):
    """A store a (non-operator) dashboard user may see and change."""

    __tablename__ = "user_stores"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DashboardSession(Base):
    """A logged-in browser. The cookie carries a random id; only its SHA-256 is stored.
    ``csrf_token`` is sent back with every form and htmx request of this session."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: A session opened by a partner's app load (inside the partner's control panel):
    #: the origins allowed to frame its pages (CSP frame-ancestors). None: no framing.
    frame_ancestors: Mapped[str | None] = mapped_column(String(500))


class LoginThrottle(Base):
    """Failed logins per (user name, client address): after too many, logins from that
    address for that name wait, whatever the password."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
