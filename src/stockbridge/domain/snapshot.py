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

__all__ = ["FeedRow", "FeedRowLike", "HubRow", "HubRowLike", "OutOfOrder", "diff_snapshot"]


class FeedRow(NamedTuple):
    """One valid row of a snapshot. ``price`` is money as text (as the feed wrote it,
    checked). ``conflicted``: the feed gave this SKU (at this location) twice with
    different quantities, so the hub keeps what it has."""

    sku: str
    location: str
    quantity: int
    price: str | None = None
    name: str | None = None
    conflicted: bool = False


class HubRow(NamedTuple):
    """What the hub holds for one variant at one location (``quantity`` None: the back
    office never reported one). ``price`` is money as text, as the database gives it."""

    sku: str
    location: str
    quantity: int | None
    price: str | None
    name: str | None
    hub_managed: bool


#: Any tuple in ``FeedRow``'s / ``HubRow``'s field order (rows straight from a database).
FeedRowLike = tuple[str, str, int, str | None, str | None, bool | int]
HubRowLike = tuple[str, str, int | None, str | None, str | None, bool]


class OutOfOrder(ValueError):
    """An input of the merge was not sorted: the diff would be wrong, so it stops."""


def _same_money(a: str, b: str | None) -> bool:
    return a == b or (b is not None and Decimal(a) == Decimal(b))


def _item(row: FeedRowLike) -> BackOfficeItem:
    return BackOfficeItem(
        sku=row[0],
        location=row[1],
        quantity=row[2],
        price=None if row[3] is None else Decimal(row[3]),
        name=row[4],
    )


def _zero(row: HubRowLike) -> BackOfficeItem:
    return BackOfficeItem(sku=row[0], quantity=0, location=row[1])


def diff_snapshot(
    feed: Iterable[FeedRowLike], hub: Iterable[HubRowLike], *, zero_missing: bool
) -> Iterator[BackOfficeItem]:
    """Items that change the hub: feed rows that are new or differ (quantity, or price and
    name where the feed gives them), and, with ``zero_missing``, a zero quantity for each
    hub row the snapshot does not mention (hub-managed items and rows already at zero
    excepted). Conflicted feed rows change nothing and are not "missing" either.

    Before: both inputs sorted by (sku, location) in code-point order, keys unique;
    ``OutOfOrder`` is raised otherwise, before anything wrong comes out of that row.
    Rows are read by position (any tuple in the fields' order will do): this loop runs
    once per row of a million-row feed.
    """
    hub_iter = iter(hub)
    h = next(hub_iter, None)
    hk = ("", "") if h is None else (h[0], h[1])
    last_f = last_h = ("", "")  # SKUs are never empty: every key sorts after this
    for f in feed:
        fk = (f[0], f[1])
        if fk <= last_f:
            raise OutOfOrder(f"feed rows out of order at {fk!r} after {last_f!r}")
        last_f = fk
        while h is not None and hk < fk:  # in the hub, not in the feed
            if hk <= last_h:
                raise OutOfOrder(f"hub rows out of order at {hk!r} after {last_h!r}")
            last_h = hk
            if zero_missing and not h[5] and h[2] != 0:
                yield _zero(h)
            h = next(hub_iter, None)
            if h is not None:
                hk = (h[0], h[1])
        if h is not None and hk == fk:
            if hk <= last_h:
                raise OutOfOrder(f"hub rows out of order at {hk!r} after {last_h!r}")
            last_h = hk
            if not f[5] and (
                f[2] != h[2]
                or (f[3] is not None and f[3] != h[3] and not _same_money(f[3], h[3]))
                or (f[4] is not None and f[4] != h[4])
            ):
                yield _item(f)
            h = next(hub_iter, None)
            if h is not None:
                hk = (h[0], h[1])
        elif not f[5]:
            yield _item(f)
    while h is not None:
        if hk <= last_h:
            raise OutOfOrder(f"hub rows out of order at {hk!r} after {last_h!r}")
        last_h = hk
        if zero_missing and not h[5] and h[2] != 0:
            yield _zero(h)
        h = next(hub_iter, None)
        if h is not None:
            hk = (h[0], h[1])
