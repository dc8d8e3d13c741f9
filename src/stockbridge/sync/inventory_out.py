"""Step 4, inventory-out: what differs from what the web last received, in full batches.

available to web = back-office quantity - quantity on web orders the back office has not
accounted for yet (each SKU's stock comes from its owner, the primary back office or a
supplier, and is withheld against that owner's reads); hub-managed items show the hub's
quantity; where the web store is the master only hub-managed items are pushed. An item
the back office made inactive shows 0 when the store's ``inactive`` setting is ``zero``.
A web store that takes catalog writes (``CatalogWebStore``) first gets the catalog:
new products, prices, names, visibility (``sync/catalog_out.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from stockbridge.connectors.base import CatalogWebStore
from stockbridge.connectors.errors import PartnerError
from stockbridge.domain.inventory import PlannedPush, StockRow, plan_push_rows
from stockbridge.domain.model import ItemError
from stockbridge.sync.catalog_out import CatalogOutcome, catalog_out
from stockbridge.sync.context import StepContext, StepOutcome, Tracker
from stockbridge.sync.sources import withheld_for_web
from stockbridge.sync.stock_push import push_planned
from stockbridge.sync.web_changes import put_back

__all__ = ["catalog_part", "inventory_out", "planned_pushes", "stock_rows"]

_REPORT_EVERY = 1000
#: The item error code of catalog writes that failed as a whole.
CATALOG_FAILED = "catalog_failed"
#: Variants read per keyset page of the stock-row stream.
STOCK_CHUNK = 2000


def inventory_out(ctx: StepContext) -> StepOutcome:
    if ctx.targets is not None:  # webhook news: just those products' SKUs
        return put_back(ctx, ctx.targets)
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if web is None or connection_id is None:
        return StepOutcome("skipped", message="no web store connected")
    # The catalog first: products created now get their stock in the push below.
    catalog = catalog_part(ctx, connection_id)
    pushed, failed = push_planned(ctx, web, connection_id, planned_pushes(ctx, connection_id))
    failed += catalog.failed
    written = pushed + len(catalog.created) + catalog.updated
    return StepOutcome(
        "partial" if failed else "succeeded",
        done=written,
        failed=failed,
        message=catalog.message(),
        written=written,
    )


def catalog_part(ctx: StepContext, connection_id: int) -> CatalogOutcome:
    """inventory-out's catalog part (``sync/catalog_out.py``), for a web store that takes
    catalog writes; a failure as a whole is reported and the stock push still goes on.
    The dry run calls it too, with a web store that records instead of writing."""
    web = ctx.partners.web
    if not isinstance(web, CatalogWebStore):
        return CatalogOutcome()
    try:
        return catalog_out(ctx, web, connection_id)
    except PartnerError as exc:
        # The store refused or stopped answering the catalog writes: reported, and the
        # stock still goes out (it fails on its own if the store is down).
        ctx.tracker.item_failed([ItemError("catalog", str(exc), CATALOG_FAILED)])
        ctx.tracker.checkpoint()
        return CatalogOutcome(failed=1)


def planned_pushes(ctx: StepContext, connection_id: int) -> Iterator[PlannedPush]:
    """What inventory-out sends, row by row, with why: the store's stock rows streamed in
    keyset pages against what the web last received and what web orders withhold. The
    step pushes it; the dry run (``sync/preview.py``) lists it. Lazy, memory flat."""
    with ctx.uow() as uow:
        withheld = withheld_for_web(
            uow, ctx.store.id, ctx.partners.back_office_connection_id, ctx.partners.sources
        )
        ctx.tracker.set_total(uow.catalog.count_stock_rows(ctx.store.id))
    rows = stock_rows(ctx, connection_id)
    zero_inactive = ctx.store.catalog.zero_inactive()
    yield from plan_push_rows(_counted(rows, ctx.tracker), withheld, zero_inactive=zero_inactive)


def stock_rows(ctx: StepContext, connection_id: int) -> Iterator[StockRow]:
    """Every stock row of the store, read in keyset pages, each in its own short read:
    memory stays flat and no transaction is open while the web store is called."""
    after = 0
    while True:
        with ctx.uow() as uow:
            uow.read_only()
            chunk = uow.catalog.stock_rows(
                ctx.store.id,
                web_connection_id=connection_id,
                store_source=ctx.store.inventory_source,
                after=after,
                limit=STOCK_CHUNK,
            )
        if not chunk.rows:
            return
        yield from chunk.rows
        after = chunk.resume_after


def _counted(rows: Iterator[StockRow], tracker: Tracker) -> Iterator[StockRow]:
    seen = 0
    for row in rows:
        yield row
        seen += 1
        if seen % _REPORT_EVERY == 0:
            tracker.advance(_REPORT_EVERY)
    tracker.advance(seen % _REPORT_EVERY)
