"""A feed file parsed, validated and diffed against the hub: rows per second, peak RSS.

For each size, in its own process (so peak RSS is that size's alone): a fresh SQLite hub
holds N variants (one stock row each, with a price and a name); a CSV feed of the same N
SKUs (columns sku, quantity, price, name) is written to a temporary folder with 1% of the
quantities changed. Then, through the feed connector's own code:

1. stage: the file is read, every row validated and staged on disk (``snapshot.stage``);
2. diff: the staged rows and the hub's rows, both sorted, are merged and the changes
   staged (``diff_snapshot`` over ``CatalogRepository.iter_back_office_state``);
3. apply: the changes are written to the hub in pages, as inventory-in does.

Then the same file is diffed again: nothing may be left to change. The bench checks the
feed was accepted, changes found = rows changed, changes applied = changes found, none
left, and exits 1 otherwise.

"rows/s" is feed rows over stage + diff (the goal's "parsed, validated and diffed").

    python -m bench feed_ingest                     # 100,000 and 1,000,000 rows
    python -m bench feed_ingest --rows 100000       # one size
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.checks import Checks
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.feed.formats import FeedFormat
from stockbridge.connectors.feed.snapshot import stage
from stockbridge.db.models import Variant
from stockbridge.domain.model import InventorySource
from stockbridge.domain.snapshot import diff_snapshot
from stockbridge.retry import RetryPolicy
from stockbridge.sync.inventory_in import SNAPSHOT_PAGE

CHANGED_EVERY = 100  # 1% of the rows change


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _seed(hub: Any, store_id: int, count: int) -> None:
    now = datetime.now(UTC)
    chunk = 20_000
    with hub.engine.begin() as connection:
        for start in range(0, count, chunk):
            connection.execute(
                insert(Variant),
                [
                    {
                        "store_id": store_id,
                        "sku": f"SKU-{i:07d}",
                        "name": f"Item {i}",
                        "price": Decimal(f"{i % 100}.99"),
                        "active": True,
                        "hub_managed": False,
                        "updated_at": now,
                    }
                    for i in range(start, min(count, start + chunk))
                ],
            )
        connection.execute(
            text(
                "INSERT INTO stock_levels (variant_id, location, back_office_qty, updated_at) "
                "SELECT id, 'default', (id - 1) % 50, :now FROM variants WHERE store_id = :store"
            ),
            {"now": now.replace(tzinfo=None), "store": store_id},
        )


def _write_feed(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("sku,quantity,price,name\n")
        for start in range(0, count, 10_000):
            out.write(
                "".join(
                    f"SKU-{i:07d},{i % 50 + (1000 if i % CHANGED_EVERY == 0 else 0)},"
                    f"{i % 100}.99,Item {i}\n"
                    for i in range(start, min(count, start + 10_000))
                )
            )


def run_size(rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        hub = bootstrap(
            Settings(home=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db"),
            retry=RetryPolicy(attempts=1),
        )
        hub.initialise()
        with hub.uow() as uow:
            store = uow.stores.add(
                "bench", timezone="UTC", inventory_source=InventorySource.API, erp_name=None
            )
            uow.commit()
            store_id = store.id
        _seed(hub, store_id, rows)
        feed = Path(tmp) / "feed.csv"
        _write_feed(feed, rows)
        rss_before = _rss_mb()

        started = time.perf_counter()
        snapshot = stage(feed, FeedFormat(), name=feed.name, max_bad_share=0.05, zero_missing=False)
        staged = time.perf_counter()
        with hub.uow() as uow:
            changes = snapshot.stage_changes(
                diff_snapshot(
                    snapshot.rows(),
                    uow.catalog.iter_back_office_state(store_id),
                    zero_missing=False,
                )
            )
        diffed = time.perf_counter()
        applied = 0
        for page in snapshot.changed_pages(SNAPSHOT_PAGE):
            with hub.uow() as uow:
                uow.catalog.apply_back_office_items(
                    store_id, page.items, store_source=InventorySource.API
                )
                uow.commit()
            applied += len(page.items)
        done = time.perf_counter()
        rejection, bad_rows = snapshot.rejection, snapshot.bad_rows
        snapshot.close()
        # converged: the same file diffed again against the hub finds nothing to change
        again = stage(feed, FeedFormat(), name=feed.name, max_bad_share=0.05, zero_missing=False)
        with hub.uow() as uow:
            left = again.stage_changes(
                diff_snapshot(
                    again.rows(), uow.catalog.iter_back_office_state(store_id), zero_missing=False
                )
            )
        again.close()
        hub.engine.dispose()
        file_mb = round(feed.stat().st_size / 1e6, 1)
    return {
        "rows": rows,
        "file_mb": file_mb,
        "rejection": rejection,
        "bad_rows": bad_rows,
        "stage_s": round(staged - started, 2),
        "diff_s": round(diffed - staged, 2),
        "apply_s": round(done - diffed, 2),
        "changes": changes,
        "expected_changes": len(range(0, rows, CHANGED_EVERY)),
        "applied": applied,
        "changes_left": left,
        "rows_per_s": round(rows / (diffed - started)),
        "rss_before_mb": rss_before,
        "peak_rss_mb": _rss_mb(),
    }


def check(checks: Checks, r: dict[str, Any]) -> None:
    size = f"{r['rows']:,} rows"
    checks.equal(r["rejection"], None, f"{size}: feed accepted")
    checks.equal(r["bad_rows"], 0, f"{size}: bad rows")
    checks.equal(r["changes"], r["expected_changes"], f"{size}: changes found")
    checks.equal(r["applied"], r["changes"], f"{size}: changes applied")
    checks.equal(r["changes_left"], 0, f"{size}: changes left when diffed again")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench feed_ingest")
    parser.add_argument("--rows", type=int, action="append", help="feed size (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.rows or [100_000, 1_000_000]
    if args.child:
        print(json.dumps(run_size(sizes[0])))
        return 0
    print("feed ingest: CSV parsed, validated, staged and diffed against a SQLite hub")
    checks = Checks("feed_ingest")
    for size in sizes:
        if len(sizes) == 1:  # one size: this process's peak RSS is that size's alone
            r = run_size(size)
        else:
            out = subprocess.run(
                [sys.executable, "-m", "bench", "feed_ingest", "--child", "--rows", str(size)],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"\n{size:,} rows ({r['file_mb']} MB): {r['rows_per_s']:,} rows/s parsed, validated "
            f"and diffed (stage {r['stage_s']} s + diff {r['diff_s']} s); {r['changes']:,} "
            f"changes applied in {r['apply_s']} s; peak RSS {r['peak_rss_mb']} MB "
            f"({r['rss_before_mb']} MB before the feed was read)"
        )
        check(checks, r)
    return checks.exit_code()
