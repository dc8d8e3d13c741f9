"""Push 100,000 changed variants to the BigCommerce sandbox at the Standard plan's quota
(150 requests per 30 s), through the real connector and the hub's inventory-out step;
beside it, the naive way (one call per variant) on a sample, projected.

    python -m bench bigcommerce_push [--variants 100000] [--quota 150] [--window-ms 30000]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from bench.processes import free_port, wait_until_up
from stockbridge import services
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.domain.model import InventorySource, Step, StockUpdate

VARIANTS_PER_PRODUCT = 100


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench bigcommerce_push")
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--quota", type=int, default=150)
    parser.add_argument("--window-ms", type=int, default=30_000)
    parser.add_argument("--naive-sample", type=int, default=40)
    args = parser.parse_args(argv)

    # The sandbox runs in its own process, as the partner would: the hub and the
    # simulator do not share one interpreter lock.
    port = free_port()
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stockbridge.cli",
            "sandbox",
            "bigcommerce",
            "--port",
            str(port),
            "--store-hash",
            "bench",
            "--access-token",
            "bench-token",
            "--quota",
            "100000",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/admin/stores/bench/counters")
        return _run(args, url)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def _run(args: argparse.Namespace, url: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        admin = httpx.Client(base_url=f"{url}/admin/stores", timeout=60)
        admin.post("/bench/faults", json={"window_ms": args.window_ms}).raise_for_status()
        products = math.ceil(args.variants / VARIANTS_PER_PRODUCT)
        for start in range(0, products, 100):
            batch = [
                {
                    "name": f"Product {p}",
                    "sku": f"P{p}",
                    "tracking": "variant",
                    "variants": [
                        {"sku": f"P{p}-{v}", "inventory_level": 0}
                        for v in range(VARIANTS_PER_PRODUCT)
                    ],
                }
                for p in range(start, min(products, start + 100))
            ]
            admin.post("/bench/products", json={"products": batch}).raise_for_status()

        hub = bootstrap(Settings(home=Path(tmp), database_url=f"sqlite:///{tmp}/hub.db"))
        hub.initialise()
        services.add_store(hub, "bench", inventory_source=InventorySource.BACK_OFFICE)
        services.connect_partner(
            hub,
            "bench",
            role="web",
            kind="bigcommerce",
            settings={"store_hash": "bench", "api_url": url},
            secrets={"access_token": "bench-token"},
        )
        read = services.sync(hub, "bench", (Step.INVENTORY_IN,))
        with hub.engine.begin() as connection:  # the back office now says 7 + id % 40 each
            connection.execute(text("UPDATE stock_levels SET back_office_qty = 7 + id % 40"))

        admin.post("/bench/faults", json={"quota": args.quota, "window_ms": args.window_ms})
        before = admin.get("/bench/counters").json()["calls"]
        started = time.perf_counter()
        report = services.sync(hub, "bench", (Step.INVENTORY_OUT,))
        elapsed = time.perf_counter() - started
        after = admin.get("/bench/counters").json()["calls"]

        def delta(key: str) -> int:
            return int(after.get(key, 0)) - int(before.get(key, 0))

        calls = delta("PUT /v3/inventory/adjustments/absolute")
        throttled = delta("429")
        minimum = math.ceil(args.variants / 2000)
        # n requests span n - 1 gaps: the rate achieved against the rate the quota allows
        quota_rate = args.quota / (args.window_ms / 1000)
        share = (calls + throttled - 1) / elapsed / quota_rate if elapsed else 0.0

        naive = _naive(hub, args.naive_sample)
        per_call = naive["seconds"] / naive["calls"]
        projected_h = args.variants * max(per_call, args.window_ms / 1000 / args.quota) / 3600

    pushed = report.steps["inventory-out"]["changed"]
    print(
        f"BigCommerce push: {args.variants:,} changed variants, quota {args.quota} per "
        f"{args.window_ms / 1000:g} s (sandbox over loopback HTTP)"
    )
    print(f"  catalog read (inventory-in): {read.steps['inventory-in']['changed']:,} variants")
    print(
        f"  batched:  {pushed:,} pushed in {calls} calls (minimum {minimum}, "
        f"{(calls / minimum - 1) * 100:+.1f}%), {throttled} x 429, "
        f"{share * 100:.0f}% of quota used, {elapsed:.1f} s wall"
    )
    print(
        f"  naive:    {naive['calls'] / naive['variants']:.2f} calls per variant on a sample of "
        f"{naive['variants']}; projected {projected_h:.1f} h for {args.variants:,} variants "
        f"at this quota (batched: {elapsed / 60:.1f} min)"
    )
    return 0 if report.status.value == "succeeded" else 1


def _naive(hub: Any, sample: int) -> dict[str, float]:
    """One call per variant, as a peer tool does it, through the same client and limiter."""
    partners = hub.partners_for(1)
    web = partners.web
    started = time.perf_counter()
    for n in range(sample):
        web.push_inventory([StockUpdate(f"P0-{n % VARIANTS_PER_PRODUCT}", 100 + n)])
    return {"calls": sample, "variants": sample, "seconds": time.perf_counter() - started}
