"""Turning inbox events into targeted runs.

A web event is a hint: the hub re-reads the resource. Each store's pending events become
one run of just the steps they need (merged into a queued run of the same steps, so a
burst of deliveries costs one run), requested in the same transaction that marks the
events processed: an event is never lost between the two.

- order created/changed: orders-in (reads only orders changed since the cursor), then
  orders-out when a back office is connected;
- product created/changed: inventory-in (the catalog since the cursor);
- stock changed on the web: inventory-in, and, where the hub sets the web stock of any
  product (``domain.ownership.hub_pushes_any``: every mode but erp_via_web), inventory-out
  (a web quantity that differs from what the hub sent is set back).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import SYNC_ALL, InventorySource, Step, Trigger, WebEventKind
from stockbridge.domain.ownership import hub_pushes_any

__all__ = ["INBOX_BATCH", "InboxPass", "process_inbox", "steps_for"]

INBOX_BATCH = 5000  # events a pass: one parameter each in mark_processed's IN list


def steps_for(kind: str, source: InventorySource, has_back_office: bool) -> set[Step]:
    if kind == WebEventKind.ORDER:
        return {Step.ORDERS_IN, Step.ORDERS_OUT} if has_back_office else {Step.ORDERS_IN}
    if kind == WebEventKind.PRODUCT:
        return {Step.INVENTORY_IN}
    if kind == WebEventKind.INVENTORY:
        return (
            {Step.INVENTORY_IN, Step.INVENTORY_OUT}
            if hub_pushes_any(source)
            else {Step.INVENTORY_IN}
        )
    return set()


@dataclass(frozen=True)
class InboxPass:
    events: int  # how many pending events this pass took (at most the batch)
    run_ids: list[int]  # the runs it requested (new or merged into)


def process_inbox(uow: UnitOfWork, batch: int = INBOX_BATCH) -> InboxPass:
    """Request the runs the oldest pending events call for and mark those events
    processed, in the caller's unit of work (commit it).

    On SQLite this holds the write lock webhook receivers wait for, so a pass costs
    little per event (no objects, no payloads) and takes many events at once: a busy
    inbox is drained in a few short transactions rather than many."""
    events = uow.inbox.pending_refs(batch)
    if not events:
        return InboxPass(0, [])
    by_store: dict[int, set[Step]] = defaultdict(set)
    sources: dict[int, tuple[InventorySource, bool] | None] = {}
    done: list[int] = []
    unknown: list[int] = []
    for event_id, store_id, kind in events:
        if store_id not in sources:
            store = uow.stores.get(store_id)
            sources[store_id] = (
                None
                if store is None
                else (
                    InventorySource(store.inventory_source),
                    uow.stores.connection(store.id, "back_office") is not None,
                )
            )
        found = sources[store_id]
        if found is None:
            unknown.append(event_id)
            continue
        by_store[store_id] |= steps_for(kind, *found)
        done.append(event_id)
    run_ids = []
    for store_id, steps in by_store.items():
        if steps:
            ordered = tuple(step for step in SYNC_ALL if step in steps)
            run, _merged = uow.runs.request(store_id, ordered, Trigger.WEBHOOK)
            run_ids.append(run.id)
    uow.inbox.mark_processed(done)
    uow.inbox.mark_processed(unknown, error="store no longer exists")
    return InboxPass(len(events), run_ids)
