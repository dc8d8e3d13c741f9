"""The in-memory storage's tables (see ``tests/memory_uow.py``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from stockbridge.domain.books import Reversal
from stockbridge.domain.model import InventorySource, ItemError, RunStatus, Step, Trigger, WebOrder
from stockbridge.domain.orders import OrderState, PostState
from stockbridge.domain.store import StoreSettings


@dataclass
class MemConnection:
    store_id: int
    role: str
    kind: str
    health: str = "connected"
    last_error: str | None = None


@dataclass
class MemVariant:
    id: int
    store_id: int
    sku: str
    name: str | None = None
    price: Decimal | None = None
    active: bool = True
    hub_managed: bool = False
    inventory_source: InventorySource | None = None  # a product's own override
    back_office_modified_at: datetime | None = None
    web_modified_at: datetime | None = None


@dataclass
class MemLevel:
    id: int
    variant_id: int
    location: str
    back_office_qty: int | None = None
    web_qty: int | None = None
    hub_qty: int | None = None


@dataclass
class MemLink:
    """A partner_links row: a partner id, or what was last sent (entity "stock")."""

    partner_id: str | None = None
    sent_value: str | None = None


@dataclass
class MemOrder:
    id: int
    store_id: int
    order: WebOrder  # as last applied
    post_state: PostState
    post_attempts: int = 0
    posted_at: datetime | None = None
    acknowledged_at: datetime | None = None
    ack_attempts: int = 0
    last_error: str | None = None

    def state(self) -> OrderState:
        return OrderState(
            self.order.status,
            self.post_state,
            self.order.modified_at,
            self.posted_at,
            self.order.lines,
        )


@dataclass
class MemReversal:
    """An order_reversals row."""

    id: int
    order_id: int
    seq: int
    key: str
    state: str
    reversal: Reversal | None
    last_error: str | None = None
    document_ref: str | None = None
    attempts: int = 0
    reported: bool = False


@dataclass
class MemRun:
    id: int
    store_id: int
    trigger: Trigger
    steps: tuple[Step, ...]
    status: RunStatus = RunStatus.QUEUED
    progress: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    merged_requests: int = 0
    resumed_by: int | None = None
    targets: tuple[str, ...] | None = None


@dataclass
class MemLease:
    run_id: int | None = None
    holder: str | None = None
    expires_at: datetime | None = None


@dataclass
class MemoryState:
    """Every table, as dictionaries keyed like the database's unique keys."""

    last_id: int = 0
    stores: dict[int, StoreSettings] = field(default_factory=dict)
    connections: dict[int, MemConnection] = field(default_factory=dict)
    cursors: dict[tuple[int, str], datetime] = field(default_factory=dict)
    variants: dict[int, MemVariant] = field(default_factory=dict)
    variant_ids: dict[tuple[int, str], int] = field(default_factory=dict)  # (store, sku)
    levels: dict[int, MemLevel] = field(default_factory=dict)
    level_ids: dict[tuple[int, str], int] = field(default_factory=dict)  # (variant, location)
    links: dict[tuple[int, str, int], MemLink] = field(default_factory=dict)
    orders: dict[int, MemOrder] = field(default_factory=dict)
    order_ids: dict[tuple[int, str], int] = field(default_factory=dict)  # (store, web id)
    runs: dict[int, MemRun] = field(default_factory=dict)
    run_errors: dict[int, list[ItemError]] = field(default_factory=dict)
    leases: dict[int, MemLease] = field(default_factory=dict)
    claims: dict[int, int] = field(default_factory=dict)  # variant id -> supplier connection
    #: (store, source, drifted, web only, hub only), in the order measured
    drift_checks: list[tuple[int, str, int, int, int]] = field(default_factory=list)
    reversals: dict[int, MemReversal] = field(default_factory=dict)
    #: (web connection, product) -> (expected change, sent at): writes awaiting an echo
    echoes: dict[tuple[int, str], tuple[int | None, datetime]] = field(default_factory=dict)

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def clone(self) -> MemoryState:
        """A copy a unit of work may change freely (records copied, values shared)."""

        def records(table: dict[Any, Any]) -> dict[Any, Any]:
            return {key: copy.copy(record) for key, record in table.items()}

        return MemoryState(
            last_id=self.last_id,
            stores=dict(self.stores),
            connections=records(self.connections),
            cursors=dict(self.cursors),
            variants=records(self.variants),
            variant_ids=dict(self.variant_ids),
            levels=records(self.levels),
            level_ids=dict(self.level_ids),
            links=records(self.links),
            orders=records(self.orders),
            order_ids=dict(self.order_ids),
            runs={k: replace(r, progress=copy.deepcopy(r.progress)) for k, r in self.runs.items()},
            run_errors={k: list(v) for k, v in self.run_errors.items()},
            leases=records(self.leases),
            claims=dict(self.claims),
            drift_checks=list(self.drift_checks),
            reversals=records(self.reversals),
            echoes=dict(self.echoes),
        )
