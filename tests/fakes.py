"""In-memory partners for the engine's tests. They follow the connector contracts and
record what happened (calls, batches, documents) so tests can count and inspect.

Fault injection: ``faults`` holds a queue of planned faults per method ("before": fail
without applying; "after": apply, then fail as a dropped connection would; "crash":
apply, then raise a non-partner error as if the hub itself died) and an optional random
failure rate for "before"/"after" transient faults.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from stockbridge.connectors.errors import TransientPartnerError
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    BatchResult,
    ItemError,
    OrderLine,
    Page,
    PostOutcome,
    PostRequest,
    StockUpdate,
    WebOrder,
    WebOrderStatus,
    WebVariant,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class HubCrash(RuntimeError):
    """Stands for the hub dying at this point (not a partner error)."""


class Clock:
    """Strictly increasing partner timestamps."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1)

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=next(self._ticks))


@dataclass
class Faults:
    planned: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    injected: Counter[str] = field(default_factory=Counter)

    def plan(self, method: str, *kinds: str) -> None:
        self.planned[method].extend(kinds)

    def draw(self, method: str) -> str | None:
        if self.planned[method]:
            kind = self.planned[method].popleft()
        elif self.rate and self.rng.random() < self.rate:
            kind = self.rng.choice(("before", "after"))
        else:
            return None
        self.injected[f"{method}:{kind}"] += 1
        return kind

    @staticmethod
    def before(kind: str | None, partner: str) -> None:
        if kind == "before":
            raise TransientPartnerError("503 Service Unavailable", partner=partner)

    @staticmethod
    def after(kind: str | None, partner: str) -> None:
        if kind == "after":
            raise TransientPartnerError("connection reset after sending", partner=partner)
        if kind == "crash":
            raise HubCrash("the hub died right after the partner answered")


class FakeWebStore:
    """A web store: catalog, stock per (sku, location), orders."""

    def __init__(self, *, max_inventory_batch: int = 2000, page_size: int = 50) -> None:
        self.max_inventory_batch = max_inventory_batch
        self.page_size = page_size
        self.clock = Clock()
        self.variants: dict[str, WebVariant] = {}
        self.stock: dict[tuple[str, str], int] = {}
        self.tracked: set[str] = set()
        self.orders: dict[str, WebOrder] = {}
        self.calls: Counter[str] = Counter()
        self.batches: list[list[StockUpdate]] = []
        self.acknowledged: list[str] = []
        self.refuse_ack: set[str] = set()
        self.faults = Faults()
        self._ids = itertools.count(100)

    # seeding -----------------------------------------------------------------

    def add_variant(self, sku: str, quantity: int | None = 0, *, name: str | None = None) -> None:
        ref = f"variant:{next(self._ids)}"
        self.variants[sku] = WebVariant(
            sku, ref, name or sku, Decimal("9.99"), quantity, self.clock.now()
        )
        if quantity is not None:
            self.tracked.add(sku)
            self.stock[(sku, DEFAULT_LOCATION)] = quantity

    def place_order(
        self,
        lines: Sequence[tuple[str, int]],
        *,
        status: WebOrderStatus = WebOrderStatus.OPEN,
    ) -> WebOrder:
        web_id = str(next(self._ids))
        order = WebOrder(
            web_id=web_id,
            number=f"W{web_id}",
            status=status,
            modified_at=self.clock.now(),
            lines=tuple(OrderLine(sku, qty, Decimal("9.99"), sku) for sku, qty in lines),
            total=Decimal("9.99") * sum(q for _, q in lines),
        )
        self.orders[web_id] = order
        if status.postable:
            for sku, qty in lines:
                key = (sku, DEFAULT_LOCATION)
                if key in self.stock:
                    self.stock[key] = max(0, self.stock[key] - qty)
        return order

    def set_status(self, web_id: str, status: WebOrderStatus) -> WebOrder:
        """Change an order's status; like BigCommerce, cancelling returns its stock."""
        old = self.orders[web_id]
        new = replace(old, status=status, modified_at=self.clock.now())
        self.orders[web_id] = new
        if old.status.postable != status.postable:
            sign = 1 if old.status.postable else -1
            for line in old.lines:
                key = (line.sku, DEFAULT_LOCATION)
                if key in self.stock:
                    self.stock[key] = max(0, self.stock[key] + sign * line.quantity)
        return new

    def quantity(self, sku: str, location: str = DEFAULT_LOCATION) -> int | None:
        return self.stock.get((sku, location))

    # WebStore ----------------------------------------------------------------

    def check(self) -> str:
        return "fake web store"

    def close(self) -> None:
        self.calls["close"] += 1

    def maintain(self) -> list[str]:
        self.calls["maintain"] += 1
        return []

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        """Status write-back. Web ids in ``refuse_ack`` are refused one by one."""
        self.calls["acknowledge_orders"] += 1
        kind = self.faults.draw("acknowledge_orders")
        Faults.before(kind, "fake-web")
        refused = [w for w in web_ids if w in self.refuse_ack]
        self.acknowledged.extend(w for w in web_ids if w not in self.refuse_ack)
        Faults.after(kind, "fake-web")
        return BatchResult(tuple(ItemError(w, "order is archived", "422") for w in refused))

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        self.calls["iter_orders"] += 1
        chosen = sorted(
            (o for o in self.orders.values() if since is None or o.modified_at >= since),
            key=lambda o: (o.modified_at, o.web_id),
        )
        for start in range(0, len(chosen), self.page_size):
            kind = self.faults.draw("iter_orders")
            Faults.before(kind, "fake-web")
            page = tuple(chosen[start : start + self.page_size])
            self.calls["orders_page"] += 1
            yield Page(page, cursor=page[-1].modified_at, total=len(chosen))

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        self.calls["iter_catalog"] += 1
        chosen = sorted(
            (
                v
                for v in self.variants.values()
                if since is None or (v.modified_at and v.modified_at >= since)
            ),
            key=lambda v: (v.modified_at or EPOCH, v.sku),
        )
        for start in range(0, len(chosen), 250):
            page = tuple(
                WebVariant(
                    v.sku,
                    v.partner_ref,
                    v.name,
                    v.price,
                    self.stock.get((v.sku, v.location)),
                    v.modified_at,
                )
                for v in chosen[start : start + 250]
            )
            yield Page(page, cursor=page[-1].modified_at)

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        self.calls["push_inventory"] += 1
        assert len(updates) <= self.max_inventory_batch, "batch over the partner's maximum"
        keys = [(u.sku, u.location) for u in updates]
        assert len(keys) == len(set(keys)), "duplicate items in one batch"
        kind = self.faults.draw("push_inventory")
        Faults.before(kind, "fake-web")
        errors = []
        applied = []
        for update in updates:
            if update.sku not in self.variants:
                errors.append(
                    ItemError(update.sku, f"SKU {update.sku} not found in the store", "404")
                )
                continue
            self.stock[(update.sku, update.location)] = update.quantity
            applied.append(update)
        self.batches.append(applied)
        Faults.after(kind, "fake-web")
        return BatchResult(tuple(errors))


@dataclass
class Document:
    doc_id: str
    web_id: str
    number: str
    key: str
    lines: tuple[OrderLine, ...]


class FakeBackOffice:
    """A back office: items with quantity on hand, and documents created from orders.

    ``honours_keys``: repeat requests with a known idempotency key return the first
    document (QuickBooks' requestid); with False, only the hub's look-up prevents doubles.
    """

    def __init__(
        self, *, max_orders_per_call: int = 30, page_size: int = 100, honours_keys: bool = False
    ) -> None:
        self.max_orders_per_call = max_orders_per_call
        self.page_size = page_size
        self.honours_keys = honours_keys
        self.clock = Clock()
        self.items: dict[str, BackOfficeItem] = {}
        self.documents: list[Document] = []
        self.calls: Counter[str] = Counter()
        self.faults = Faults()

    def set_item(
        self,
        sku: str,
        quantity: int | None,
        *,
        name: str | None = None,
        price: str = "9.99",
        active: bool = True,
    ) -> None:
        self.items[sku] = BackOfficeItem(
            sku, name or f"Item {sku}", Decimal(price), quantity, active, self.clock.now()
        )

    def quantity(self, sku: str) -> int | None:
        return self.items[sku].quantity

    def documents_for(self, web_id: str) -> list[Document]:
        return [d for d in self.documents if d.web_id == web_id]

    # BackOffice --------------------------------------------------------------

    def check(self) -> str:
        return "fake back office"

    def close(self) -> None:
        self.calls["close"] += 1

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        self.calls["iter_items"] += 1
        chosen = sorted(
            (
                i
                for i in self.items.values()
                if since is None or (i.modified_at and i.modified_at >= since)
            ),
            key=lambda i: (i.modified_at or EPOCH, i.sku),
        )
        for start in range(0, len(chosen), self.page_size):
            kind = self.faults.draw("iter_items")
            Faults.before(kind, "fake-bo")
            page = tuple(chosen[start : start + self.page_size])
            yield Page(page, cursor=page[-1].modified_at)

    def check_orders(self, requests: Sequence[PostRequest]) -> Mapping[str, ItemError]:
        """What ``post_orders`` would refuse (the same unknown-SKU rule), reading only."""
        self.calls["check_orders"] += 1
        refused = {}
        for request in requests:
            unknown = [line.sku for line in request.order.lines if line.sku not in self.items]
            if unknown and not (
                self.honours_keys and any(d.key == request.idempotency_key for d in self.documents)
            ):
                refused[request.order.web_id] = ItemError(
                    request.order.web_id,
                    f"Invalid Reference Id: no item with SKU {unknown[0]}",
                    "2500",
                )
        return refused

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        self.calls["post_orders"] += 1
        assert len(requests) <= self.max_orders_per_call
        kind = self.faults.draw("post_orders")
        Faults.before(kind, "fake-bo")
        outcomes = []
        for request in requests:
            if self.honours_keys:
                known = [d for d in self.documents if d.key == request.idempotency_key]
                if known:
                    outcomes.append(PostOutcome(request.order.web_id, known[0].doc_id))
                    continue
            unknown = [line.sku for line in request.order.lines if line.sku not in self.items]
            if unknown:
                outcomes.append(
                    PostOutcome(
                        request.order.web_id,
                        error=ItemError(
                            request.order.web_id,
                            f"Invalid Reference Id: no item with SKU {unknown[0]}",
                            "2500",
                        ),
                    )
                )
                continue
            doc = Document(
                f"SR{len(self.documents) + 1}",
                request.order.web_id,
                request.order.number,
                request.idempotency_key,
                request.order.lines,
            )
            self.documents.append(doc)
            for line in request.order.lines:
                item = self.items[line.sku]
                if item.quantity is not None:
                    self.items[line.sku] = BackOfficeItem(
                        item.sku,
                        item.name,
                        item.price,
                        item.quantity - line.quantity,
                        item.active,
                        self.clock.now(),
                    )
            outcomes.append(PostOutcome(request.order.web_id, doc.doc_id))
        Faults.after(kind, "fake-bo")
        return outcomes

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        self.calls["find_posted"] += 1
        kind = self.faults.draw("find_posted")
        Faults.before(kind, "fake-bo")
        numbers = {r.order.number: r.order.web_id for r in requests}
        return {numbers[d.number]: d.doc_id for d in self.documents if d.number in numbers}
