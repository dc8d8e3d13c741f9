"""A feed as a ``SnapshotBackOffice``: stock in from files, web orders out as files.

Stock: each file the source yields is staged and validated whole (``snapshot.stage``)
before the hub applies anything; the hub then diffs it against what it holds and
applies only the changes (``sync.inventory_in``). Orders (when ``orders_to`` is set):
one file per web order, written atomically with a marker in the destination's ledger
(``order_files``); ``find_posted`` asks the ledger, not the folder (an importer may have
taken the file away), which makes the hub's uncertain-then-look-up cycle exactly once.
A batch stopped halfway reports the files it completed as posted and the rest with no
outcome (uncertain, looked up on the next run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.feed.formats import FeedFormat
from stockbridge.connectors.feed.order_files import OrderDestination, file_name, render
from stockbridge.connectors.feed.snapshot import StagedSnapshot, stage
from stockbridge.connectors.feed.sources import Source
from stockbridge.domain.batching import batched
from stockbridge.domain.model import BackOfficeItem, ItemError, Page, PostOutcome, PostRequest
from stockbridge.domain.snapshot import FeedRow

__all__ = ["FeedBackOffice"]

log = logging.getLogger("stockbridge.partner")
PARTNER = "feed"
PAGE = 1000


class FeedBackOffice:
    """One feed connection. Used by one thread at a time."""

    def __init__(
        self,
        source: Source,
        file_format: FeedFormat,
        *,
        zero_missing: bool = False,
        max_bad_share: float = 0.05,
        orders: OrderDestination | None = None,
        orders_format: str = "json",
        max_orders_per_call: int = 50,
    ) -> None:
        if not 0 <= max_bad_share < 1:
            raise ValueError("max_bad_share must be at least 0 and below 1")
        if orders_format not in ("json", "csv"):
            raise ValueError("orders_format must be json or csv")
        self.source = source
        self.format = file_format
        self.zero_missing = zero_missing
        self.max_bad_share = max_bad_share
        self.orders = orders
        self.orders_format = orders_format
        self.max_orders_per_call = max_orders_per_call
        self.accepts_orders = orders is not None

    def check(self) -> str:
        reached = f"feed {self.source.check()}"
        if self.orders is not None:
            reached += f"; order files to {self.orders.check()}"
        return reached

    def close(self) -> None:
        self.source.close()

    # stock -------------------------------------------------------------------------

    def snapshots(self) -> Iterator[StagedSnapshot]:
        """Each new file, staged; nothing when the source is unchanged. The caller applies
        an accepted snapshot and then calls ``accepted()`` (or ``rejected()``)."""
        for fetched in self.source.fetch():
            try:
                snapshot = stage(
                    fetched.path,
                    self.format,
                    name=fetched.name,
                    max_bad_share=self.max_bad_share,
                    zero_missing=self.zero_missing,
                    produced_at=fetched.produced_at,
                    on_accepted=fetched.on_accepted,
                    on_rejected=fetched.on_rejected,
                )
            finally:
                fetched.cleanup()
            try:
                yield snapshot
            finally:
                snapshot.close()

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        """Every valid row of each new file (the whole snapshot; ``since`` plays no part).
        A rejected file raises ``PartnerResponseError`` before any of its rows come out."""
        for snapshot in self.snapshots():
            if snapshot.rejection is not None:
                snapshot.rejected()
                raise PartnerResponseError(snapshot.rejection, partner=PARTNER)
            valid = (FeedRow(*r[:5]) for r in snapshot.rows() if not r[5])
            for rows in batched(valid, PAGE):
                yield Page(
                    tuple(
                        BackOfficeItem(
                            sku=r.sku,
                            location=r.location,
                            quantity=r.quantity,
                            price=None if r.price is None else Decimal(r.price),
                            name=r.name,
                        )
                        for r in rows
                    )
                )
            snapshot.accepted()

    # orders ------------------------------------------------------------------------

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        if len(requests) > self.max_orders_per_call:
            raise ValueError(f"at most {self.max_orders_per_call} orders per call")
        if self.orders is None:
            return [
                PostOutcome(
                    r.order.web_id,
                    error=ItemError(
                        f"order {r.order.number}", "this feed takes no orders", "no-orders"
                    ),
                )
                for r in requests
            ]
        files = [
            (
                file_name(r.order, self.orders_format),
                render(r.order, self.orders_format, r.idempotency_key),
            )
            for r in requests
        ]
        written = self.orders.write(files)
        if written.error is not None and not written.done:
            raise written.error  # nothing written: the hub looks, then tries again
        if written.error is not None:
            log.warning("%s: %s", PARTNER, written.error)
        done = set(written.done)
        # A file not written gets no outcome: it stays uncertain and is looked up.
        return [
            PostOutcome(r.order.web_id, document_ref=name)
            for r, (name, _data) in zip(requests, files, strict=True)
            if name in done
        ]

    def check_orders(self, requests: Sequence[PostRequest]) -> Mapping[str, ItemError]:
        """What ``post_orders`` would refuse (``OrderChecker``): every order when the feed
        takes none; a file is otherwise written for any order."""
        if self.orders is not None:
            return {}
        return {
            r.order.web_id: ItemError(
                f"order {r.order.number}", "this feed takes no orders", "no-orders"
            )
            for r in requests
        }

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        if self.orders is None or not requests:
            return {}
        names = {r.order.web_id: file_name(r.order, self.orders_format) for r in requests}
        found = self.orders.existing(list(names.values()))
        return {web_id: name for web_id, name in names.items() if name in found}
