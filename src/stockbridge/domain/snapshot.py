"""A full snapshot of a back office's stock (a feed file) against what the hub holds.

Both sides arrive sorted by (SKU, location) in code-point order, so the diff is one merge
pass: memory stays flat whatever the feed's size. Only rows that change the hub come
out; SKUs absent from the snapshot are left alone, or set to zero when asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

from stockbridge.domain.model import BackOfficeItem

__all__ = ["FeedRow", "HubRow", "OutOfOrder", "diff_snapshot"]


class FeedRow(NamedTuple):
    """One valid row of a snapshot. ``conflicted``: the feed gave this SKU (at this
    location) twice with different quantities, so the hub keeps what it has."""

    sku: str
    location: str
    quantity: int
    price: Decimal | None = None
    name: str | None = None
    conflicted: bool = False


class HubRow(NamedTuple):
    """What the hub holds for one variant at one location (``quantity`` None: the back
    office never reported one)."""

    sku: str
    location: str
    quantity: int | None
    price: Decimal | None
    name: str | None
    hub_managed: bool


class OutOfOrder(ValueError):
    """An input of the merge was not sorted: the diff would be wrong, so it stops."""


def _changed(feed: FeedRow, hub: HubRow) -> bool:
    return (
        feed.quantity != hub.quantity
        or (feed.price is not None and feed.price != hub.price)
        or (feed.name is not None and feed.name != hub.name)
    )


def _item(row: FeedRow) -> BackOfficeItem:
    return BackOfficeItem(
        sku=row.sku, name=row.name, price=row.price, quantity=row.quantity, location=row.location
    )


def diff_snapshot(
    feed: Iterable[FeedRow], hub: Iterable[HubRow], *, zero_missing: bool
) -> Iterator[BackOfficeItem]:
    """Items that change the hub: feed rows that are new or differ (quantity, or price and
    name where the feed gives them), and, with ``zero_missing``, a zero quantity for each
    hub row the snapshot does not mention (hub-managed items and rows already at zero
    excepted). Conflicted feed rows change nothing and are not "missing" either.

    Before: both inputs sorted by (sku, location) in code-point order, keys unique;
    ``OutOfOrder`` is raised otherwise, before anything wrong comes out of that row.
    """
    feed_iter = iter(feed)
    hub_iter = iter(hub)
    f = next(feed_iter, None)
    h = next(hub_iter, None)
    last_f = last_h = ("", "")  # SKUs are never empty: every key sorts after this
    while f is not None or h is not None:
        fk = (f[0], f[1]) if f is not None else None
        hk = (h[0], h[1]) if h is not None else None
        if fk is not None and (hk is None or fk <= hk):
            assert f is not None
            if fk <= last_f:
                raise OutOfOrder(f"feed rows out of order at {fk!r} after {last_f!r}")
            last_f = fk
            if fk == hk:
                assert h is not None
                if not f.conflicted and _changed(f, h):
                    yield _item(f)
                last_h = fk
                h = next(hub_iter, None)
            elif not f.conflicted:
                yield _item(f)
            f = next(feed_iter, None)
        else:
            assert h is not None and hk is not None
            if hk <= last_h:
                raise OutOfOrder(f"hub rows out of order at {hk!r} after {last_h!r}")
            last_h = hk
            if zero_missing and not h.hub_managed and h.quantity != 0:
                yield BackOfficeItem(sku=h.sku, quantity=0, location=h.location)
            h = next(hub_iter, None)
