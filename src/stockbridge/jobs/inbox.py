"""Turning inbox events into targeted runs.

A web event is a hint: the hub re-reads the resource. Each store's pending events become
one run of just the steps they need (merged into a queued run of the same steps, so a
burst of deliveries costs one run), requested in the same transaction that marks the
events processed: an event is never lost between the two.

- order created/changed: orders-in (reads only orders changed since the cursor), then
  orders-out when a back office is connected;
- product created/changed: inventory-in (the catalog since the cursor);
- stock changed on the web: inventory-in, and, where the hub is the one that sets web
  stock, inventory-out (a web quantity that differs from what the hub sent is set back).
"""

from __future__ import annotations

from collections import defaultdict

from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import SYNC_ALL, InventorySource, Step, Trigger, WebEventKind

__all__ = ["process_inbox", "steps_for"]


def steps_for(kind: str, source: InventorySource, has_back_office: bool) -> set[Step]:
    if kind == WebEventKind.ORDER:
        return {Step.ORDERS_IN, Step.ORDERS_OUT} if has_back_office else {Step.ORDERS_IN}
    if kind == WebEventKind.PRODUCT:
        return {Step.INVENTORY_IN}
    if kind == WebEventKind.INVENTORY:
        return (
            {Step.INVENTORY_IN} if source.web_is_master else {Step.INVENTORY_IN, Step.INVENTORY_OUT}
        )
    return set()


def process_inbox(uow: UnitOfWork, batch: int = 500) -> list[int]:
    """Request the runs pending events call for and mark those events processed, in the
    caller's unit of work (commit it). Returns the run ids requested."""
    events = uow.inbox.pending(batch)
    if not events:
        return []
    by_store: dict[int, set[Step]] = defaultdict(set)
    sources: dict[int, tuple[InventorySource, bool]] = {}
    unknown: list[int] = []
    for event in events:
        if event.store_id not in sources:
            store = uow.stores.get(event.store_id)
            if store is None:
                unknown.append(event.id)
                continue
            sources[event.store_id] = (
                InventorySource(store.inventory_source),
                uow.stores.connection(store.id, "back_office") is not None,
            )
        source, has_back_office = sources[event.store_id]
        by_store[event.store_id] |= steps_for(event.kind, source, has_back_office)
    run_ids = []
    for store_id, steps in by_store.items():
        if steps:
            ordered = tuple(step for step in SYNC_ALL if step in steps)
            run, _merged = uow.runs.request(store_id, ordered, Trigger.WEBHOOK)
            run_ids.append(run.id)
    uow.inbox.mark_processed([e.id for e in events if e.id not in unknown])
    uow.inbox.mark_processed(unknown, error="store no longer exists")
    return run_ids
