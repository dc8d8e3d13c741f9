"""The QuickBooks Web Connector's user per store (QuickBooks Desktop / Point of Sale)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, UtcDateTime

__all__ = ["QbwcUser"]


class QbwcUser(Base):
    """The Web Connector user of one store: the name the .qwc file carries, an Argon2id
    hash of its password, the OwnerID and FileID GUIDs the .qwc file keeps (stable across
    reconnects), and when the Web Connector last called."""

    __tablename__ = "qbwc_users"

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    user_name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    owner_id: Mapped[str] = mapped_column(String(40))
    file_id: Mapped[str] = mapped_column(String(40))
    last_call_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: What the last session came to (its closing message, or why it failed).
    last_outcome: Mapped[str | None] = mapped_column(Text)
