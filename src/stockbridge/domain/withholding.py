"""Withholding: stock the web must not sell because web orders took it and the back
office's quantities the hub holds do not show it yet.

An order withholds its lines' quantities while the back office has not accounted for
them: it holds stock on the web (its web status is postable) and is not posted yet
(pending); or its post's outcome is unknown (uncertain: the hub may under-publish for one
run, never oversell); or it was posted after the last complete read of back-office stock
began (``reflected_at``; None: no complete read yet, so every posted order counts). The
last two hold whatever the web status is now: a document the back office may hold or
holds takes its stock even when the order was cancelled on the web since.
The database implements the same rule in SQL (``db/catalog_stock.py: withheld``); a
property test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def withheld(orders: Iterable[OrderState], reflected_at: datetime | None) -> dict[str, int]:
    """Quantity withheld per SKU over ``orders`` (SKUs whose total is zero are left out)."""
    totals: dict[str, int] = {}
    for order in orders:
        if withholds(order, reflected_at):
            for line in order.lines:
                totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return {sku: total for sku, total in totals.items() if total}
