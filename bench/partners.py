"""In-memory partners for hub-side benchmarks: they accept and count, keep nothing per
item (so the hub's memory is what is measured), and cost nothing per call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

from stockbridge.domain.model import (
    BackOfficeItem,
    BatchResult,
    Page,
    PostOutcome,
    PostRequest,
    StockUpdate,
    WebOrder,
    WebVariant,
)


class CountingWebStore:
    def __init__(self, max_inventory_batch: int = 2000) -> None:
        self.max_inventory_batch = max_inventory_batch
        self.calls = 0
        self.items = 0
        self.largest_batch = 0

    def check(self) -> str:
        return "counting web store"

    def close(self) -> None:
        pass

    def maintain(self) -> list[str]:
        return []

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        return BatchResult()

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        return iter(())

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        return iter(())

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        if len(updates) > self.max_inventory_batch:
            raise AssertionError("batch over the partner's maximum")
        self.calls += 1
        self.items += len(updates)
        self.largest_batch = max(self.largest_batch, len(updates))
        return BatchResult()


class IdleBackOffice:
    max_orders_per_call = 30

    def check(self) -> str:
        return "idle back office"

    def close(self) -> None:
        pass

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        return iter(())

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        return [PostOutcome(r.order.web_id, f"D{r.order.web_id}") for r in requests]

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        return {}
