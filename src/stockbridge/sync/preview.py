"""The dry run of Sync All: what the next real run would do, decided by the real steps.

The four steps run as they do in a run (``runner.run_step``, the same order and the same
orders-unread rule) with two differences:

- storage is a throw-away copy of the hub (``db/scratch.py``: a copy of the SQLite file,
  or one PostgreSQL transaction that is rolled back), so cursors, orders, stock and
  history move there, and nowhere else;
- the partners are wrapped (``dry_run_partners``): every read goes through (within the
  partner's quotas, by the same connectors and limiters), every write is answered
  without reaching the partner: a post is checked instead (``OrderChecker``: the
  refusals the back office would give) and left unanswered, so the order stays
  ``uncertain`` in the copy and its stock stays withheld, as the back office's own
  quantity would take it once posted; a status write-back, the web store's upkeep and a
  feed's "remember this file" are skipped; inventory-out lists what it would push
  (``planned_pushes``: the step's own decision) instead of pushing.

The stock changes stream to a spooled temporary file (memory flat for a catalog of any
size); orders are few and kept in memory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from stockbridge.connectors.base import (
    BackOffice,
    CatalogWebStore,
    OrderChecker,
    Snapshot,
    SnapshotBackOffice,
    WebStore,
)
from stockbridge.connectors.errors import PartnerAuthError
from stockbridge.domain.inventory import push_reason
from stockbridge.domain.model import (
    SYNC_ALL,
    BackOfficeItem,
    BatchResult,
    ItemError,
    Page,
    PostOutcome,
    PostRequest,
    Step,
    StockUpdate,
    WebOrder,
    WebVariant,
)
from stockbridge.domain.preview import (
    PlannedOrder,
    PlannedPrice,
    PlannedProduct,
    PlannedStockChange,
)
from stockbridge.domain.snapshot import FeedRowLike
from stockbridge.domain.store import StoreSettings
from stockbridge.domain.web_catalog import CatalogUpdate, NewProduct
from stockbridge.ports import UnitOfWork
from stockbridge.retry import RetryPolicy
from stockbridge.sync.context import Partners, StepContext, StepOutcome, SupplierPartner
from stockbridge.sync.inventory_out import catalog_part, planned_pushes
from stockbridge.sync.runner import STEPS, run_step

__all__ = ["NullTracker", "StockChanges", "SyncPlan", "dry_run_partners", "preview_sync"]

#: Item errors kept on a plan (the first ones; the count is kept whole).
MAX_PLAN_ERRORS = 200
#: Spooled stock changes stay in memory up to this size, then go to disk.
SPOOL_BYTES = 1 << 20


class StockChanges:
    """The stock changes of a plan, in the order inventory-out would push them, kept in
    a spooled temporary file (one JSON line each): iterate them as often as needed."""

    def __init__(self) -> None:
        self._file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by close)
            max_size=SPOOL_BYTES, mode="w+", encoding="utf-8"
        )
        self.count = 0

    def add(self, change: PlannedStockChange) -> None:
        row = [
            change.sku,
            change.location,
            change.web_now,
            change.last_sent,
            change.new,
            change.why,
            change.withheld,
        ]
        self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
        self.count += 1

    def __iter__(self) -> Iterator[PlannedStockChange]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            sku, location, web_now, last_sent, new, why, withheld = json.loads(line)
            yield PlannedStockChange(sku, location, web_now, last_sent, new, why, withheld)
        self._file.seek(0, 2)

    def close(self) -> None:
        self._file.close()


@dataclass
class SyncPlan:
    """What the next Sync All would do. ``steps``: each step's outcome in the dry run
    (status, message). ``errors``: item errors the steps met (the first
    ``MAX_PLAN_ERRORS``; ``error_count`` all of them)."""

    store: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: list[PlannedOrder] = field(default_factory=list)
    stock: StockChanges = field(default_factory=StockChanges)
    #: Products inventory-out's catalog part would create on the web store, and the
    #: prices it would send (``sync/catalog_out.py``, recorded by ``DryRunCatalogWeb``).
    products_to_create: list[PlannedProduct] = field(default_factory=list)
    price_changes: list[PlannedPrice] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    error_count: int = 0
    #: Calls inventory-out would make to push the stock changes (one per full batch).
    push_calls: int = 0

    @property
    def orders_to_post(self) -> list[PlannedOrder]:
        return [o for o in self.orders if not o.refused]

    @property
    def orders_refused(self) -> list[PlannedOrder]:
        return [o for o in self.orders if o.refused]

    def close(self) -> None:
        self.stock.close()


class NullTracker:
    """A tracker that records nothing (work over a throw-away copy)."""

    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def item_failed(self, errors: list[ItemError]) -> None:
        pass

    def checkpoint(self) -> None:
        pass


class _PlanTracker:
    """A step's tracker in the dry run: keeps item errors on the plan, records nothing."""

    def __init__(self, plan: SyncPlan) -> None:
        self.plan = plan

    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def item_failed(self, errors: list[ItemError]) -> None:
        room = MAX_PLAN_ERRORS - len(self.plan.errors)
        self.plan.errors.extend(errors[: max(0, room)])
        self.plan.error_count += len(errors)

    def checkpoint(self) -> None:
        pass


class DryRunWeb:
    """A web store that is read but never written (see the module's docstring)."""

    def __init__(self, inner: WebStore) -> None:
        self.inner = inner
        self.max_inventory_batch = inner.max_inventory_batch

    def check(self) -> str:
        return self.inner.check()

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        return self.inner.iter_orders(since)

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        return self.inner.iter_catalog(since)

    def maintain(self) -> list[str]:
        return []  # upkeep writes (re-activates webhooks): not in a dry run

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        return BatchResult()  # a status write-back is a write: not in a dry run

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        # The dry run lists inventory-out's pushes (``_inventory_out``); never sent.
        return BatchResult()

    def close(self) -> None:
        self.inner.close()


class DryRunCatalogWeb(DryRunWeb):
    """A web store taking catalog writes, in a dry run: look-ups go through; a creation
    and a price are recorded on the plan, never sent (a created product gets a reference
    that exists only in the throw-away copy)."""

    def __init__(self, inner: CatalogWebStore, plan: SyncPlan) -> None:
        super().__init__(inner)
        self.catalog_inner = inner
        self.catalog_batch = inner.catalog_batch
        self.plan = plan

    def find_skus(self, skus: Sequence[str]) -> Mapping[str, str]:
        return self.catalog_inner.find_skus(skus)

    def create_product(self, product: NewProduct) -> str | ItemError:
        self.plan.products_to_create.append(
            PlannedProduct(product.sku, product.name, product.price)
        )
        return f"dry-run:{product.sku}"

    def update_catalog(self, updates: Sequence[CatalogUpdate]) -> BatchResult:
        self.plan.price_changes.extend(
            PlannedPrice(u.sku, None, u.price) for u in updates if u.price is not None
        )
        return BatchResult()


class DryRunBackOffice:
    """A back office that is read but never written: ``post_orders`` records what it
    would post (or refuse, asking ``OrderChecker``) and answers nothing for the rest."""

    def __init__(self, inner: BackOffice, record: Callable[[PlannedOrder], None]) -> None:
        self.inner = inner
        self.record = record
        self.max_orders_per_call = inner.max_orders_per_call

    def check(self) -> str:
        return self.inner.check()

    def close(self) -> None:
        self.inner.close()

    def iter_items(self, since: datetime | None) -> Iterator[Page[BackOfficeItem]]:
        return self.inner.iter_items(since)

    def find_posted(self, requests: Sequence[PostRequest]) -> Mapping[str, str]:
        return self.inner.find_posted(requests)  # a read

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        refusals: Mapping[str, ItemError] = {}
        if isinstance(self.inner, OrderChecker):
            refusals = self.inner.check_orders(requests)
        outcomes = []
        for request in requests:
            order = request.order
            lines = tuple((line.sku, line.quantity) for line in order.lines)
            refusal = refusals.get(order.web_id)
            if refusal is None:
                # Unanswered: the order stays uncertain in the copy, so its stock stays
                # withheld there as the back office's quantity would take it once posted.
                self.record(PlannedOrder(order.web_id, order.number, lines))
                continue
            self.record(
                PlannedOrder(order.web_id, order.number, lines, refusal.message, refusal.code)
            )
            outcomes.append(PostOutcome(order.web_id, error=refusal))
        return outcomes


class _DryRunSnapshot:
    """A snapshot read as it is; the source is not told it was taken or rejected."""

    def __init__(self, inner: Snapshot) -> None:
        self.inner = inner
        self.name = inner.name
        self.rejection = inner.rejection
        self.errors = inner.errors
        self.bad_rows = inner.bad_rows
        self.zero_missing = inner.zero_missing
        self.produced_at = inner.produced_at

    def rows(self) -> Iterator[FeedRowLike]:
        return self.inner.rows()

    def stage_changes(self, items: Iterable[BackOfficeItem]) -> int:
        return self.inner.stage_changes(items)  # the hub's own staging file, not the source

    def changed_pages(self, size: int) -> Iterator[Page[BackOfficeItem]]:
        return self.inner.changed_pages(size)

    def accepted(self) -> None:
        pass  # remembering the file (ETag, processed/) is a write: not in a dry run

    def rejected(self) -> None:
        pass


class DryRunSnapshotBackOffice(DryRunBackOffice):
    """A snapshot source (a feed) read without being told what the hub took."""

    def __init__(self, inner: SnapshotBackOffice, record: Callable[[PlannedOrder], None]):
        super().__init__(inner, record)
        self.snapshot_source = inner
        self.accepts_orders = inner.accepts_orders

    def snapshots(self) -> Iterator[Snapshot]:
        for snapshot in self.snapshot_source.snapshots():
            yield _DryRunSnapshot(snapshot)


def _dry_back_office(inner: BackOffice, record: Callable[[PlannedOrder], None]) -> DryRunBackOffice:
    if isinstance(inner, SnapshotBackOffice):
        return DryRunSnapshotBackOffice(inner, record)
    return DryRunBackOffice(inner, record)


def _dry_web(inner: WebStore | None, plan: SyncPlan | None) -> DryRunWeb | None:
    if inner is None:
        return None
    if plan is not None and isinstance(inner, CatalogWebStore):
        return DryRunCatalogWeb(inner, plan)
    return DryRunWeb(inner)


def dry_run_partners(
    partners: Partners, record: Callable[[PlannedOrder], None], plan: SyncPlan | None = None
) -> Partners:
    """``partners`` wrapped for a dry run: read, never written (with ``plan``, the web
    store's catalog writes are recorded on it)."""
    return Partners(
        web=_dry_web(partners.web, plan),
        web_connection_id=partners.web_connection_id,
        back_office=(
            None if partners.back_office is None else _dry_back_office(partners.back_office, record)
        ),
        back_office_connection_id=partners.back_office_connection_id,
        suppliers=tuple(
            SupplierPartner(s.supplier, _dry_back_office(s.back_office, record))
            for s in partners.suppliers
        ),
    )


def _inventory_out(plan: SyncPlan) -> Callable[[StepContext], StepOutcome]:
    """inventory-out's decision, listed instead of pushed."""

    def step(ctx: StepContext) -> StepOutcome:
        web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
        if web is None or connection_id is None:
            return StepOutcome("skipped", message="no web store connected")
        catalog_part(ctx, connection_id)  # the catalog's writes, recorded on the plan
        for planned in planned_pushes(ctx, connection_id):
            row = planned.row
            plan.stock.add(
                PlannedStockChange(
                    row.sku,
                    row.location,
                    row.web_qty,
                    row.last_sent,
                    planned.update.quantity,
                    push_reason(row, planned.withheld),
                    planned.withheld,
                )
            )
        batch = max(1, web.max_inventory_batch)
        plan.push_calls = -(-plan.stock.count // batch)
        return StepOutcome("succeeded", done=plan.stock.count)

    return step


def preview_sync(
    store: StoreSettings,
    partners: Partners,
    uow: Callable[[], UnitOfWork],
    retry: RetryPolicy,
) -> SyncPlan:
    """Run Sync All's decisions over ``uow`` (a throw-away copy of the hub: everything the
    steps write goes there) with ``partners`` read but never written; returns the plan.
    """
    plan = SyncPlan(store=store.name)
    dry = dry_run_partners(partners, plan.orders.append, plan)
    steps = {**STEPS, Step.INVENTORY_OUT: _inventory_out(plan)}
    progress: dict[str, dict[str, Any]] = {}
    for step in SYNC_ALL:
        ctx = StepContext(
            store=store, partners=dry, uow=uow, retry=retry, tracker=_PlanTracker(plan)
        )
        try:
            outcome = run_step(step, ctx, progress, steps)
        except PartnerAuthError as exc:
            outcome = StepOutcome("failed", message=f"{step.value}: {exc} (reconnect the partner)")
        progress[step.value] = {
            "status": outcome.status,
            "done": outcome.done,
            "failed": outcome.failed,
            "message": outcome.message,
        }
    plan.steps = progress
    return plan
