"""Sending planned stock changes to the web store: in its largest batches, each accepted
batch recorded as what the web last received, with the change each web product's stock
makes, so the webhook the store fires for it is known for the hub's own echo
(``domain/echoes.py``)."""

from __future__ import annotations

from collections.abc import Iterable
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
    for batch in batched(planned, web.max_inventory_batch):
        sent_at = datetime.now(UTC)
        updates = [p.update for p in batch]
        result = web.push_inventory(updates)  # retried by the connector's transport
        refused = {error.key for error in result.errors}
        accepted = [p for p in batch if p.update.sku not in refused]
        with ctx.uow() as uow:
            uow.catalog.record_sent(
                connection_id, [(p.row.stock_id, p.update.quantity) for p in accepted]
            )
            if isinstance(web, StockReadingWebStore):
                uow.catalog.record_echoes(connection_id, _changes(web, accepted), sent_at)
            uow.commit()
        pushed += len(accepted)
        failed += len(batch) - len(accepted)
        if result.errors:
            ctx.tracker.item_failed(list(result.errors))
        ctx.tracker.checkpoint()
    return pushed, failed


def _changes(web: StockReadingWebStore, accepted: list[PlannedPush]) -> dict[str, int | None]:
    """Per web product, the change the push makes: to the quantity sent from what the web
    last received, or else what it showed when last read (None: unknown)."""
    return expected_changes(
        [
            (
                None if p.row.partner_ref is None else web.product_of(p.row.partner_ref),
                p.update.quantity,
                p.row.last_sent if p.row.last_sent is not None else p.row.web_qty,
            )
            for p in accepted
        ]
    )
