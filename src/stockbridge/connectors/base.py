"""The two ports every partner connector implements, a web store and a back office, and
the webhook adapter a connector kind brings when its partner pushes events to the hub.

Concurrency style: synchronous and streaming. Methods block; long reads are iterators of
``Page`` objects so the hub never holds a whole catalog or order history in memory.
Sync steps run in worker threads; a connector instance is used by one thread at a time.

Error contract (see ``connectors.errors``): a whole call that fails raises a
``PartnerError`` subclass; a single item the partner refuses comes back as an
``ItemError`` inside the result, with the partner's own message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from stockbridge.domain.books import ReversalRequest
from stockbridge.domain.model import (
    BackOfficeItem,
    BatchResult,
    ItemError,
    Page,
    PostOutcome,
    PostRequest,
    StockUpdate,
    WebEvent,
    WebOrder,
    WebVariant,
)
from stockbridge.domain.reconcile import BookDocument, WebPeriod
from stockbridge.domain.snapshot import FeedRowLike
from stockbridge.domain.web_catalog import CatalogUpdate, NewProduct

__all__ = [
    "BackOffice",
    "BadWebhook",
    "BooksLedgerReader",
    "BooksWebReader",
    "CatalogWebStore",
    "Delivery",
    "OrderChecker",
    "PulledBackOffice",
    "ReversingBackOffice",
    "Snapshot",
    "SnapshotBackOffice",
    "WebStore",
    "WebhookAdapter",
]


@runtime_checkable
class WebStore(Protocol):
    """An online store (BigCommerce, Shopify, ...)."""

    #: The most stock updates the partner accepts in one call.
    max_inventory_batch: int

    def check(self) -> str:
        """One cheap call that proves the credentials work; returns what was reached
        (e.g. the store's name). Raises ``PartnerAuthError`` for refused credentials.
        """
        ...

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        """Orders created or changed at or after ``since`` (all orders when None).

        Pages come in ascending modification order; each page's ``cursor`` is a time from
        which a later call resumes without missing an order (re-delivering some is fine:
        the hub de-duplicates). Incomplete orders (abandoned checkouts) may be omitted.
        Each order carries all of its lines.
        """
        ...

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        """Variants changed at or after ``since`` (the whole catalog when None), with their
        partner reference (used to address stock writes), name, price and web stock.
        """
        ...

    def maintain(self) -> list[str]:
        """Housekeeping at the start of a run that reads the store (e.g. re-activate
        webhooks the store deactivated). Returns notes of what it changed (may be empty).
        """
        ...

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        """Told once the back office has accepted these orders. A store may write back a
        configured status (the status only, never the lines); doing nothing is fine.
        Refusals come back as item errors keyed by web order id.
        """
        ...

    def close(self) -> None:
        """Release connections (HTTP pools). The hub calls it when a run ends; safe twice."""
        ...

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        """Set absolute stock for at most ``max_inventory_batch`` items in one call.

        Before: ``updates`` has no two entries for the same (sku, location).
        After: every update not named in the result's errors was accepted (the partner may
        apply it asynchronously; do not read back to confirm). Idempotent: sending the
        same absolute quantities again is harmless. Raises ``TransientPartnerError`` when
        the call's outcome is unknown.
        """
        ...


@runtime_checkable
class StockReadingWebStore(WebStore, Protocol):
    """A web store whose current stock the hub can read for chosen products (a webhook's
    products, the assigned products on a manual sync), not only changes since a cursor."""

    def product_of(self, partner_ref: str) -> str | None:
        """The web product id a partner reference belongs to (None: none)."""
        ...

    def read_products(self, product_ids: Sequence[str]) -> list[WebVariant]:
        """The current variants (stock included) of these products; products the store
        no longer has are left out. Read-only, in the largest pages the store allows."""
        ...


@runtime_checkable
class CatalogWebStore(WebStore, Protocol):
    """A web store the hub can also create products on and send prices, names and
    visibility to (``sync/catalog_out.py``). A store without these methods still takes
    stock; the catalog step is skipped for it.
    """

    #: ``update_catalog`` is cheapest when given a multiple of this many updates.
    catalog_batch: int

    def find_skus(self, skus: Sequence[str]) -> Mapping[str, str]:
        """Look the SKUs up: SKU -> partner reference of those the store has. Read-only;
        used before creating again a product whose creation's outcome is unknown."""
        ...

    def create_product(self, product: NewProduct) -> str | ItemError:
        """Create one product (one SKU, stock tracked by product, stock 0); returns its
        partner reference, or the store's refusal as an item error keyed by SKU naming
        the field. A product with this SKU that exists already (an earlier creation
        whose answer was lost) is adopted: its reference comes back. Raises
        ``TransientPartnerError`` when the outcome is unknown (look it up later)."""
        ...

    def update_catalog(self, updates: Sequence[CatalogUpdate]) -> BatchResult:
        """Send prices, names and visibility, in the largest batches the store takes.
        Every update not named (by SKU) in the result's errors was applied. Idempotent."""
        ...


@runtime_checkable
class BackOffice(Protocol):
    """A back office (QuickBooks Online, a POS, an ERP feed, ...)."""

    #: The most orders one ``post_orders`` call may carry.
    max_orders_per_call: int

    def check(self) -> str:
        """One cheap call that proves the credentials work; returns what was reached
        (e.g. the company's name). Raises ``PartnerAuthError`` for refused credentials.
        """
        ...

    def close(self) -> None:
        """Release connections (HTTP pools). The hub calls it when a run ends; safe twice."""
        ...

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        """Items (quantity on hand, price, name, active flag) changed at or after ``since``;
        every item when None. Each page's ``cursor`` resumes the stream after a commit.
        """
        ...

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        """Create one back-office document (sales receipt, invoice, file) per order.

        Before: at most ``max_orders_per_call`` requests. After: exactly one outcome per
        request, posted (with the document's reference) or refused (with the partner's
        message). The request's ``idempotency_key`` is sent to partners that honour one, so
        repeating a request never creates a second document. Raises
        ``TransientPartnerError`` when it is unknown which orders went through; the
        caller then asks ``find_posted`` before posting them again.
        """
        ...

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        """Look the orders up in the back office by their reference (e.g. DocNumber).

        Returns web order id -> document reference for those that already exist; orders
        absent from the answer were not posted. Read-only.
        """
        ...


@runtime_checkable
class OrderChecker(Protocol):
    """A back office that can say, by reading only, which orders ``post_orders`` would
    refuse and why (the dry run of Sync All asks it instead of posting)."""

    def check_orders(self, requests: Sequence[PostRequest]) -> Mapping[str, ItemError]:
        """Web order id -> why ``post_orders`` would refuse it, for the refused ones (the
        same checks ``post_orders`` makes before it sends anything: unknown SKU, inactive
        item, ...). Read-only: creates nothing at the partner."""
        ...


@runtime_checkable
class ReversingBackOffice(Protocol):
    """A back office that can reverse what it booked (``domain.books``): void a posted
    document, or book a refund document for exactly a refund's lines."""

    def post_reversals(self, requests: Sequence[ReversalRequest]) -> Sequence[PostOutcome]:
        """Send each reversal under its ``key`` (a resend with the same key must not book
        twice). One outcome per request answered, ``web_id`` = the request's key: a
        document id, or an ``ItemError`` when refused (nothing booked). A request left
        unanswered has an unknown outcome: ``find_reversals`` before any resend."""
        ...

    def find_reversals(self, requests: Sequence[ReversalRequest]) -> Mapping[str, str]:
        """key -> document for the reversals the back office holds already."""
        ...


@runtime_checkable
class BooksWebReader(Protocol):
    """A web store that lists a period's sales and refunds for the month-end check
    (``domain.reconcile``), in its paged list calls, never one call per order."""

    def books_period(self, start: date, end: date) -> WebPeriod:
        """Orders placed and refunds made on [start, end] (UTC days), as they stand now.
        Reads only; raises the connector's PartnerError when the partner cannot answer."""
        ...


@runtime_checkable
class BooksLedgerReader(Protocol):
    """A back office that lists the documents of a period for the month-end check."""

    def books_documents(self, start: date, end: date) -> Sequence[BookDocument]:
        """The sales documents and refund documents dated [start, end], in paged
        queries. Reads only."""
        ...


@runtime_checkable
class PulledBackOffice(BackOffice, Protocol):
    """A back office that calls the hub instead of being called (QuickBooks Desktop
    through the Web Connector). ``waiting_for`` is None while it is reachable (a session
    is open); otherwise it says what the hub waits for, and the steps leave it alone:
    nothing is marked or read, the next session does the work from the hub's state."""

    @property
    def waiting_for(self) -> str | None: ...


class Snapshot(Protocol):
    """One whole-stock report (a feed file), validated whole before anything is applied.

    ``rejection`` is None when it may be applied; otherwise why not (nothing of it may
    be applied). ``errors`` are its bad rows (kept out of ``rows()``), ``bad_rows`` their
    count. ``zero_missing``: SKUs it does not mention go to zero (else they are left
    alone). ``produced_at``: when the report was made, where known.
    """

    name: str
    rejection: str | None
    errors: list[ItemError]
    bad_rows: int
    zero_missing: bool
    produced_at: datetime | None

    def rows(self) -> Iterator[FeedRowLike]:
        """Valid rows (``FeedRow``'s fields, as tuples) sorted by (SKU, location) in
        code-point order; memory flat."""
        ...

    def stage_changes(self, items: Iterable[BackOfficeItem]) -> int:
        """Keep the changes the hub computed (on disk); returns how many."""
        ...

    def changed_pages(self, size: int) -> Iterator[Page[BackOfficeItem]]:
        """The staged changes, ``size`` at a time, in the order staged."""
        ...

    def accepted(self) -> None:
        """Called once every change was committed: the source remembers the report (so an
        unchanged one is not read again) or moves its file to processed/."""
        ...

    def rejected(self) -> None:
        """Called for a rejected report (a folder moves the file to rejected/)."""
        ...


@runtime_checkable
class SnapshotBackOffice(BackOffice, Protocol):
    """A back office that reports whole snapshots of stock (an ERP or POS feed) instead of
    changes. The hub diffs each snapshot against what it holds and applies only changes
    (``sync.inventory_in``). ``accepts_orders`` is False when it takes no web orders.
    """

    accepts_orders: bool

    def snapshots(self) -> Iterator[Snapshot]:
        """Each new report since the last accepted one, oldest first; nothing when the
        source is unchanged (one cheap request). A snapshot is closed when the
        iteration moves past it."""
        ...


class BadWebhook(ValueError):
    """A verified delivery that is not one the adapter understands; the message says why
    (the receiver answers 422 and keeps the delivery for the dashboard)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery as it arrived: the raw body, and the headers the adapter
    named in ``WebhookAdapter.headers`` (lower-case names; absent when not sent)."""

    body: bytes
    headers: Mapping[str, str]


class WebhookAdapter(Protocol):
    """How one connector kind's partner delivers webhooks; registered with the connector
    (``ConnectorRegistry.register(kind, factory, webhooks=...)``). Deliveries arrive at
    ``POST /webhooks/{kind}/{store}``; the receiver is partner-blind and, per delivery:

    1. reads the body (bounded) and the headers named in ``headers``;
    2. loads the secret ``secret_key`` from the vault of the store's connection of this
       kind (cached briefly) and calls ``verify``: False means 401 and nothing stored;
    3. calls ``parse``: a ``WebEvent`` is stored in the inbox (``dedup_key`` drops
       re-deliveries) before the 200 goes back; ``BadWebhook`` means 422, and the
       delivery is kept with the reason.

    Both run on the event loop of the hot path: no I/O, no blocking, and ``verify``
    compares in constant time (``hmac.compare_digest``).
    """

    #: The connection kind this adapter serves (the ``{kind}`` of the URL).
    kind: str
    #: The name of the connection's secret that verifies a delivery.
    secret_key: str
    #: Lower-case names of the headers ``verify`` and ``parse`` read.
    headers: frozenset[str]

    def verify(self, delivery: Delivery, secret: str) -> bool:
        """True only when ``delivery`` provably comes from the partner holding ``secret``
        (an empty secret verifies nothing)."""
        ...

    def parse(self, delivery: Delivery) -> WebEvent:
        """The hub event a verified delivery announces; raises ``BadWebhook``."""
        ...
