"""SQLAlchemy models of the hub, one module per concept. Portable SQL only: SQLite
(embedded) and PostgreSQL."""

from __future__ import annotations

from stockbridge.db.models.accounts import DashboardSession, LoginThrottle, User, UserStore
from stockbridge.db.models.base import Base, Money, UtcDateTime
from stockbridge.db.models.commerce import (
    Connection,
    Cursor,
    Order,
    OrderLineRow,
    PartnerLink,
    SourceClaim,
    StockLevel,
    Store,
    Variant,
)
from stockbridge.db.models.qbwc import QbwcUser
from stockbridge.db.models.service import (
    AlertIncident,
    ApiToken,
    IdempotencyRecord,
    InboxEvent,
    RejectedInput,
    RunError,
    Schedule,
    StoreLease,
    SyncRun,
)

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
    "Money",
    "Order",
    "OrderLineRow",
    "PartnerLink",
    "QbwcUser",
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
    "UtcDateTime",
    "Variant",
]
