"""SQLAlchemy models of the hub, one module per concept. Portable SQL only: SQLite
(embedded) and PostgreSQL."""

from __future__ import annotations

from stockbridge.db.models.accounts import DashboardSession, LoginThrottle, User, UserStore
from stockbridge.db.models.apps import AppCallUse, AppInstall, AppUser, AppUserRemoval
from stockbridge.db.models.base import Base, Money, UtcDateTime
from stockbridge.db.models.commerce import (
    Connection,
    Cursor,
    Order,
    OrderLineRow,
    OrderReversal,
    PartnerLink,
    SourceClaim,
    StockLevel,
    Store,
    Variant,
)
from stockbridge.db.models.oauth import OAuthGrant
from stockbridge.db.models.qbwc import QbwcExchange, QbwcSession, QbwcUser
from stockbridge.db.models.service import (
    AlertIncident,
    ApiToken,
    DriftCheck,
    IdempotencyRecord,
    InboxEvent,
    RejectedInput,
    RunError,
    Schedule,
    StockEcho,
    StoreLease,
    SyncRun,
)

__all__ = [
    "AlertIncident",
    "ApiToken",
    "AppCallUse",
    "AppInstall",
    "AppUser",
    "AppUserRemoval",
    "Base",
    "Connection",
    "Cursor",
    "DashboardSession",
    "DriftCheck",
    "IdempotencyRecord",
    "InboxEvent",
    "LoginThrottle",
    "Money",
    "OAuthGrant",
    "Order",
    "OrderLineRow",
    "OrderReversal",
    "PartnerLink",
    "QbwcExchange",
    "QbwcSession",
    "QbwcUser",
    "RejectedInput",
    "RunError",
    "Schedule",
    "SourceClaim",
    "StockEcho",
    "StockLevel",
    "Store",
    "StoreLease",
    "SyncRun",
    "User",
    "UserStore",
    "UtcDateTime",
    "Variant",
]
