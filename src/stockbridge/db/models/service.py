"""What the service records: sync runs, their item errors and store leases; the webhook
inbox, schedules, API tokens and idempotency records, rejected input, alert incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from stockbridge.db.models.base import Base, UtcDateTime

__all__ = [
    "AlertIncident",
    "ApiToken",
    "IdempotencyRecord",
    "InboxEvent",
    "RejectedInput",
    "RunError",
    "Schedule",
    "StockEcho",
    "StoreLease",
    "SyncRun",
]


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
    # the web products whose stock the run reads (webhook news); None: the whole store
    targets: Mapped[list[str] | None] = mapped_column(JSON)


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
    # what the pass made of it: "echo" (the hub's own write, confirmed), "run" (it started
    # a run), "coalesced" (into a run another event started); None for older events
    outcome: Mapped[str | None] = mapped_column(String(20))


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
    #: The token that minted this one through the API (None: the CLI or the dashboard).
    #: A child never outlives it: its expiry is capped at the parent's, and revoking the
    #: parent revokes it.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )


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


class DriftCheck(Base):
    """One measurement of a store's drift (``domain/drift.py``): by the drift report
    (``report``), by inventory-in's web read (``inventory-in``: the SKUs whose web stock
    moved away from what the hub last sent), or by a repair (``repair``, what it pushed)."""

    __tablename__ = "drift_checks"
    __table_args__ = (Index("ix_drift_checks_store_checked", "store_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(20))
    drifted: Mapped[int] = mapped_column(Integer)
    web_only: Mapped[int] = mapped_column(Integer, default=0)
    hub_only: Mapped[int] = mapped_column(Integer, default=0)


class StockEcho(Base):
    """What the hub last wrote to one web product's stock, awaiting the webhook that
    reports it (``domain/echoes.py``): the change it makes and when it was sent."""

    __tablename__ = "stock_echoes"
    __table_args__ = (UniqueConstraint("connection_id", "product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    product: Mapped[str] = mapped_column(String(64))
    change: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    awaiting: Mapped[bool] = mapped_column(Boolean, default=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
