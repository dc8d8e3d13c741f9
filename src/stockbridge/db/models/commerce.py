"""The store, its partner connections and what they report: variants, stock per location,
web orders and their lines, partner ids on hub rows, read cursors and supplier claims."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, Money, UtcDateTime
from stockbridge.domain.orders import PostState

__all__ = [
    "Connection",
    "Cursor",
    "Order",
    "OrderLineRow",
    "OrderReversal",
    "PartnerLink",
    "SourceClaim",
    "StockLevel",
    "Store",
    "Variant",
]


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    inventory_source: Mapped[str] = mapped_column(String(20), default="back_office")
    erp_name: Mapped[str | None] = mapped_column(String(200))
    #: Off for new stores (the merchant turns it on in Settings); stores added before
    #: this rule keep what they had.
    sync_all_button: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The store's books: one customer for every web order (``single``) or one per buyer
    #: (``per_buyer``); how a posted order cancelled on the web is reversed (``void`` or
    #: ``refund_receipt``); the account receipts are deposited to (refunds paid from);
    #: web payment method name -> back-office payment method id.
    customer_mode: Mapped[str] = mapped_column(
        String(20), default="single", server_default="single"
    )
    cancel_as: Mapped[str] = mapped_column(String(20), default="void", server_default="void")
    deposit_account: Mapped[str | None] = mapped_column(String(64))
    payment_methods: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Connection(Base):
    """A partner account a store is connected to, in one role: the web store, the primary
    back office (orders post there), or one of any number of suppliers (supplementary
    stock sources, told apart by ``name``; each owns the SKUs it lists, or those matching
    ``owns``)."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("store_id", "role", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))  # web | back_office | supplier
    #: A supplier's name ("" for the web store and the primary back office).
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: A supplier's SKU pattern (a glob such as ``ACME-*``); None: the SKUs it lists.
    owns: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(40))  # bigcommerce | qbo | feed | ...
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted at rest
    health: Mapped[str] = mapped_column(String(30), default="connected")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Variant(Base):
    """A sellable variant, keyed by SKU within a store."""

    __tablename__ = "variants"
    __table_args__ = (
        UniqueConstraint("store_id", "sku"),
        Index("ix_variants_store_id_id", "store_id", "id"),  # keyset paging by store
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(500))
    price: Mapped[Decimal | None] = mapped_column(Money)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    hub_managed: Mapped[bool] = mapped_column(Boolean, default=False)
    inventory_source: Mapped[str | None] = mapped_column(String(20))  # overrides the store's
    back_office_modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    web_modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SourceClaim(Base):
    """A variant a supplier owns: its stock (and name, price) come from that supplier
    only. Variants without a claim belong to the primary back office, unless a supplier's
    pattern matches them. Disconnecting the supplier drops its claims."""

    __tablename__ = "source_claims"

    variant_id: Mapped[int] = mapped_column(
        ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True
    )
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), index=True
    )


class StockLevel(Base):
    """One variant's stock at one location, as each side last reported it."""

    __tablename__ = "stock_levels"
    __table_args__ = (UniqueConstraint("variant_id", "location"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(
        ForeignKey("variants.id", ondelete="CASCADE"), index=True
    )
    location: Mapped[str] = mapped_column(String(100), default="default")
    back_office_qty: Mapped[int | None] = mapped_column(Integer)
    web_qty: Mapped[int | None] = mapped_column(Integer)
    hub_qty: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Order(Base):
    """A web order and where it stands on its way to the back office.

    post_state: ``not_postable`` (cancelled, ...), ``pending`` (to post), ``uncertain``
    (a post was attempted and its outcome is unknown: look it up before posting again),
    ``posted``.
    """

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "web_id"),
        Index("ix_orders_store_post_state", "store_id", "post_state"),
        Index("ix_orders_store_unacknowledged", "store_id", "acknowledged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    web_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(30))
    placed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    shipping: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"), server_default="0")
    billing_name: Mapped[str | None] = mapped_column(String(200))
    payment_method: Mapped[str | None] = mapped_column(String(100))
    post_state: Mapped[str] = mapped_column(String(20), default=PostState.PENDING.value)
    post_attempts: Mapped[int] = mapped_column(Integer, default=0)
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: When the web store took the status write-back for the posted order; tried again by
    #: later runs (``ack_attempts`` times at most) while it has not.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ack_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    #: The web store's id of the line (its refunds name it).
    line_id: Mapped[str] = mapped_column(String(64), default="", server_default="")


class OrderReversal(Base):
    """A reversal of a posted order (``domain.books``): a void or a refund document,
    ``key`` unique per order (``refund-<id>``, ``cancel``), ``seq`` its number on the
    order. state: ``pending`` (to send once the order is posted), ``uncertain`` (sent,
    outcome unknown: look it up first), ``done`` (``document_ref`` holds it), ``refused``
    (cannot be booked: ``last_error`` says why; ``reported`` once listed in a run)."""

    __tablename__ = "order_reversals"
    __table_args__ = (
        UniqueConstraint("order_id", "key"),
        Index("ix_order_reversals_state", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    document_ref: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reported: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PartnerLink(Base):
    """A hub record's id at one partner, and what was last sent to / seen from it.

    entity: ``variant`` (partner reference used to address writes), ``stock`` (the
    quantity last sent to the web), ``order`` (the back-office document).
    """

    __tablename__ = "partner_links"
    __table_args__ = (UniqueConstraint("connection_id", "entity", "hub_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    hub_id: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[str | None] = mapped_column(String(255))
    sent_value: Mapped[str | None] = mapped_column(String(255))
    seen_version: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Cursor(Base):
    """How far a stream of a connection has been read and committed. Only moves forward."""

    __tablename__ = "cursors"
    __table_args__ = (UniqueConstraint("connection_id", "stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(60))
    position: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
