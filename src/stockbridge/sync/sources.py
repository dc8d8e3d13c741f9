"""Several inventory sources in the steps' terms: applying a source's report to the SKUs
it owns, the hub rows a source's snapshot is diffed against, and withholding counted
against each SKU's owner. The rule itself is ``domain/sources.py``; storage is reached
through the ports only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from stockbridge.domain.model import BackOfficeItem, InventorySource, ItemError
from stockbridge.domain.snapshot import HubRowLike
from stockbridge.domain.sources import SourceMap
from stockbridge.ports import UnitOfWork

__all__ = ["STOCK_READ_MARK", "apply_report", "source_state", "withheld_for_web"]

#: When the last complete read of a source's stock began: orders posted before it are
#: reflected in the quantities the hub holds from that source.
STOCK_READ_MARK = "stock-read-started"


def apply_report(
    uow: UnitOfWork,
    store_id: int,
    sources: SourceMap,
    source: int | None,
    connection_id: int,
    items: Sequence[BackOfficeItem],
    *,
    store_source: InventorySource,
) -> tuple[list[ItemError], int]:
    """Apply what ``source`` (a supplier's connection id; None: the primary back office,
    ``connection_id``) reported, for the SKUs it owns only; record the SKUs a supplier
    claimed by listing them. Returns the conflicts (SKUs another supplier owns: kept from
    it) and how many items changed the hub. Without suppliers every item is the
    primary's, as ever."""
    if not sources.suppliers:
        return [], uow.catalog.apply_back_office_items(store_id, items, store_source=store_source)
    claims = uow.sources.claims(store_id, {item.sku for item in items})
    sorting = sources.sort_report(source, items, claims)
    changed = uow.catalog.apply_back_office_items(
        store_id, sorting.accepted, store_source=store_source
    )
    if source is not None and sorting.claims:
        uow.sources.claim(store_id, connection_id, sorting.claims)
    return sorting.conflicts, changed


def source_state(
    uow: UnitOfWork, store_id: int, sources: SourceMap, source: int | None
) -> Iterator[HubRowLike]:
    """The hub rows ``source`` owns, in the order ``iter_back_office_state`` gives them:
    what its snapshot is diffed against (and, with ``zero_missing``, what it may zero)."""
    if not sources.suppliers:
        yield from uow.catalog.iter_back_office_state(store_id)
        return
    for row in uow.sources.iter_state_with_claims(store_id):
        if sources.in_scope(source, row[0], row[6]):
            yield (row[0], row[1], row[2], row[3], row[4], row[5])


def withheld_for_web(
    uow: UnitOfWork, store_id: int, primary_id: int | None, sources: SourceMap
) -> dict[str, int]:
    """What web orders withhold per SKU, each SKU counted against its owner's last
    complete read (``domain.withholding``): an order posted to the primary back office
    is reflected in a supplier's SKU only once that supplier's next read began. Nothing
    when the store has no back office."""
    if primary_id is None:
        return {}

    def mark(connection_id: int) -> datetime | None:
        return uow.stores.cursor(connection_id, STOCK_READ_MARK)

    store = uow.stores.settings(store_id)
    # In api mode the ERP's push is the back-office figure: a posted order is reflected in
    # the SKUs it pushed since, whenever the primary was last read.
    primary = uow.catalog.withheld(
        store_id,
        mark(primary_id),
        None if store is None else store.inventory_source,
    )
    if not sources.suppliers:
        return primary
    by_source: dict[int | None, dict[str, int]] = {None: primary}
    for supplier in sources.suppliers:
        by_source[supplier.connection_id] = uow.catalog.withheld(
            store_id, mark(supplier.connection_id)
        )
    skus = {sku for withheld in by_source.values() for sku in withheld}
    return sources.choose_withheld(by_source, uow.sources.claims(store_id, skus))
