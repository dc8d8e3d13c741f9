"""Hub-side cost of inventory-out: diff, batching and bookkeeping against in-memory partners.

For each catalog size, a fresh SQLite hub is seeded with N variants (one stock row each),
then inventory-out runs twice: first with every variant changed (nothing sent before), then
after 1% of back-office quantities changed, then a third time with nothing changed; then
the dry run of Sync All (``services.preview``) with every quantity changed, its own peak. Each
size runs in its own process (one size alone runs in this one) so peak RSS is that size's
alone; "before" is the process after its imports and the hub's start, before seeding.

On a shared machine the wall time includes waiting for a core: the CPU time of the thread
that ran each step is printed too.

The bench checks its result and exits 1 otherwise: every run succeeded, items pushed =
items changed (all, then 1%, then none: nothing left unsent or pushed twice), calls = the
minimum the batch limit allows, no batch over the limit.

    python -m bench inventory_out                      # 100,000 and 1,000,000 variants
    python -m bench inventory_out --variants 100000    # one size
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update

from bench.checks import Checks
from bench.memory import peak_mb, reset_peak, window_peak_mb
from bench.partners import CountingWebStore, IdleBackOffice
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.db.models import StockLevel, Variant
from stockbridge.domain.batching import calls_needed
from stockbridge.domain.model import InventorySource, Step, Trigger
from stockbridge.retry import RetryPolicy
from stockbridge.services.preview import preview
from stockbridge.sync.context import Partners


def _seed(hub: Any, store_id: int, count: int) -> None:
    now = datetime.now(UTC)
    chunk = 20_000
    with hub.engine.begin() as connection:
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            connection.execute(
                insert(Variant),
                [
                    {
                        "store_id": store_id,
                        "sku": f"SKU-{i:07d}",
                        "name": f"Item {i}",
                        "active": True,
                        "hub_managed": False,
                        "updated_at": now,
                    }
                    for i in range(start, stop)
                ],
            )
        connection.execute(
            text(
                "INSERT INTO stock_levels (variant_id, location, back_office_qty, updated_at) "
                "SELECT id, 'default', id % 50, :now FROM variants WHERE store_id = :store"
            ),
            {"now": now.replace(tzinfo=None), "store": store_id},
        )


def run_size(variants: int, changed_pct: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        web, back_office = CountingWebStore(), IdleBackOffice()
        partners: dict[int, Partners] = {}
        hub = bootstrap(
            Settings(home=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db"),
            retry=RetryPolicy(attempts=1),
            partners_override=lambda store_id: partners[store_id],
        )
        hub.initialise()
        with hub.uow() as uow:
            store = uow.stores.add(
                "bench", timezone="UTC", inventory_source=InventorySource.BACK_OFFICE, erp_name=None
            )
            web_id = uow.stores.connect(
                store.id, role="web", kind="bench", settings={}, credentials=None
            ).id
            bo_id = uow.stores.connect(
                store.id, role="back_office", kind="bench", settings={}, credentials=None
            ).id
            uow.commit()
            store_id = store.id
        partners[store_id] = Partners(web, web_id, back_office, bo_id)
        runner = hub.runner()
        results: dict[str, Any] = {"variants": variants}

        def timed(label: str, expected_items: int) -> None:
            calls_before, items_before = web.calls, web.items
            run_id, _ = runner.request(store_id, (Step.INVENTORY_OUT,), Trigger.MANUAL)
            started, cpu_started = time.perf_counter(), time.thread_time()
            report = runner.execute(run_id)
            elapsed = time.perf_counter() - started
            cpu = time.thread_time() - cpu_started  # the run's thread; excludes waits for a core
            calls, items = web.calls - calls_before, web.items - items_before
            results[label] = {
                "status": report.status.value,
                "error": report.error,
                "changed_items": items,
                "expected_items": expected_items,
                "seconds": round(elapsed, 3),
                "catalog_items_per_s": round(variants / elapsed),
                "cpu_seconds": round(cpu, 3),
                "catalog_items_per_cpu_s": round(variants / cpu),
                "changed_items_per_s": round(items / elapsed),
                "partner_calls": calls,
                "minimum_calls": calls_needed(expected_items, web.max_inventory_batch),
                "largest_batch": web.largest_batch,
                "batch_limit": web.max_inventory_batch,
            }

        results["rss_before_mb"] = peak_mb()
        _seed(hub, store_id, variants)
        results["rss_seeded_mb"] = peak_mb()
        windowed = reset_peak()  # the seeding's own peak is the harness's, not the hub's
        timed("all_changed", variants)
        step = max(1, round(100 / changed_pct))
        with hub.engine.begin() as connection:
            ids = select(StockLevel.id).where(StockLevel.id % step == 0).scalar_subquery()
            connection.execute(
                update(StockLevel)
                .where(StockLevel.id.in_(ids))
                .values(back_office_qty=StockLevel.back_office_qty + 1000)
            )
        timed(f"{changed_pct:g}pct_changed", variants // step)
        timed("unchanged", 0)
        results["runs_peak_rss_mb"] = window_peak_mb() if windowed else None
        # The dry run of Sync All over the same catalog with every variant changed: it
        # copies the database and streams the plan, so its peak should be the push's.
        with hub.engine.begin() as connection:
            connection.execute(
                update(StockLevel).values(back_office_qty=StockLevel.back_office_qty + 1)
            )
        reset_peak()
        started = time.perf_counter()
        plan = preview(hub, "bench")
        results["preview_seconds"] = round(time.perf_counter() - started, 3)
        results["preview_changes"] = plan.stock.count
        results["preview_peak_rss_mb"] = window_peak_mb() if windowed else None
        plan.close()
        hub.engine.dispose()
    # ru_maxrss restarts with the reset too: the process's peak is the larger of the two
    results["peak_rss_mb"] = max(
        results["rss_seeded_mb"], results["runs_peak_rss_mb"] or 0.0, peak_mb()
    )
    return results


def check(checks: Checks, result: dict[str, Any]) -> None:
    size = f"{result['variants']:,}"
    checks.equal(result["preview_changes"], result["variants"], f"{size} preview: stock changes")
    for label, figures in result.items():
        if not isinstance(figures, dict):
            continue
        name = f"{size} {label}"
        error = f" ({figures['error']})" if figures["error"] else ""
        checks.equal(figures["status"], "succeeded", f"{name}: run status{error}")
        checks.equal(figures["changed_items"], figures["expected_items"], f"{name}: items pushed")
        checks.equal(figures["partner_calls"], figures["minimum_calls"], f"{name}: partner calls")
        checks.expect(
            figures["largest_batch"] <= figures["batch_limit"],
            f"{name}: largest batch {figures['largest_batch']} within the limit",
        )


def _print(result: dict[str, Any]) -> None:
    runs = result["runs_peak_rss_mb"]
    print(
        f"\n{result['variants']:,} variants — peak RSS during the runs "
        f"{'n/a' if runs is None else f'{runs} MB'}; process peak {result['peak_rss_mb']} MB "
        f"({result['rss_before_mb']} MB after imports and the hub's start, "
        f"{result['rss_seeded_mb']} MB after seeding)"
    )
    print(
        f"  preview (dry run of Sync All, every variant changed): {result['preview_changes']:,}"
        f" stock changes in {result['preview_seconds']} s, peak RSS "
        f"{result['preview_peak_rss_mb']} MB"
    )
    for label, figures in result.items():
        if isinstance(figures, dict):
            print(
                f"  {label:>15}: {figures['catalog_items_per_s']:,} items/s over the catalog "
                f"({figures['seconds']} s; CPU {figures['cpu_seconds']} s = "
                f"{figures['catalog_items_per_cpu_s']:,} items per CPU-second); "
                f"{figures['changed_items']:,} pushed in "
                f"{figures['partner_calls']} calls (minimum {figures['minimum_calls']}, "
                f"largest batch {figures['largest_batch']})"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench inventory_out")
    parser.add_argument("--variants", type=int, action="append", help="catalog size (repeatable)")
    parser.add_argument("--changed-pct", type=float, default=1.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.variants or [100_000, 1_000_000]
    if args.child:
        print(json.dumps(run_size(sizes[0], args.changed_pct)))
        return 0
    print("inventory-out, hub side (SQLite, in-memory partners, batch max 2,000)")
    checks = Checks("inventory_out")
    for size in sizes:
        if len(sizes) == 1:
            result = run_size(size, args.changed_pct)
        else:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench",
                    "inventory_out",
                    "--child",
                    "--variants",
                    str(size),
                    "--changed-pct",
                    str(args.changed_pct),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
        _print(result)
        check(checks, result)
    return checks.exit_code()
