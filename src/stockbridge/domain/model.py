"""Entities the hub and its partners exchange. Frozen, typed, standard library only.

Money is ``Decimal``; quantities are ``int``; times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_LOCATION",
    "SYNC_ALL",
    "BackOfficeItem",
    "BatchResult",
    "BooksOptions",
    "CancelAs",
    "CustomerMode",
    "InventorySource",
    "ItemError",
    "OrderLine",
    "Page",
    "PostOutcome",
    "PostRequest",
    "RefundLine",
    "RunStatus",
    "Step",
    "StockUpdate",
    "Trigger",
    "WebEvent",
    "WebEventKind",
    "WebOrder",
    "WebOrderStatus",
    "WebRefund",
    "WebVariant",
]

DEFAULT_LOCATION = "default"

T = TypeVar("T")


class InventorySource(StrEnum):
    """Which system's stock figure the web store shows (per store; a product may override)."""

    BACK_OFFICE = "back_office"
    WEB = "web"
    ERP_VIA_WEB = "erp_via_web"
    API = "api"

    @property
    def explanation(self) -> str:
        return _SOURCE_EXPLANATIONS[self]

    @property
    def web_is_master(self) -> bool:
        return self in (InventorySource.WEB, InventorySource.ERP_VIA_WEB)


_SOURCE_EXPLANATIONS = {
    InventorySource.BACK_OFFICE: "The back office is the master; the hub pushes its stock "
    "to the web (assigned products: the hub's own quantity).",
    InventorySource.WEB: "Manage inventory in BigCommerce: the hub is the master of assigned "
    "products (edit their stock here; a manual sync never overwrites it); everything else "
    "follows the web store.",
    InventorySource.ERP_VIA_WEB: "Manage inventory in your ERP: it writes stock to the web store "
    "and the hub follows it for every product, assigned ones too, never pushing over it.",
    InventorySource.API: "Sync inventory via the API: an ERP pushes stock to the hub's API (or the "
    "hub pulls its feed), assigned products included; the hub pushes it to the web.",
}


class Step(StrEnum):
    """The four steps of the sync cycle, in the order Sync All runs them."""

    ORDERS_IN = "orders-in"
    ORDERS_OUT = "orders-out"
    INVENTORY_IN = "inventory-in"
    INVENTORY_OUT = "inventory-out"


SYNC_ALL: tuple[Step, ...] = (
    Step.ORDERS_IN,
    Step.ORDERS_OUT,
    Step.INVENTORY_IN,
    Step.INVENTORY_OUT,
)


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    API = "api"
    #: A drift repair: orders-in, then exactly the drifted SKUs pushed (``sync/drift.py``).
    REPAIR = "repair"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished, some items failed (they are retried by the next run)
    FAILED = "failed"  # the run itself stopped; see its error
    # its process died mid-run; a later run resumes the steps it had not finished
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (
            RunStatus.SUCCEEDED,
            RunStatus.PARTIAL,
            RunStatus.FAILED,
            RunStatus.INTERRUPTED,
        )


class WebOrderStatus(StrEnum):
    """A web order's state in the hub's words; each web connector maps its partner's codes."""

    INCOMPLETE = "incomplete"  # abandoned checkout: never taken in, never posted
    AWAITING_PAYMENT = "awaiting_payment"
    OPEN = "open"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    @property
    def postable(self) -> bool:
        """Whether an order in this state belongs in the back office (and holds stock)."""
        return self in (
            WebOrderStatus.AWAITING_PAYMENT,
            WebOrderStatus.OPEN,
            WebOrderStatus.FULFILLED,
        )


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of a web order. ``unit_price`` excludes tax (the order's tax is carried
    whole on ``WebOrder.tax``); ``line_id`` is the web store's id of the line, which its
    refunds name."""

    sku: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    line_id: str = ""


@dataclass(frozen=True, slots=True)
class RefundLine:
    """Part of a refund: ``quantity`` of the order line ``line_id`` returned (0: money
    only). ``amount`` excludes tax; None when the refund is bound to the quantity only
    (BigCommerce's ``requested_amount: null``): the money then follows from the order
    line's price and the refund's totals."""

    line_id: str
    quantity: int
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class WebRefund:
    """A refund the web store made on an order: what it paid back (``total``, tax
    included), of which ``tax`` is tax, ``shipping`` is shipping and handling (excluding
    tax), ``order_amount`` a tax-exempt amount at the order level (tied to no line), and
    the lines it returned. ``tax_items``: the amounts it named as tax refunds (part of
    ``tax``); ``unbookable``: kinds of items the books cannot name."""

    refund_id: str
    total: Decimal
    tax: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    lines: tuple[RefundLine, ...] = ()
    created_at: datetime | None = None
    order_amount: Decimal = Decimal("0")
    tax_items: Decimal = Decimal("0")
    unbookable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WebOrder:
    """A web order as the web store reports it. ``web_id`` is the partner's id.

    Money as the books need it: line prices and ``shipping`` exclude tax, ``discount`` is
    the order's discount (excluding tax), ``tax`` is the order's whole tax and ``total``
    what the buyer paid: lines + shipping - discount + tax. ``refunds`` are the refunds
    the web store made on it so far.
    """

    web_id: str
    number: str
    status: WebOrderStatus
    modified_at: datetime
    lines: tuple[OrderLine, ...]
    placed_at: datetime | None = None
    currency: str = "USD"
    total: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    customer_email: str | None = None
    tax: Decimal = Decimal("0")
    billing_name: str | None = None
    payment_method: str | None = None
    refunds: tuple[WebRefund, ...] = ()


@dataclass(frozen=True, slots=True)
class PostRequest:
    """One order to post, with the deterministic key that makes posting idempotent, and
    the store's choices for its books (customer, payment method, deposit account)."""

    order: WebOrder
    idempotency_key: str
    books: BooksOptions = field(default_factory=lambda: BooksOptions())


class CustomerMode(StrEnum):
    """Which back-office customer a web order is booked to."""

    SINGLE = "single"  # one customer for every web order (the connection's, "Web Store")
    PER_BUYER = "per_buyer"  # one per buyer, matched by e-mail, created once


class CancelAs(StrEnum):
    """How an order cancelled on the web after it was posted is reversed."""

    VOID = "void"  # the document is voided (it stays, at zero)
    REFUND_RECEIPT = "refund_receipt"  # a refund document for what was not refunded yet


@dataclass(frozen=True, slots=True)
class BooksOptions:
    """A store's choices for what its orders bring to the books.

    ``payment_methods``: web payment method name -> back-office payment method id;
    ``deposit_account``: the back-office account receipts are deposited to (and refunds
    paid from); None: the back office's default.
    """

    customer_mode: CustomerMode = CustomerMode.SINGLE
    cancel_as: CancelAs = CancelAs.VOID
    payment_methods: tuple[tuple[str, str], ...] = ()
    deposit_account: str | None = None

    def payment_method_for(self, web_method: str | None) -> str | None:
        if not web_method:
            return None
        wanted = " ".join(web_method.split()).casefold()
        return next(
            (
                ref
                for name, ref in self.payment_methods
                if " ".join(name.split()).casefold() == wanted
            ),
            None,
        )


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why one item (a SKU, an order) failed, in the partner's own words."""

    key: str
    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class PostOutcome:
    """The answer for one order: ``document_ref`` when posted, ``error`` when refused."""

    web_id: str
    document_ref: str | None = None
    error: ItemError | None = None

    @property
    def posted(self) -> bool:
        return self.document_ref is not None


@dataclass(frozen=True, slots=True)
class BackOfficeItem:
    """An item as the back office knows it. ``quantity`` is None for non-stock items."""

    sku: str
    name: str | None = None
    price: Decimal | None = None
    quantity: int | None = None
    active: bool = True
    modified_at: datetime | None = None
    partner_id: str | None = None
    location: str = DEFAULT_LOCATION


@dataclass(frozen=True, slots=True)
class WebVariant:
    """A sellable variant on the web store. ``quantity`` is None when stock is not tracked."""

    sku: str
    partner_ref: str
    name: str | None = None
    price: Decimal | None = None
    quantity: int | None = None
    modified_at: datetime | None = None
    location: str = DEFAULT_LOCATION
    #: Whether shoppers see it (None: the store does not say).
    visible: bool | None = None


@dataclass(frozen=True, slots=True)
class StockUpdate:
    """Set the web store's stock of ``sku`` at ``location`` to ``quantity`` (absolute)."""

    sku: str
    quantity: int
    location: str = DEFAULT_LOCATION
    partner_ref: str | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The answer to one batch write: every item not listed in ``errors`` was accepted."""

    errors: tuple[ItemError, ...] = ()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a stream. ``cursor`` is where to resume once this page is committed."""

    items: tuple[T, ...]
    cursor: datetime | None = None
    total: int | None = field(default=None, compare=False)


class WebEventKind(StrEnum):
    ORDER = "order"  # an order was created or changed: pull it
    PRODUCT = "product"  # a product was created, changed or deleted: refresh it
    INVENTORY = "inventory"  # a product's or variant's stock changed on the web


@dataclass(frozen=True, slots=True)
class WebEvent:
    """A web store's notification, reduced to what the hub acts on. It is a hint: the hub
    re-reads the resource before acting. ``dedup_key`` is the same for re-deliveries.
    """

    kind: WebEventKind
    resource_id: str
    dedup_key: str
    occurred_at: datetime
    scope: str
    #: An inventory event's web product and the change it reports (None: not given), which
    #: tell the hub's own writes (echoes) from news (``domain/echoes.py``).
    product_id: str | None = None
    change: int | None = None
