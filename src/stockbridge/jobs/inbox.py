"""Turning inbox events into targeted runs.

A web event is a hint: the hub re-reads the resource. Each store's pending events become
one run of just the steps they need (merged into a queued run of the same steps, so a
burst of deliveries costs one run), requested in the same transaction that marks the
events processed: an event is never lost between the two.

- order created/changed: orders-in (reads only orders changed since the cursor), then
  orders-out when a back office is connected;
- product created/changed: inventory-in (the catalog since the cursor);
- stock changed on the web: first compared with what the hub last wrote to that product
  (``domain/echoes.py``): an echo of the hub's own write is recorded as confirmation
  (outcome ``echo``) and starts nothing. News becomes a *targeted* run (``targets``: the
  products named) whose inventory-in reads only those products' web stock and, where
  the hub sets the web stock of any product (``domain.ownership.hub_pushes_any``: every
  mode but erp_via_web), whose inventory-out writes back only those SKUs
  (``sync/web_changes.py``). Events of one store share one run while it is queued
  (outcome ``coalesced``); the service holds such a new run back for a short window
  (``STOCKBRIDGE_WEBHOOK_WINDOW_SECONDS``) so that a burst lands in it. Runs for orders
  start at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.echoes import StockEvent, sort_events
from stockbridge.domain.model import SYNC_ALL, InventorySource, Step, Trigger, WebEventKind
from stockbridge.domain.ownership import hub_pushes_any
from stockbridge.metrics import WEBHOOK_EVENTS

__all__ = ["INBOX_BATCH", "InboxPass", "count_pass", "process_inbox", "steps_for"]

INBOX_BATCH = 5000  # events a pass: one parameter each in mark_processed's IN list
ECHO, RUN, COALESCED = "echo", "run", "coalesced"


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
    new_run_ids: list[int] = field(default_factory=list)  # of those, new: submit them now
    #: new runs for stock news: submit them after the window, so a burst merges into them
    held_run_ids: list[int] = field(default_factory=list)
    echoes: dict[int, int] = field(default_factory=dict)  # store -> echoes confirmed
    coalesced: dict[int, int] = field(default_factory=dict)  # store -> events merged


@dataclass
class _Store:
    source: InventorySource
    has_back_office: bool
    web_connection_id: int | None
    steps: set[Step] = field(default_factory=set)
    whole: list[int] = field(default_factory=list)  # events for a whole-store run
    stock: list[int] = field(default_factory=list)  # inventory events (echo or news)


def process_inbox(uow: UnitOfWork, batch: int = INBOX_BATCH) -> InboxPass:
    """Request the runs the oldest pending events call for and mark those events
    processed, in the caller's unit of work (commit it).

    On SQLite this holds the write lock webhook receivers wait for, so a pass costs
    little per event (no objects; payloads only of inventory events) and takes many events
    at once: a busy inbox is drained in a few short transactions rather than many."""
    events = uow.inbox.pending_refs(batch)
    if not events:
        return InboxPass(0, [])
    stores: dict[int, _Store | None] = {}
    unknown: list[int] = []
    for event_id, store_id, kind in events:
        if store_id not in stores:
            stores[store_id] = _load(uow, store_id)
        found = stores[store_id]
        if found is None:
            unknown.append(event_id)
        elif kind == WebEventKind.INVENTORY and found.web_connection_id is not None:
            found.stock.append(event_id)
        else:
            found.steps |= steps_for(kind, found.source, found.has_back_office)
            found.whole.append(event_id)
    result = InboxPass(len(events), [])
    payloads = uow.inbox.payloads([e for s in stores.values() if s for e in s.stock])
    outcomes: dict[str, list[int]] = defaultdict(list)
    processed: list[int] = []
    for store_id, store in stores.items():
        if store is None:
            continue
        if store.steps:
            run, merged = uow.runs.request(store_id, _ordered(store.steps), Trigger.WEBHOOK)
            _note(result, run.id, merged)
        processed += store.whole
        if store.stock:
            _stock_events(uow, result, outcomes, store_id, store, payloads)
    uow.inbox.mark_processed(processed)
    for outcome, ids in outcomes.items():
        uow.inbox.mark_processed(ids, outcome=outcome)
    uow.inbox.mark_processed(unknown, error="store no longer exists")
    return result


def _load(uow: UnitOfWork, store_id: int) -> _Store | None:
    store = uow.stores.get(store_id)
    if store is None:
        return None
    web = uow.stores.connection(store.id, "web")
    return _Store(
        InventorySource(store.inventory_source),
        uow.stores.connection(store.id, "back_office") is not None,
        None if web is None else web.id,
    )


def _stock_events(
    uow: UnitOfWork,
    result: InboxPass,
    outcomes: dict[str, list[int]],
    store_id: int,
    store: _Store,
    payloads: dict[int, dict[str, Any]],
) -> None:
    """Echoes confirmed and dropped; news coalesced into one targeted run per store."""
    assert store.web_connection_id is not None
    events = [_stock_event(event_id, payloads.get(event_id, {})) for event_id in store.stock]
    products = {e.product for e in events if e.product is not None}
    sent = uow.echoes.writes(store.web_connection_id, products)
    echoes, news = sort_events(events, sent)
    if echoes:
        uow.echoes.confirm(
            store.web_connection_id, {str(e.product) for e in echoes}, datetime.now(UTC)
        )
        outcomes[ECHO] += [e.event_id for e in echoes]
        result.echoes[store_id] = len(echoes)
    if not news:
        return
    steps = _ordered(steps_for(WebEventKind.INVENTORY, store.source, store.has_back_office))
    named = sorted({e.product for e in news if e.product is not None})
    whole = any(e.product is None for e in news)  # an event naming no product: read all
    run, merged = uow.runs.request(store_id, steps, Trigger.WEBHOOK, None if whole else named)
    _note(result, run.id, merged, held=True)
    ids = [e.event_id for e in news]
    first = [] if merged else ids[:1]
    outcomes[RUN] += first
    outcomes[COALESCED] += ids[len(first) :]
    if len(ids) > len(first):
        result.coalesced[store_id] = len(ids) - len(first)


def _stock_event(event_id: int, payload: dict[str, Any]) -> StockEvent:
    product = payload.get("product")
    change = payload.get("change")
    try:
        occurred_at = datetime.fromisoformat(str(payload.get("occurred_at")))
    except ValueError:
        occurred_at = datetime.now(UTC)
    return StockEvent(
        event_id,
        str(product) if product is not None else None,
        change if isinstance(change, int) and not isinstance(change, bool) else None,
        occurred_at,
    )


def _ordered(steps: set[Step]) -> tuple[Step, ...]:
    return tuple(step for step in SYNC_ALL if step in steps)


def _note(result: InboxPass, run_id: int, merged: bool, *, held: bool = False) -> None:
    if run_id not in result.run_ids:
        result.run_ids.append(run_id)
    if merged or run_id in result.new_run_ids or run_id in result.held_run_ids:
        return
    (result.held_run_ids if held else result.new_run_ids).append(run_id)


def count_pass(done: InboxPass) -> None:
    """Count a committed pass's inventory events (``stockbridge_webhook_events``)."""
    WEBHOOK_EVENTS.labels(ECHO).inc(sum(done.echoes.values()))
    WEBHOOK_EVENTS.labels(COALESCED).inc(sum(done.coalesced.values()))
