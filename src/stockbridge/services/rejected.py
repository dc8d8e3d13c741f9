"""Input the hub refused (webhooks, API pushes, feed files), kept with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stockbridge.bootstrap import Hub

__all__ = ["Rejection", "rejected_inputs"]


@dataclass(frozen=True)
class Rejection:
    source: str
    reason: str
    received_at: datetime | None
    payload: str | None  # as received, cut to a bounded length


def rejected_inputs(hub: Hub, store_id: int | None, limit: int = 100) -> list[Rejection]:
    """The newest first, of one store (or of every store with None)."""
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        return [
            Rejection(r.source, r.reason, r.received_at, r.payload)
            for r in uow.inbox.rejected(store_id, limit)
        ]
