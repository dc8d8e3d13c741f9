"""Withholding: stock the web must not sell because web orders took it and the back
office's quantities the hub holds do not show it yet.

An order withholds its lines' quantities while it holds stock (its web status is
postable) and the back office has not accounted for it: it is not posted yet (pending),
its post's outcome is unknown (uncertain: the hub may under-publish for one run, never
oversell), or it was posted after the last complete read of back-office stock began
(``reflected_at``; None: no complete read yet, so every posted order counts).
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
    if not order.status.postable:
        return False
    if order.post_state in (PostState.PENDING, PostState.UNCERTAIN):
        return True
    if order.post_state is PostState.POSTED:
        if reflected_at is None:
            return True
        return order.posted_at is not None and order.posted_at > reflected_at
    return False


def withheld(orders: Iterable[OrderState], reflected_at: datetime | None) -> dict[str, int]:
    """Quantity withheld per SKU over ``orders`` (SKUs whose total is zero are left out)."""
    totals: dict[str, int] = {}
    for order in orders:
        if withholds(order, reflected_at):
            for line in order.lines:
                totals[line.sku] = totals.get(line.sku, 0) + line.quantity
    return {sku: total for sku, total in totals.items() if total}
