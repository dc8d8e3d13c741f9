"""Sending planned stock changes to the web store: in its largest batches, each accepted
batch recorded as what the web last received. Before each batch goes, the change each web
product's stock will make is recorded and committed, so the webhook the store fires for
it (which may arrive before the store's answer) is known for the hub's own echo
(``domain/echoes.py``); a batch or item the store refused expects none."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from stockbridge.connectors.base import StockReadingWebStore, WebStore
from stockbridge.domain.batching import batched
from stockbridge.domain.echoes import expected_changes
from stockbridge.domain.inventory import PlannedPush
from stockbridge.sync.context import StepContext

__all__ = ["push_planned"]


def push_planned(
    ctx: StepContext, web: WebStore, connection_id: int, planned: Iterable[PlannedPush]
) -> tuple[int, int]:
    """Push ``planned`` (lazy: memory flat); returns (sent, refused)."""
    pushed = failed = 0
    reading = web if isinstance(web, StockReadingWebStore) else None
    for batch in batched(planned, web.max_inventory_batch):
        changes = {} if reading is None else _changes(reading, batch)
        if changes:  # before the write: its webhooks may arrive before the answer does
            with ctx.uow() as uow:
                uow.catalog.record_echoes(connection_id, changes, datetime.now(UTC))
                uow.commit()
        updates = [p.update for p in batch]
        try:
            result = web.push_inventory(updates)  # retried by the connector's transport
        except BaseException:
            _cancel(ctx, connection_id, changes)  # no echo to wait for: none is one
            raise
        refused = {error.key for error in result.errors}
        accepted = [p for p in batch if p.update.sku not in refused]
        with ctx.uow() as uow:
            uow.catalog.record_sent(
                connection_id, [(p.row.stock_id, p.update.quantity) for p in accepted]
            )
            if reading is not None and refused:
                products = {_product(reading, p) for p in batch if p.update.sku in refused}
                uow.catalog.record_echoes(
                    connection_id,
                    dict.fromkeys(p for p in products if p is not None),
                    datetime.now(UTC),
                )
            uow.commit()
        pushed += len(accepted)
        failed += len(batch) - len(accepted)
        if result.errors:
            ctx.tracker.item_failed(list(result.errors))
        ctx.tracker.checkpoint()
    return pushed, failed


def _cancel(ctx: StepContext, connection_id: int, changes: dict[str, int | None]) -> None:
    """Expect no echo for these products (a change of None is never matched)."""
    if changes:
        with ctx.uow() as uow:
            uow.catalog.record_echoes(connection_id, dict.fromkeys(changes), datetime.now(UTC))
            uow.commit()


def _product(web: StockReadingWebStore, planned: PlannedPush) -> str | None:
    ref = planned.row.partner_ref
    return None if ref is None else web.product_of(ref)


def _changes(web: StockReadingWebStore, batch: Sequence[PlannedPush]) -> dict[str, int | None]:
    """Per web product, the change the push makes: to the quantity sent from what the web
    last received, or else what it showed when last read (None: unknown)."""
    return expected_changes(
        [
            (
                _product(web, p),
                p.update.quantity,
                p.row.last_sent if p.row.last_sent is not None else p.row.web_qty,
            )
            for p in batch
        ]
    )
