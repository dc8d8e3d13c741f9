"""The dry run of Sync All (``stockbridge sync all --dry-run``, ``"dry_run": true`` in the
API, the dashboard's Preview): what the next Sync All would do, with nothing written.

The plan comes from the real steps over a throw-away copy of the hub (``db/scratch.py``)
and partners that are read but never written (``sync/preview.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.db.scratch import scratch_copy
from stockbridge.domain.preview import PlannedOrder, PlannedStockChange
from stockbridge.services.errors import StoreNotFound
from stockbridge.services.stores import resolve_store
from stockbridge.sync.preview import SyncPlan, preview_sync

__all__ = ["SyncPlan", "plan_json", "plan_json_chunks", "preview"]


def preview(hub: Hub, store_name: str | None) -> SyncPlan:
    """The plan of the next Sync All of the store (``find_store``'s rules for the name).
    Reads the partners; writes nothing to them nor to the hub. Close the plan when done
    (its stock changes may sit in a temporary file)."""
    store_id = resolve_store(hub, store_name)
    with hub.uow() as uow:
        store = uow.stores.settings(store_id)
    if store is None:  # deleted meanwhile
        raise StoreNotFound(f"no store named {store_name!r}")
    partners = hub.partners_for(store_id)
    try:
        with scratch_copy(hub.engine, hub.settings.home_dir) as uow_factory:
            return preview_sync(store, partners, uow_factory, hub.retry)
    finally:
        hub.release_partners(partners)


def _order(order: PlannedOrder) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "web_id": order.web_id,
        "number": order.number,
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in order.lines],
    }
    if order.refused:
        entry["reason"] = order.refusal
        entry["code"] = order.code
    return entry


def _stock(change: PlannedStockChange) -> dict[str, Any]:
    return {
        "sku": change.sku,
        "location": change.location,
        "web_now": change.web_now,
        "last_sent": change.last_sent,
        "new": change.new,
        "why": change.why,
        "withheld": change.withheld,
    }


def plan_json_chunks(plan: SyncPlan) -> Iterator[str]:
    """The plan as one JSON document, streamed: the stock changes are written one by one
    from the plan's spool, never held in memory at once."""
    head = {
        "store": plan.store,
        "dry_run": True,
        "steps": plan.steps,
        "orders_to_post": [_order(o) for o in plan.orders_to_post],
        "orders_refused": [_order(o) for o in plan.orders_refused],
        # Filled by the catalog planner (branch `catalog`); empty lists until then.
        "products_to_create": [
            {"sku": p.sku, "name": p.name, "price": None if p.price is None else str(p.price)}
            for p in plan.products_to_create
        ],
        "price_changes": [
            {
                "sku": p.sku,
                "web_now": None if p.web_now is None else str(p.web_now),
                "new": str(p.new),
            }
            for p in plan.price_changes
        ],
        "stock_change_count": plan.stock.count,
        "push_calls": plan.push_calls,
        "item_errors": [{"item": e.key, "message": e.message, "code": e.code} for e in plan.errors],
        "item_error_count": plan.error_count,
    }
    text = json.dumps(head, default=str)
    yield text[:-1] + ', "stock_changes": ['
    first = True
    for change in plan.stock:
        yield ("" if first else ",") + json.dumps(_stock(change))
        first = False
    yield "]}"


def plan_json(plan: SyncPlan) -> dict[str, Any]:
    """The whole plan as JSON values (tests, small plans)."""
    loaded: dict[str, Any] = json.loads("".join(plan_json_chunks(plan)))
    return loaded
