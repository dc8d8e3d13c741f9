"""Step 1, orders-in: new and changed web orders since the cursor, into the hub.

Progress that survives a crash: each page the web store yields is committed in one
transaction together with its cursor, and progress moves by that page once it is
committed. So a page must be small enough that losing one costs seconds: the web store
yields units of a few orders with their lines (BigCommerce: ``ORDERS_UNIT`` = 20 orders of
a 250-order list page, one line call each, about 4 s at the Standard quota), each with a
cursor that is safe to resume from, i.e. that covers only committed orders. Chosen over
committing orders one by one as they complete with a trailing cursor: the connector knows
where its list stands (the boundary rule for orders sharing an instant, its loop guard),
so it is the one to say where a resume may start; this step only commits what it is given.
A restart reads again at most the orders at the cursor's instant and the unit under way.
"""

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
    done = 0  # orders that changed the hub
    for page in web.iter_orders(since):
        if page.total is not None:
            ctx.tracker.set_total(page.total)
        with ctx.uow() as uow:
            done += uow.orders.apply_page(
                ctx.store.id, [o for o in page.items if should_take_in(o)]
            )
            uow.stores.advance_cursor(connection_id, ORDERS_STREAM, page.cursor)
            uow.commit()
        ctx.tracker.advance(len(page.items))  # read
        ctx.tracker.checkpoint()
    return StepOutcome("succeeded", done=done, message="; ".join(notes) or None)
