"""The QuickBooks Web Connector's user per store (QuickBooks Desktop / Point of Sale),
its sessions and the requests in flight (the durable mailbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, UtcDateTime

__all__ = ["QbwcExchange", "QbwcSession", "QbwcUser"]


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


class QbwcSession(Base):
    """One Web Connector session, as durable hub state (the mailbox): whichever process
    answers a SOAP call of it reads and writes this row in the call's transaction.
    ``state`` is where the session stands (phase, order cursor, iterator, ListIDs read);
    a session ends when closed, when the next session of its store signs in, or when it
    has been quiet for longer than the expiry."""

    __tablename__ = "qbwc_sessions"

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_call_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: None while open; else when and why it ended.
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ended: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    exchanges: Mapped[int] = mapped_column(Integer, default=0)


class QbwcExchange(Base):
    """One request handed to the Web Connector: what it covers (``covers``: the orders,
    or the item page), when it went out and when its answer was applied (None: in flight;
    after the session ends, its orders stay uncertain and are looked up next session)."""

    __tablename__ = "qbwc_exchanges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket: Mapped[str] = mapped_column(
        ForeignKey("qbwc_sessions.ticket", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    covers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(Text)
