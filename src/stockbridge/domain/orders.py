"""Rules for web orders: which are taken in, which are posted, and under what key."""

from __future__ import annotations

from datetime import datetime

from stockbridge.domain.model import WebOrder, WebOrderStatus

__all__ = ["accepts_update", "idempotency_key", "should_take_in"]

# QuickBooks Online takes a request id of at most 50 characters; stay well inside it.
_MAX_KEY = 50


def should_take_in(order: WebOrder) -> bool:
    """Abandoned checkouts (incomplete orders) never enter the hub."""
    return order.status is not WebOrderStatus.INCOMPLETE


def accepts_update(current_modified_at: datetime | None, incoming: WebOrder) -> bool:
    """A stale copy never overwrites a newer one: the partner's modification time decides."""
    return current_modified_at is None or incoming.modified_at >= current_modified_at


def idempotency_key(store_id: int, web_id: str) -> str:
    """The same key for the same (store, web order), on every attempt, in every process."""
    key = f"sb-{store_id}-{web_id}"
    if len(key) > _MAX_KEY:
        raise ValueError(f"web order id too long for an idempotency key: {web_id!r}")
    return key
