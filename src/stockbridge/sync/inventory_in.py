"""Step 3, inventory-in: quantities, prices and new products into the hub.

From the primary back office (when connected) and from each supplier (supplementary
sources, ``domain/sources.py``: each owns the SKUs it lists or its pattern matches):
items changed since the cursor; or, for a source that reports whole snapshots (a feed),
each new snapshot diffed against the hub rows that source owns, only its changes applied,
and none of a snapshot that was rejected. A source's report of a SKU it does not own is
skipped, or, when another supplier owns it, kept from that owner and reported as an item
error naming both. A supplier that fails is an item error of the step; the others still
apply. From the web store: variants changed since the cursor, for their partner
references and web stock (the master figure where the web store is the source of truth).
Who owns each product's stock is ``domain/ownership.py``'s rule: an assigned product's
hub quantity is overwritten here only by its owner, the web store in erp_via_web and the
ERP in api mode; never where the hub owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from stockbridge.connectors.base import BackOffice, PulledBackOffice, Snapshot, SnapshotBackOffice
from stockbridge.connectors.errors import PartnerAuthError, PartnerError, PartnerResponseError
from stockbridge.domain.model import BackOfficeItem, ItemError, Trigger
from stockbridge.domain.snapshot import diff_snapshot
from stockbridge.sync.context import StepContext, StepOutcome
from stockbridge.sync.sources import STOCK_READ_MARK, apply_report, source_state
from stockbridge.sync.web_changes import read_assigned, read_targets

__all__ = [
    "CATALOG_READ_MARK",
    "CATALOG_STREAM",
    "ITEMS_STREAM",
    "PULLED_READ",
    "STOCK_READ_MARK",
    "inventory_in",
]

ITEMS_STREAM = "items"
CATALOG_STREAM = "catalog"
#: When the last complete read of the web catalog began (``sync/catalog_out.py`` acts
#: only once there was one: before it, a SKU without a web reference proves nothing).
CATALOG_READ_MARK = "catalog_read"
SNAPSHOT_PAGE = 1000
#: The connection setting where a back office that calls the hub (the Web Connector's
#: sessions) leaves what its item reads read and changed, for the next run to report.
PULLED_READ = "items_read_by_session"
#: The drift measurement this step records (``ports.CatalogRepository.record_drift``).
DRIFT_SOURCE = "inventory-in"
#: The item error code of a supplier whose read failed as a whole.
SOURCE_FAILED = "source_failed"


def inventory_in(ctx: StepContext) -> StepOutcome:
    if ctx.targets is not None:  # webhook news: the web's stock of just those products
        return read_targets(ctx, ctx.targets)
    partners = ctx.partners
    if partners.back_office is None and partners.web is None and not partners.suppliers:
        return StepOutcome("skipped", message="no partner connected")
    done = failed = 0
    primary_error: PartnerError | None = None
    primary, primary_id = partners.back_office, partners.back_office_connection_id
    waiting = _waiting_for(primary)
    if waiting is not None:
        primary = None  # it calls the hub; its next session reads it
        if primary_id is not None:
            done += _pulled(ctx, primary_id)
    if primary is not None and primary_id is not None:
        try:
            done, failed = _read_source(ctx, primary, primary_id, None)
        except PartnerError as exc:
            if not partners.suppliers:
                raise
            primary_error = exc  # the suppliers are still read; the step fails after
    for supplier in partners.suppliers:
        connection_id = supplier.supplier.connection_id
        try:
            more, bad = _read_source(ctx, supplier.back_office, connection_id, connection_id)
        except PartnerError as exc:
            failed += 1
            _supplier_failed(ctx, supplier.supplier.name, connection_id, exc)
            continue
        done, failed = done + more, failed + bad
    if primary_error is not None:
        raise primary_error
    if partners.web is not None and partners.web_connection_id is not None:
        done += _read_web(ctx, partners.web_connection_id)
        if ctx.trigger is Trigger.MANUAL:  # a manual sync: assigned products in full
            done += read_assigned(ctx)
    status = "partial" if failed else "succeeded"
    return StepOutcome(status, done=done, failed=failed, message=waiting)


def _pulled(ctx: StepContext, connection_id: int) -> int:
    """What the back office's own sessions read (counted as this step's reads) and
    changed since the last run reported it (taken once); returns the changed count."""
    with ctx.uow() as uow:
        counts = uow.stores.take_setting(connection_id, PULLED_READ)
        uow.commit()
    if not isinstance(counts, dict):
        return 0
    ctx.tracker.advance(int(counts.get("read", 0)))
    return int(counts.get("changed", 0))


def _waiting_for(back_office: BackOffice | None) -> str | None:
    """Why a back office that calls the hub (the Web Connector) is not read now."""
    if isinstance(back_office, PulledBackOffice):
        return back_office.waiting_for
    return None


def _supplier_failed(ctx: StepContext, name: str, connection_id: int, exc: PartnerError) -> None:
    if isinstance(exc, PartnerAuthError):
        with ctx.uow() as uow:
            uow.stores.set_health(connection_id, "needs_reconnect", str(exc))
            uow.commit()
    message = f"supplier {name!r} could not be read: {exc}"
    ctx.tracker.item_failed([ItemError(f"supplier:{name}", message, SOURCE_FAILED)])
    ctx.tracker.checkpoint()


def _read_source(
    ctx: StepContext, back_office: BackOffice, connection_id: int, source: int | None
) -> tuple[int, int]:
    """Read one source (``source``: a supplier's connection id, None for the primary);
    returns (changes applied, items that failed)."""
    if isinstance(back_office, SnapshotBackOffice):
        return _read_snapshots(ctx, back_office, connection_id, source)
    return _read_back_office(ctx, back_office, connection_id, source)


def _read_back_office(
    ctx: StepContext, back_office: BackOffice, connection_id: int, source: int | None
) -> tuple[int, int]:
    started = datetime.now(UTC)
    with ctx.uow() as uow:
        since = uow.stores.cursor(connection_id, ITEMS_STREAM)
    done = failed = 0
    for page in back_office.iter_items(since):
        applied, refused = _apply_page(ctx, page.items, source, connection_id, cursor=page.cursor)
        done, failed = done + applied, failed + refused
    with ctx.uow() as uow:
        uow.stores.advance_cursor(connection_id, STOCK_READ_MARK, started)
        uow.commit()
    return done, failed


def _read_snapshots(
    ctx: StepContext, back_office: SnapshotBackOffice, connection_id: int, source: int | None
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
        applied, conflicts = _apply_snapshot(ctx, snapshot, connection_id, source)
        done += applied
        failed += conflicts
        snapshot.accepted()
        with ctx.uow() as uow:
            mark = started if snapshot.produced_at is None else min(started, snapshot.produced_at)
            uow.stores.advance_cursor(connection_id, STOCK_READ_MARK, mark)
            uow.commit()
    if rejections:
        ctx.tracker.checkpoint()
        raise PartnerResponseError("; ".join(rejections), partner="feed", code="rejected")
    return done, failed


def _apply_snapshot(
    ctx: StepContext, snapshot: Snapshot, connection_id: int, source: int | None
) -> tuple[int, int]:
    """Diff the snapshot against the hub rows its source owns (one sorted pass over each,
    changes staged on disk), then apply the changes in pages, each committed with a
    checkpoint. Returns (changes applied, conflicts)."""
    sources = ctx.partners.sources
    with ctx.uow() as uow:
        uow.read_only()  # a million-row read must not hold SQLite's write lock
        changes = diff_snapshot(
            snapshot.rows(),
            source_state(uow, ctx.store.id, sources, source),
            zero_missing=snapshot.zero_missing,
        )
        total = snapshot.stage_changes(changes)
    ctx.tracker.set_total(total)
    done = failed = 0
    for page in snapshot.changed_pages(SNAPSHOT_PAGE):
        applied, refused = _apply_page(ctx, page.items, source, connection_id, cursor=None)
        done, failed = done + applied, failed + refused
    return done, failed


def _apply_page(
    ctx: StepContext,
    items: Sequence[BackOfficeItem],
    source: int | None,
    connection_id: int,
    *,
    cursor: datetime | None,
) -> tuple[int, int]:
    """Apply one page a source reported (and its cursor, in the same commit); returns
    (items that changed the hub, conflicts), the conflicts reported on the run."""
    with ctx.uow() as uow:
        conflicts, changed = apply_report(
            uow,
            ctx.store.id,
            ctx.partners.sources,
            source,
            connection_id,
            items,
            store_source=ctx.store.inventory_source,
        )
        if cursor is not None:
            uow.stores.advance_cursor(connection_id, ITEMS_STREAM, cursor)
        uow.commit()
    if conflicts:
        ctx.tracker.item_failed(conflicts)
    ctx.tracker.advance(len(items))  # read
    ctx.tracker.checkpoint()
    return changed, len(conflicts)


def _read_web(ctx: StepContext, connection_id: int) -> int:
    """Read the web catalog since the cursor; returns how many variants changed the hub."""
    web = ctx.partners.web
    assert web is not None
    started = datetime.now(UTC)
    with ctx.uow() as uow:
        since = uow.stores.cursor(connection_id, CATALOG_STREAM)
    done = drifted = 0
    for page in web.iter_catalog(since):
        with ctx.uow() as uow:
            # Drift the read found: variants whose web stock moved away from what the hub
            # last sent (the next inventory-out sets them right; the count is kept).
            drifted += uow.catalog.web_drift(ctx.store.id, connection_id, page.items)
            done += uow.catalog.apply_web_variants(
                ctx.store.id,
                connection_id,
                page.items,
                store_source=ctx.store.inventory_source,
            )
            uow.stores.advance_cursor(connection_id, CATALOG_STREAM, page.cursor)
            uow.commit()
        ctx.tracker.advance(len(page.items))  # read
        ctx.tracker.checkpoint()
    with ctx.uow() as uow:
        uow.catalog.record_drift(ctx.store.id, DRIFT_SOURCE, drifted)
        # Read through (an empty store too): the catalog step may act.
        uow.stores.advance_cursor(connection_id, CATALOG_READ_MARK, started)
        uow.commit()
    return done
