"""Step 3, inventory-in: quantities, prices and new products into the hub.

From the back office (when connected): items changed since the cursor; or, for a back
office that reports whole snapshots (a feed), each new snapshot diffed against the hub,
only its changes applied, and none of a snapshot that was rejected. From the web store:
variants changed since the cursor, for their partner references and web stock (the
master figure where the web store is the source of truth). Who owns each product's stock
is ``domain/ownership.py``'s rule: an assigned product's hub quantity is overwritten
here only by its owner, the web store in erp_via_web and the ERP in api mode; never where
the hub owns it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stockbridge.connectors.base import Snapshot, SnapshotBackOffice
from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.domain.snapshot import diff_snapshot
from stockbridge.sync.context import StepContext, StepOutcome

__all__ = ["CATALOG_STREAM", "ITEMS_STREAM", "STOCK_READ_MARK", "inventory_in"]

ITEMS_STREAM = "items"
CATALOG_STREAM = "catalog"
#: When the last complete read of back-office stock began: orders posted before it are
#: reflected in the back-office quantities the hub holds.
STOCK_READ_MARK = "stock-read-started"
SNAPSHOT_PAGE = 1000


def inventory_in(ctx: StepContext) -> StepOutcome:
    partners = ctx.partners
    if partners.back_office is None and partners.web is None:
        return StepOutcome("skipped", message="no partner connected")
    done = failed = 0
    if isinstance(partners.back_office, SnapshotBackOffice):
        assert partners.back_office_connection_id is not None
        done, failed = _read_snapshots(
            ctx, partners.back_office, partners.back_office_connection_id
        )
    elif partners.back_office is not None and partners.back_office_connection_id is not None:
        done += _read_back_office(ctx, partners.back_office_connection_id)
    if partners.web is not None and partners.web_connection_id is not None:
        done += _read_web(ctx, partners.web_connection_id)
    return StepOutcome("partial" if failed else "succeeded", done=done, failed=failed)


def _read_back_office(ctx: StepContext, connection_id: int) -> int:
    back_office = ctx.partners.back_office
    assert back_office is not None
    started = datetime.now(UTC)
    with ctx.uow() as uow:
        since = uow.stores.cursor(connection_id, ITEMS_STREAM)
    done = 0
    for page in back_office.iter_items(since):
        with ctx.uow() as uow:
            uow.catalog.apply_back_office_items(
                ctx.store.id, page.items, store_source=ctx.store.inventory_source
            )
            uow.stores.advance_cursor(connection_id, ITEMS_STREAM, page.cursor)
            uow.commit()
        done += len(page.items)
        ctx.tracker.advance(len(page.items))
        ctx.tracker.checkpoint()
    with ctx.uow() as uow:
        uow.stores.advance_cursor(connection_id, STOCK_READ_MARK, started)
        uow.commit()
    return done


def _read_snapshots(
    ctx: StepContext, back_office: SnapshotBackOffice, connection_id: int
) -> tuple[int, int]:
    """Apply each new snapshot's changes; returns (changes applied, bad rows). A rejected
    snapshot applies nothing: its bad rows go on the run and the step fails (after the
    snapshots that came before it, each whole, were applied)."""
    done = failed = 0
    rejections: list[str] = []
    for snapshot in back_office.snapshots():
        ctx.tracker.item_failed(list(snapshot.errors))
        failed += snapshot.bad_rows
        if snapshot.rejection is not None:
            snapshot.rejected()
            rejections.append(snapshot.rejection)
            continue
        started = datetime.now(UTC)
        done += _apply_snapshot(ctx, snapshot)
        snapshot.accepted()
        with ctx.uow() as uow:
            mark = started if snapshot.produced_at is None else min(started, snapshot.produced_at)
            uow.stores.advance_cursor(connection_id, STOCK_READ_MARK, mark)
            uow.commit()
    if rejections:
        ctx.tracker.checkpoint()
        raise PartnerResponseError("; ".join(rejections), partner="feed", code="rejected")
    return done, failed


def _apply_snapshot(ctx: StepContext, snapshot: Snapshot) -> int:
    """Diff the snapshot against the hub (one sorted pass over each, changes staged on
    disk), then apply the changes in pages, each committed with a checkpoint."""
    with ctx.uow() as uow:
        uow.read_only()  # a million-row read must not hold SQLite's write lock
        changes = diff_snapshot(
            snapshot.rows(),
            uow.catalog.iter_back_office_state(ctx.store.id),
            zero_missing=snapshot.zero_missing,
        )
        total = snapshot.stage_changes(changes)
    ctx.tracker.set_total(total)
    done = 0
    for page in snapshot.changed_pages(SNAPSHOT_PAGE):
        with ctx.uow() as uow:
            uow.catalog.apply_back_office_items(
                ctx.store.id, page.items, store_source=ctx.store.inventory_source
            )
            uow.commit()
        done += len(page.items)
        ctx.tracker.advance(len(page.items))
        ctx.tracker.checkpoint()
    return done


def _read_web(ctx: StepContext, connection_id: int) -> int:
    web = ctx.partners.web
    assert web is not None
    with ctx.uow() as uow:
        since = uow.stores.cursor(connection_id, CATALOG_STREAM)
    done = 0
    for page in web.iter_catalog(since):
        with ctx.uow() as uow:
            uow.catalog.apply_web_variants(
                ctx.store.id,
                connection_id,
                page.items,
                store_source=ctx.store.inventory_source,
            )
            uow.stores.advance_cursor(connection_id, CATALOG_STREAM, page.cursor)
            uow.commit()
        done += len(page.items)
        ctx.tracker.advance(len(page.items))
        ctx.tracker.checkpoint()
    return done
