"""One-time OAuth values: the ``state`` of a consent round trip, and the one-time start
link ``stockbridge connect ... --browser`` prints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, UtcDateTime

__all__ = ["OAuthGrant"]


class OAuthGrant(Base):
    """A single-use value, kept only as its SHA-256, expiring after minutes.

    ``purpose`` "state": an authorization request's ``state``, bound to the browser that
    started it (``binding_hash``: the SHA-256 of its dashboard session id, or of a cookie
    set by a start link); ``link_hash`` names the start link it came from, if any.
    ``purpose`` "link": a start link; the consent's end is written on it (``outcome``,
    ``detail``) for the command line that waits for it.
    """

    __tablename__ = "oauth_grants"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10))  # state | link
    kind: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    binding_hash: Mapped[str | None] = mapped_column(String(64))
    link_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))  # connected | failed
    detail: Mapped[str | None] = mapped_column(Text)
