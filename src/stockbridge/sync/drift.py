"""Drift against the web store's stock read just now, and its repair.

``iter_drift`` reads the web store's whole catalog (its current stock per variant), then
streams the hub's stock rows (the same keyset pages inventory-out reads) and classifies
each (``domain/drift.py``) against what the web shows: what it should be (back office
less withheld, or the hub's own quantity for an assigned product) and what the hub last
sent. The web's figures are held per (SKU, location) while the hub's rows stream past.

``repair_drift`` is inventory-out for a repair run (``Trigger.REPAIR``): it pushes
exactly the rows whose web stock differs from their target, in the partner's largest
batches, and records what it sent. The run reads new web orders first (orders-in, with
the runner's orders-unread rule), so the web's own decrement for an order the hub has
not read is never taken for drift and pushed over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from stockbridge.domain.drift import DRIFT_KINDS, WEB_DIFFERS, WEB_ONLY, DriftEntry, classify
from stockbridge.domain.inventory import PlannedPush, StockRow
from stockbridge.domain.model import DEFAULT_LOCATION, StockUpdate
from stockbridge.domain.ownership import hub_pushes
from stockbridge.sync.context import StepContext, StepOutcome
from stockbridge.sync.inventory_out import stock_rows
from stockbridge.sync.sources import withheld_for_web
from stockbridge.sync.stock_push import push_planned

__all__ = ["MAX_ENTRIES", "DriftReport", "iter_drift", "measure_drift", "repair_drift"]

#: Drift entries a report keeps (its counts are whole).
MAX_ENTRIES = 10_000
REPAIR_SOURCE = "repair"
REPORT_SOURCE = "report"


@dataclass
class DriftReport:
    """A store's drift now: the entries (the first ``MAX_ENTRIES``), counts per kind,
    how many hub stock rows were compared and web variants read."""

    store: str
    entries: list[DriftEntry] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DRIFT_KINDS, 0))
    compared: int = 0
    web_variants: int = 0
    #: Why the report may list stock web orders took as drift (orders-in failed).
    warning: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def iter_drift(ctx: StepContext, report: DriftReport | None = None) -> Iterator[DriftEntry]:
    """Every drifted row, the web read first (see the module's docstring); fills the
    counts of ``report`` as it goes. Nothing when no web store is connected."""
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if web is None or connection_id is None:
        return
    figures: dict[tuple[str, str], int | None] = {}
    for page in web.iter_catalog(None):
        for variant in page.items:
            figures[(variant.sku, variant.location)] = variant.quantity
    if report is not None:
        report.web_variants = len(figures)
    with ctx.uow() as uow:
        uow.read_only()
        withheld = withheld_for_web(
            uow, ctx.store.id, ctx.partners.back_office_connection_id, ctx.partners.sources
        )
    for row in stock_rows(ctx, connection_id):
        key = (row.sku, row.location)
        on_web = key in figures
        held = withheld.get(row.sku, 0) if row.location == DEFAULT_LOCATION else 0
        entry = classify(row, held, on_web=on_web, web=figures.pop(key, None))
        if report is not None:
            report.compared += 1
        if entry is not None:
            yield entry
    if not hub_pushes(ctx.store.inventory_source, False):
        return  # the web store owns unassigned products' stock: a SKU only it has is fine
    for (sku, location), quantity in sorted(figures.items()):
        if quantity is not None:
            yield DriftEntry(sku, location, WEB_ONLY, quantity, None, None)


def measure_drift(ctx: StepContext) -> DriftReport:
    """The store's drift report (entries capped at ``MAX_ENTRIES``)."""
    report = DriftReport(store=ctx.store.name)
    for entry in iter_drift(ctx, report):
        report.counts[entry.kind] += 1
        if len(report.entries) < MAX_ENTRIES:
            report.entries.append(entry)
    return report


def _advancing(ctx: StepContext, planned: Iterator[PlannedPush]) -> Iterator[PlannedPush]:
    for push in planned:
        yield push
        ctx.tracker.advance(1)


def repair_drift(ctx: StepContext) -> StepOutcome:
    """Push exactly the rows whose web stock differs from their target (a repair run's
    inventory-out); records what was sent and the measurement."""
    web, connection_id = ctx.partners.web, ctx.partners.web_connection_id
    if web is None or connection_id is None:
        return StepOutcome("skipped", message="no web store connected")
    fixes = (
        e
        for e in iter_drift(ctx)
        if e.kind == WEB_DIFFERS and e.should is not None and e.stock_id is not None
    )
    # Through the one push path, so the write's webhooks are expected (echoes, not news).
    # The change expected is from what the web shows now (just read) to the target.
    planned = (
        PlannedPush(
            StockRow(
                e.stock_id or 0,
                e.sku,
                e.location,
                ctx.store.inventory_source,
                False,
                None,
                None,
                last_sent=e.web,
                partner_ref=e.partner_ref,
            ),
            0,
            StockUpdate(e.sku, e.should or 0, e.location, e.partner_ref),
        )
        for e in fixes
    )
    pushed, failed = push_planned(ctx, web, connection_id, _advancing(ctx, planned))
    with ctx.uow() as uow:
        uow.catalog.record_drift(ctx.store.id, REPAIR_SOURCE, pushed + failed)
        uow.commit()
    return StepOutcome(
        "partial" if failed else "succeeded", done=pushed, failed=failed, written=pushed
    )
