"""Rules for web orders: which are taken in, how a newer copy changes the hub's order
(its way to the back office, hub-managed stock, the web's own stock), and under what key
an order is posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from stockbridge.domain.books import Reversal
from stockbridge.domain.freshness import newest_wins
from stockbridge.domain.model import OrderLine, WebOrder, WebOrderStatus

__all__ = [
    "OrderChange",
    "OrderState",
    "PendingOrder",
    "PendingReversal",
    "PostState",
    "ReversalRecord",
    "accepts_update",
    "apply_web_order",
    "idempotency_key",
    "should_take_in",
]

# QuickBooks Online takes a request id of at most 50 characters; stay well inside it.
_MAX_KEY = 50


class PostState(StrEnum):
    """Where a hub order stands on its way to the back office."""

    NOT_POSTABLE = "not_postable"  # cancelled, refunded, ...: never posted (unless revived)
    PENDING = "pending"  # to post
    UNCERTAIN = "uncertain"  # a post was attempted, outcome unknown: look it up first
    POSTED = "posted"  # the back office holds its document; never posted again


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the hub holds about one web order. ``lines`` are filled only where a rule
    reads them (withholding); the order lifecycle reads the incoming copy's lines.
    """

    status: WebOrderStatus
    post_state: PostState
    modified_at: datetime
    posted_at: datetime | None = None
    lines: tuple[OrderLine, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderChange:
    """What applying a web order's copy decides.

    ``ignored``: the copy is stale; nothing of it is applied. Otherwise the hub stores the
    copy with ``post_state``; ``stock_taken`` / ``stock_given_back`` are order lines whose
    quantities come off / go back on hub-managed items (the repository applies them to
    hub-managed items only); ``web_stock_moved`` are SKUs whose stock the web store moved
    by itself (it took stock, or gave it back on a cancel), so what the hub last sent for
    them is no longer what the web holds.
    """

    post_state: PostState
    ignored: bool = False
    stock_taken: tuple[OrderLine, ...] = ()
    stock_given_back: tuple[OrderLine, ...] = ()
    web_stock_moved: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PendingOrder:
    """An order waiting for the back office; ``uncertain`` if a post may have gone through.
    ``row_id`` is the hub's id for it: orders come in that order, and it is how the hub
    marks them.
    """

    row_id: int
    uncertain: bool
    order: WebOrder


@dataclass(frozen=True, slots=True)
class PendingReversal:
    """A reversal of a posted order waiting for the back office (``domain.books``);
    ``uncertain`` if it may have been booked; ``document_ref`` is the order's document."""

    row_id: int
    uncertain: bool
    order: WebOrder
    reversal: Reversal
    seq: int
    document_ref: str


@dataclass(frozen=True, slots=True)
class ReversalRecord:
    """One reversal of an order as the hub records it (its history)."""

    key: str
    kind: str
    state: str  # pending | uncertain | done | refused
    total: Decimal
    document_ref: str | None
    error: str | None


def should_take_in(order: WebOrder) -> bool:
    """Abandoned checkouts (incomplete orders) never enter the hub."""
    return order.status is not WebOrderStatus.INCOMPLETE


def accepts_update(current_modified_at: datetime | None, incoming: WebOrder) -> bool:
    """A stale copy never overwrites a newer one: the partner's modification time decides."""
    return newest_wins(current_modified_at, incoming.modified_at)


def apply_web_order(current: OrderState | None, incoming: WebOrder) -> OrderChange:
    """The order lifecycle: what ``incoming`` (a copy from the web store) changes in the
    hub's order ``current`` (None: the hub has not seen it).

    - A stale copy is ignored.
    - A new order is ``pending`` if it belongs in the back office, else ``not_postable``.
    - A posted order stays posted (its document is never posted again); an uncertain one
      stays uncertain (it must be looked up). Otherwise the order follows the web: pending
      while postable, not_postable while not.
    - What the web does to a posted order afterwards (a cancel, refunds) is no longer
      ignored: ``domain.books.plan_reversals`` turns it into reversals (a void or refund
      documents), which also give its stock back; this function gives back only the
      stock of an order that stops holding stock before it was posted.
    - Stock is taken when an order first holds stock (becomes postable).
    """
    if current is not None and not accepts_update(current.modified_at, incoming):
        return OrderChange(current.post_state, ignored=True)
    postable = incoming.status.postable
    if current is None:
        was_postable = False
        state = PostState.PENDING if postable else PostState.NOT_POSTABLE
    else:
        was_postable = current.status.postable
        state = current.post_state
        if state is PostState.NOT_POSTABLE and postable:
            state = PostState.PENDING
        elif state is PostState.PENDING and not postable:
            state = PostState.NOT_POSTABLE
    if postable == was_postable:
        return OrderChange(state)
    moved = frozenset(line.sku for line in incoming.lines)
    if postable:
        return OrderChange(state, stock_taken=incoming.lines, web_stock_moved=moved)
    given_back = incoming.lines if state is not PostState.POSTED else ()
    return OrderChange(state, stock_given_back=given_back, web_stock_moved=moved)


def idempotency_key(store_id: int, web_id: str) -> str:
    """The same key for the same (store, web order), on every attempt, in every process."""
    key = f"sb-{store_id}-{web_id}"
    if len(key) > _MAX_KEY:
        raise ValueError(f"web order id too long for an idempotency key: {web_id!r}")
    return key
