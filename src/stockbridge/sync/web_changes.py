"""A change made on the web behind the hub's back: read the web's current stock for the
products concerned, and let each product's mode decide (``domain/ownership.py``).

- Where the web store owns the stock (``web`` mode's other products, ``erp_via_web``) the
  hub adopts the web's figure (an assigned product's hub quantity too, in erp_via_web).
- Where the hub pushes it (``back_office``, ``api``, assigned products in ``web``) the web
  is mirrored: a figure that moved away from what the hub sent is written back at once and
  the event is kept in the drift history (``drift_checks``, source ``web-change``).

A webhook's news becomes a run with ``targets`` (the web products named): its inventory-in
is ``read_targets`` (the web only, just those products: never the whole back office), its
inventory-out ``put_back`` (just those SKUs). A manual sync reads the assigned products'
stock in full with ``read_assigned`` (its web read otherwise follows the cursor).
"""

from __future__ import annotations

from collections.abc import Sequence

from stockbridge.connectors.base import StockReadingWebStore
from stockbridge.domain.inventory import plan_push_rows
from stockbridge.domain.model import Step, WebVariant
from stockbridge.sync.context import StepContext, StepOutcome
from stockbridge.sync.sources import withheld_for_web
from stockbridge.sync.stock_push import push_planned

__all__ = ["DRIFT_SOURCE", "put_back", "read_assigned", "read_targets"]

#: The drift measurement a web-side change records.
DRIFT_SOURCE = "web-change"
#: Where ``read_targets`` leaves the SKUs it read, for ``put_back`` (kept on the run's
#: progress, so a resumed run finds them).
SKUS_KEY = "skus"


def read_targets(ctx: StepContext, targets: Sequence[str]) -> StepOutcome:
    """inventory-in of a targeted run: the current web stock of ``targets`` only."""
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if not isinstance(web, StockReadingWebStore) or connection_id is None:
        return StepOutcome("skipped", message="the web store cannot read chosen products")
    seen = web.read_products(targets)
    ctx.tracker.set_total(len(seen))
    changed = _apply(ctx, connection_id, seen)
    ctx.progress.setdefault(Step.INVENTORY_IN.value, {})[SKUS_KEY] = sorted({v.sku for v in seen})
    ctx.tracker.advance(len(seen))
    return StepOutcome("succeeded", done=changed, read=len(seen), written=0)


def read_assigned(ctx: StepContext) -> int:
    """A manual sync's full read of the assigned products' web stock (whatever the
    cursor says); returns how many variants changed the hub."""
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if not isinstance(web, StockReadingWebStore) or connection_id is None:
        return 0
    with ctx.uow() as uow:
        uow.read_only()
        refs = uow.catalog.assigned_refs(ctx.store.id, connection_id)
    products = sorted({p for p in (web.product_of(ref) for ref in refs) if p is not None})
    if not products:
        return 0
    seen = web.read_products(products)
    ctx.tracker.advance(len(seen))  # read
    return _apply(ctx, connection_id, seen)


def _apply(ctx: StepContext, connection_id: int, seen: Sequence[WebVariant]) -> int:
    """Record what the web shows now (adopted where the web owns it; a mirrored figure
    that moved is forgotten as sent, so it is written back) and keep the drift; returns
    how many variants changed the hub."""
    with ctx.uow() as uow:
        drifted = uow.catalog.web_drift(ctx.store.id, connection_id, seen)
        changed = uow.catalog.apply_web_variants(
            ctx.store.id, connection_id, seen, store_source=ctx.store.inventory_source
        )
        if drifted:
            uow.catalog.record_drift(ctx.store.id, DRIFT_SOURCE, drifted)
        uow.commit()
    return changed


def put_back(ctx: StepContext, targets: Sequence[str]) -> StepOutcome:
    """inventory-out of a targeted run: the SKUs its inventory-in read, written back
    where the hub pushes them and the web moved away (``plan_push_rows``)."""
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if web is None or connection_id is None:
        return StepOutcome("skipped", message="no web store connected")
    skus = ctx.progress.get(Step.INVENTORY_IN.value, {}).get(SKUS_KEY)
    if skus is None:  # inventory-in did not run in this run: read the products again
        if not isinstance(web, StockReadingWebStore):
            return StepOutcome("skipped", message="the web store cannot read chosen products")
        skus = sorted({v.sku for v in web.read_products(targets)})
    with ctx.uow() as uow:
        uow.read_only()
        rows = uow.catalog.stock_rows_of(
            ctx.store.id,
            web_connection_id=connection_id,
            store_source=ctx.store.inventory_source,
            skus=skus,
        )
        withheld = withheld_for_web(
            uow, ctx.store.id, ctx.partners.back_office_connection_id, ctx.partners.sources
        )
    ctx.tracker.set_total(len(rows))
    planned = plan_push_rows(rows, withheld, zero_inactive=ctx.store.catalog.zero_inactive())
    pushed, failed = push_planned(ctx, web, connection_id, planned)
    ctx.tracker.advance(len(rows))
    return StepOutcome(
        "partial" if failed else "succeeded",
        done=pushed,
        failed=failed,
        read=len(rows),
        written=pushed,
    )
