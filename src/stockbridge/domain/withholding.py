"""Withholding: stock the web must not sell because web orders took it and the back
office's quantities the hub holds do not show it yet.

An order withholds its lines' quantities while the back office has not accounted for
them: it holds stock on the web (its web status is postable) and is not posted yet
(pending); or its post's outcome is unknown (uncertain: the hub may under-publish for one
run, never oversell); or it was posted after the last complete read of back-office stock
began (``reflected_at``; None: no complete read yet, so every posted order counts). The
last two hold whatever the web status is now: a document the back office may hold or
holds takes its stock even when the order was cancelled on the web since.
In ``api`` mode the ERP's pushed quantity is the back-office figure: a posted order is
reflected in a SKU whose figure the ERP pushed at or after the posting (``pushed_at``,
per SKU), whatever the last read of the primary back office.
The database implements the same rule in SQL (``db/catalog_stock.py: withheld``); a
property test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from stockbridge.domain.orders import OrderState, PostState

__all__ = ["withheld", "withholds"]


def withholds(order: OrderState, reflected_at: datetime | None) -> bool:
    """Whether ``order``'s quantities are withheld from the web."""
    if order.post_state is PostState.POSTED:
        # The back office took the stock whatever the web did since (a cancel on the web
        # does not take the document back): withheld until a complete read shows it.
        if reflected_at is None:
            return True
        return order.posted_at is not None and order.posted_at > reflected_at
    if order.post_state is PostState.UNCERTAIN:
        return True  # it may be in the back office, whatever the web says since
    return order.post_state is PostState.PENDING and order.status.postable


def withheld(
    orders: Iterable[OrderState],
    reflected_at: datetime | None,
    pushed_at: Mapping[str, datetime] | None = None,
) -> dict[str, int]:
    """Quantity withheld per SKU over ``orders`` (SKUs whose total is zero are left out).
    ``pushed_at``: when the ERP last pushed each api-mode SKU's figure; a posted order's
    line of such a SKU is reflected once the push came at or after the posting."""
    totals: dict[str, int] = {}
    for order in orders:
        if withholds(order, reflected_at):
            for line in order.lines:
                if _pushed_since(order, (pushed_at or {}).get(line.sku)):
                    continue
                totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return {sku: total for sku, total in totals.items() if total}


def _pushed_since(order: OrderState, pushed: datetime | None) -> bool:
    """Whether the ERP pushed the line's SKU at or after ``order`` was posted."""
    return (
        order.post_state is PostState.POSTED
        and order.posted_at is not None
        and pushed is not None
        and order.posted_at <= pushed
    )
