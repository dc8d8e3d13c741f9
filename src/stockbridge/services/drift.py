"""The drift report (``stockbridge drift``, ``GET /api/v1/stores/{store}/drift``, the
dashboard's Drift page) and its repair (a run of its own, ``Trigger.REPAIR``).

The report reads the web store's whole catalog and compares it with the hub's stock rows
(``sync/drift.py``), after reading the web orders the hub has not seen yet into a
throw-away copy of the hub (the dry run's machinery), so stock an unread order took on
the web is not reported as drift. It records the measurement (``drift_checks``), nothing
else. A repair is queued like any run: behind a run holding the store, never beside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.db.scratch import scratch_copy
from stockbridge.domain.drift import HUB_ONLY, WEB_DIFFERS, WEB_ONLY, DriftEntry
from stockbridge.domain.model import Step, Trigger
from stockbridge.services.errors import StoreNotFound
from stockbridge.services.stores import resolve_store
from stockbridge.sync.context import StepContext
from stockbridge.sync.drift import REPORT_SOURCE, DriftReport, measure_drift
from stockbridge.sync.preview import NullTracker, dry_run_partners
from stockbridge.sync.runner import REPAIR, run_step

__all__ = [
    "DriftReport",
    "RepairRequested",
    "drift_csv",
    "drift_json",
    "drift_report",
    "request_repair",
]


@dataclass(frozen=True)
class RepairRequested:
    """The queued repair run; ``merged`` when one was queued already."""

    run_id: int
    merged: bool


def drift_report(hub: Hub, store_name: str | None) -> DriftReport:
    """The store's drift now (reads the web store's catalog; records the measurement)."""
    store_id = resolve_store(hub, store_name)
    with hub.uow() as uow:
        store = uow.stores.settings(store_id)
    if store is None:
        raise StoreNotFound(f"no store named {store_name!r}")
    partners = hub.partners_for(store_id)
    try:
        with scratch_copy(hub.engine, hub.settings.home_dir) as copy:
            dry = dry_run_partners(partners, lambda _order: None)
            ctx = StepContext(
                store=store, partners=dry, uow=copy, retry=hub.retry, tracker=NullTracker()
            )
            read = run_step(Step.ORDERS_IN, ctx, {})
            report = measure_drift(ctx)
    finally:
        hub.release_partners(partners)
    if read.status == "failed":
        report.warning = (
            f"new web orders could not be read ({read.message}); stock they took on the "
            "web may be listed as drift"
        )
    with hub.uow() as uow:
        uow.catalog.record_drift(
            store_id,
            REPORT_SOURCE,
            report.counts[WEB_DIFFERS],
            report.counts[WEB_ONLY],
            report.counts[HUB_ONLY],
        )
        uow.commit()
    return report


def request_repair(hub: Hub, store_name: str | None) -> RepairRequested:
    """Queue a repair run (merged into one queued already); the caller hands its id to
    the queue (or executes it)."""
    store_id = resolve_store(hub, store_name)
    runner = hub.runner()
    run_id, merged = runner.request(store_id, REPAIR, Trigger.REPAIR)
    return RepairRequested(run_id, merged)


def _entry(entry: DriftEntry) -> dict[str, Any]:
    return {
        "sku": entry.sku,
        "location": entry.location,
        "kind": entry.kind,
        "web": entry.web,
        "last_sent": entry.last_sent,
        "should": entry.should,
    }


def drift_json(report: DriftReport) -> dict[str, Any]:
    return {
        "store": report.store,
        "counts": dict(report.counts),
        "total": report.total,
        "compared": report.compared,
        "web_variants": report.web_variants,
        "warning": report.warning,
        "entries": [_entry(e) for e in report.entries],
        # Prices that differ where the back office is the price master: the catalog
        # branch's planner fills this (price pushes); always empty here.
        "prices": [],
    }


CSV_COLUMNS = ("sku", "location", "kind", "web", "last_sent", "should")


def drift_csv(entries: list[DriftEntry]) -> Iterator[str]:
    """The entries as CSV, a line at a time. A cell that a spreadsheet would read as a
    formula (=, +, -, @, tab, CR) is prefixed with a quote."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = _entry(entry)
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
