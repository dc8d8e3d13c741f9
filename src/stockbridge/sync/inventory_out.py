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
from stockbridge.domain.batching import batched
from stockbridge.domain.inventory import StockRow, plan_push
from stockbridge.domain.model import ItemError
from stockbridge.sync.catalog_out import CatalogOutcome, catalog_out
from stockbridge.sync.context import StepContext, StepOutcome, Tracker
from stockbridge.sync.sources import withheld_for_web

__all__ = ["inventory_out"]

_REPORT_EVERY = 1000
#: The item error code of catalog writes that failed as a whole.
CATALOG_FAILED = "catalog_failed"
#: Variants read per keyset page of the stock-row stream.
STOCK_CHUNK = 2000


def inventory_out(ctx: StepContext) -> StepOutcome:
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if web is None or connection_id is None:
        return StepOutcome("skipped", message="no web store connected")
    # The catalog first: products created now get their stock in the push below.
    catalog = CatalogOutcome()
    if isinstance(web, CatalogWebStore):
        try:
            catalog = catalog_out(ctx, web, connection_id)
        except PartnerError as exc:
            # The store refused or stopped answering the catalog writes: reported, and the
            # stock still goes out (it fails on its own if the store is down).
            catalog = CatalogOutcome(failed=1)
            ctx.tracker.item_failed([ItemError("catalog", str(exc), CATALOG_FAILED)])
            ctx.tracker.checkpoint()
    with ctx.uow() as uow:
        withheld = withheld_for_web(
            uow, ctx.store.id, ctx.partners.back_office_connection_id, ctx.partners.sources
        )
        ctx.tracker.set_total(uow.catalog.count_stock_rows(ctx.store.id))
    rows = _stock_rows(ctx, connection_id)
    pushed = failed = 0
    zero_inactive = ctx.store.catalog.zero_inactive()
    planned = plan_push(_counted(rows, ctx.tracker), withheld, zero_inactive=zero_inactive)
    for batch in batched(planned, web.max_inventory_batch):
        updates = [update for _, update in batch]
        result = web.push_inventory(updates)  # retried by the connector's transport
        refused = {error.key for error in result.errors}
        sent = [(sid, u.quantity) for sid, u in batch if u.sku not in refused]
        with ctx.uow() as uow:
            uow.catalog.record_sent(connection_id, sent)
            uow.commit()
        pushed += len(sent)
        failed += len(batch) - len(sent)
        if result.errors:
            ctx.tracker.item_failed(list(result.errors))
        ctx.tracker.checkpoint()
    failed += catalog.failed
    return StepOutcome(
        "partial" if failed else "succeeded",
        done=pushed + len(catalog.created) + catalog.updated,
        failed=failed,
        message=catalog.message(),
    )


def _stock_rows(ctx: StepContext, connection_id: int) -> Iterator[StockRow]:
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
