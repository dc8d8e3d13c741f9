"""Step 1, orders-in: new and changed web orders since the cursor, into the hub."""

from __future__ import annotations

from stockbridge.domain.model import Trigger
from stockbridge.domain.orders import should_take_in
from stockbridge.sync.context import StepContext, StepOutcome

__all__ = ["ORDERS_STREAM", "orders_in"]

ORDERS_STREAM = "orders"


def orders_in(ctx: StepContext) -> StepOutcome:
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if web is None or connection_id is None:
        return StepOutcome("skipped", message="no web store connected")
    # Upkeep (webhooks registered and active) costs a call per run: a run that a webhook
    # started is proof enough they work, so only other runs (manual, scheduled) do it.
    notes = [] if ctx.trigger is Trigger.WEBHOOK else web.maintain()
    with ctx.uow() as uow:
        since = uow.stores.cursor(connection_id, ORDERS_STREAM)
    done = 0
    for page in web.iter_orders(since):
        if page.total is not None:
            ctx.tracker.set_total(page.total)
        with ctx.uow() as uow:
            uow.orders.apply_page(ctx.store.id, [o for o in page.items if should_take_in(o)])
            uow.stores.advance_cursor(connection_id, ORDERS_STREAM, page.cursor)
            uow.commit()
        done += len(page.items)
        ctx.tracker.advance(len(page.items))
        ctx.tracker.checkpoint()
    return StepOutcome("succeeded", done=done, message="; ".join(notes) or None)
