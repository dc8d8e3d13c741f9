"""SQLAlchemy models of the hub. Portable SQL only: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from stockbridge.domain.orders import PostState

__all__ = [
    "AlertIncident",
    "ApiToken",
    "Base",
    "Connection",
    "Cursor",
    "DashboardSession",
    "IdempotencyRecord",
    "InboxEvent",
    "LoginThrottle",
    "Order",
    "OrderLineRow",
    "PartnerLink",
    "RejectedInput",
    "RunError",
    "Schedule",
    "SourceClaim",
    "StockLevel",
    "Store",
    "StoreLease",
    "SyncRun",
    "User",
    "UserStore",
    "Variant",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTimeType(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the hub stores UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = UtcDateTimeType()
Money = Numeric(14, 4)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class SyncRun(Base):
    """A requested run of one or more steps for one store; the record of what must run."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_store_status", "store_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(20))
    steps: Mapped[str] = mapped_column(String(100))  # comma-separated, in run order
    status: Mapped[str] = mapped_column(String(20), default="queued")
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    merged_requests: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # an interrupted run: the run that took over its remaining steps (None: not yet)
    resumed_by: Mapped[int | None] = mapped_column(Integer)


class RunError(Base):
    """One item that failed in a run, with the partner's own message."""

    __tablename__ = "run_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    item_key: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StoreLease(Base):
    """Who is running sync work for a store right now; expires if its holder dies."""

    __tablename__ = "store_leases"

    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InboxEvent(Base):
    """An incoming event (webhook, API push), stored before it is acknowledged."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("store_id", "source", "dedup_key"),
        Index("ix_inbox_events_pending", "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Schedule(Base):
    """When a store's sync runs by itself: daily at HH:MM in the store's time zone and/or
    every N minutes, for Sync All (``step`` = "all") or one step.

    ``last_slot_at`` is the most recent slot already handled (run or merged): a slot missed
    while the server was down runs once at start, not once per missed slot.
    """

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("store_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(20), default="all")
    daily_at: Mapped[str | None] = mapped_column(String(5))  # "HH:MM", store time zone
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Only on business days (store time): Monday to Friday, less ``holidays``.
    business_days: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: ISO dates (store time) skipped on business-day schedules, comma-separated.
    holidays: Mapped[str | None] = mapped_column(Text)
    last_slot_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A bearer token for the REST API, stored as a SHA-256 hash. ``store_id`` None: an
    operator token for every store. A token with ``revoked_at`` set, or past its
    ``expires_at``, is refused (the row stays, for the list and the record)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IdempotencyRecord(Base):
    """The first answer to a request carrying an Idempotency-Key, replayed for repeats."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("store_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RejectedInput(Base):
    """Input the hub refused (a webhook, an API push, a feed row), with the reason."""

    __tablename__ = "rejected_inputs"
    __table_args__ = (Index("ix_rejected_inputs_store_received", "store_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)  # truncated, secrets never stored
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertIncident(Base):
    """Something the merchant was (or is to be) told about, once per incident."""

    __tablename__ = "alert_incidents"
    __table_args__ = (Index("ix_alert_incidents_store_kind", "store_id", "kind", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(
        String(40)
    )  # run_failed | stale | item_failing | orders_pending
    detail: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: Channels that took the alert already, comma-separated: a retry (or a restart)
    #: sends only to the others.
    delivered_channels: Mapped[str] = mapped_column(String(100), default="", server_default="")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class User(Base):
    """Someone who may use the dashboard. Only an Argon2id hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: An operator sees every store; anyone else only the stores granted in ``user_stores``.
    operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class UserStore(Base):
    """A store a (non-operator) dashboard user may see and change."""

    __tablename__ = "user_stores"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DashboardSession(Base):
    """A logged-in browser. The cookie carries a random id; only its SHA-256 is stored.
    ``csrf_token`` is sent back with every form and htmx request of this session."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    """Failed logins per (user name, client address): after too many, logins from that
    address for that name wait, whatever the password."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
