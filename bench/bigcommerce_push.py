"""Push every variant of a 1,000,000-variant catalog to the BigCommerce sandbox where the
quota binds (the Standard plan's 150 requests per 30 s, or any ``--quota``/``--window-ms``),
through the real connector and the hub's inventory-out step; beside it, in the same run
and on the same sandbox, a realistic peer measured on a sample that crosses windows.

The sandbox runs in its own process (``stockbridge sandbox bigcommerce``), seeded with
products of 100 variant-tracked variants. The hub is seeded directly with the same SKUs,
each with a back-office quantity and nothing sent to the web yet, so every variant has
changed (reading 1,000,000 variants through inventory-in first would take minutes that
measure nothing here; without the catalog's variant ids the connector addresses items by
SKU, in the same requests of 2,000). Then the quota is set and, after one whole window
has passed (so each measured phase starts on a fresh window), inventory-out pushes the
catalog. Real time: the windows are the sandbox's own, as long as ``--window-ms`` says.

The peer is how an integration without an inventory batch writes stock: the catalog's
variants batch endpoint (``PUT /v3/catalog/variants``, its documented maximum of 50 per
call), one request after another, pacing as the official ``bigcommerce`` Python client
does with ``rate_limiting_management={"min_requests_remaining": 2, "wait": True}`` (when
the requests left in the window fall to 2, sleep until the window resets) and waiting out
a 429 for the time the answer names before trying again.

"Quota-bound minimum" for n requests at q per window W, starting on a fresh window, is
(ceil(n / q) - 1) * W: the last window's requests can go at its start.

The bench checks its result and exits 1 otherwise: every variant pushed once (the
sandbox applied exactly that many items), the storefront's stock equal to the hub's for
every variant, a second inventory-out with nothing changed sending nothing, and the
peer's sample applied whole.

    python -m bench bigcommerce_push [--variants 1000000] [--quota 150] [--window-ms 30000]
        [--peer-sample N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from bench.checks import Checks
from bench.processes import bench_hub, bigcommerce_sandbox
from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.db.models import Variant
from stockbridge.domain.model import Step

VARIANTS_PER_PRODUCT = 100
PUSH_ENDPOINT = "PUT /v3/inventory/adjustments/absolute"
PEER_ENDPOINT = "PUT /v3/catalog/variants"
PEER_BATCH = 50  # the variants batch endpoint's documented maximum
PEER_MIN_LEFT = 2  # the official client's example min_requests_remaining


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench bigcommerce_push")
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--quota", type=int, default=150)
    parser.add_argument("--window-ms", type=int, default=30_000)
    parser.add_argument(
        "--peer-sample",
        type=int,
        default=0,
        help="variants the peer pushes (default: enough for 2 whole windows and more)",
    )
    args = parser.parse_args(argv)
    if not args.peer_sample:
        args.peer_sample = max(10_000, (2 * args.quota + 1) * PEER_BATCH)
    args.peer_sample = min(args.peer_sample, args.variants)

    # The sandbox runs in its own process, as the partner would: the hub and the
    # simulator do not share one interpreter lock.
    with bigcommerce_sandbox() as url:
        return _run(args, url)


@dataclass
class Phase:
    """One measured push: every request the sandbox saw (429s included), those to the
    write endpoint, 429s, and the items the sandbox applied."""

    requests: int
    writes: int
    throttled: int
    items: int
    seconds: float

    def minimum_seconds(self, quota: int, window_s: float) -> float:
        """The quota-bound minimum for the requests that went through."""
        return (math.ceil((self.requests - self.throttled) / quota) - 1) * window_s


def _run(args: argparse.Namespace, url: str) -> int:
    window_s = args.window_ms / 1000
    checks = Checks("bigcommerce_push")
    admin = httpx.Client(base_url=f"{url}/admin/stores/bench", timeout=300)
    variant_ids = _seed(admin, args.variants)
    with tempfile.TemporaryDirectory() as tmp:
        hub = bench_hub(Path(tmp), url)
        _seed_hub(hub, args.variants)
        admin.post("/faults", json={"quota": args.quota, "window_ms": args.window_ms})
        time.sleep(window_s)  # a fresh window for the measured push
        push, report = _measure(admin, hub)
        error = f" ({report.error})" if report.error else ""
        checks.equal(report.status.value, "succeeded", f"inventory-out: run status{error}")
        checks.equal(
            report.steps["inventory-out"]["changed"], args.variants, "inventory-out: pushed"
        )
        checks.equal(push.items, args.variants, "inventory-out: items the sandbox applied")
        stock = admin.get("/stock", params={"settle": "1"}).json()
        expected = _hub_stock(hub)
        wrong = sum(1 for sku, quantity in expected.items() if stock.get(sku) != quantity)
        checks.equal(wrong, 0, f"storefront stock differing from the hub's (of {len(expected):,})")
        again, _ = _measure(admin, hub)
        checks.equal(again.items, 0, "inventory-out again, nothing changed: items sent")
        hub.engine.dispose()

    time.sleep(window_s)  # a fresh window for the peer
    sample = variant_ids[: args.peer_sample]
    peer = _peer(url, admin, sample)
    stock = admin.get("/stock", params={"settle": "1"}).json()
    checks.equal(peer.items, len(sample), "peer: variants the sandbox updated")
    skus = _skus(len(sample))
    wrong = sum(1 for n, sku in enumerate(skus) if stock.get(sku) != _peer_quantity(n))
    checks.equal(wrong, 0, "peer: sample variants with another quantity than it sent")

    _print(args, push, peer)
    return checks.exit_code()


def _seed(admin: httpx.Client, variants: int) -> list[int]:
    """Products of ``VARIANTS_PER_PRODUCT`` variants (the last one fewer); their variant
    ids, in SKU order."""
    ids: list[int] = []
    products = math.ceil(variants / VARIANTS_PER_PRODUCT)
    for start in range(0, products, 100):
        batch = [
            {
                "name": f"Product {p}",
                "sku": f"P{p}",
                "tracking": "variant",
                "variants": [
                    {"sku": f"P{p}-{v}", "inventory_level": 0}
                    for v in range(min(VARIANTS_PER_PRODUCT, variants - p * VARIANTS_PER_PRODUCT))
                ],
            }
            for p in range(start, min(products, start + 100))
        ]
        created = admin.post("/products", json={"products": batch})
        created.raise_for_status()
        ids += [v for product in created.json()["created"] for v in product["variant_ids"]]
    return ids


def _seed_hub(hub: Hub, variants: int) -> None:
    """The catalog's SKUs in the hub, each with a back-office quantity of 7 + id % 40 and
    nothing sent to the web yet (every variant changed)."""
    store_id = services.resolve_store(hub, "bench")
    now = datetime.now(UTC)
    skus = _skus(variants)
    with hub.engine.begin() as connection:
        for start in range(0, variants, 20_000):
            connection.execute(
                insert(Variant),
                [
                    {"store_id": store_id, "sku": sku, "active": True, "updated_at": now}
                    for sku in skus[start : start + 20_000]
                ],
            )
        connection.execute(
            text(
                "INSERT INTO stock_levels (variant_id, location, back_office_qty, updated_at) "
                "SELECT id, 'default', 7 + id % 40, :now FROM variants WHERE store_id = :store"
            ),
            {"now": now.replace(tzinfo=None), "store": store_id},
        )


def _skus(count: int) -> list[str]:
    return [f"P{n // VARIANTS_PER_PRODUCT}-{n % VARIANTS_PER_PRODUCT}" for n in range(count)]


def _hub_stock(hub: Hub) -> dict[str, int]:
    with hub.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT v.sku, s.back_office_qty FROM variants v "
                "JOIN stock_levels s ON s.variant_id = v.id"
            )
        )
        return {str(sku): int(quantity) for sku, quantity in rows}


def _counters(admin: httpx.Client) -> dict[str, int]:
    return {k: int(v) for k, v in admin.get("/counters").json()["calls"].items()}


def _phase(
    before: dict[str, int], after: dict[str, int], endpoint: str, items: str, seconds: float
) -> Phase:
    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    return Phase(delta("requests"), delta(endpoint), delta("429"), delta(items), seconds)


def _measure(admin: httpx.Client, hub: Hub) -> tuple[Phase, Any]:
    before = _counters(admin)
    started = time.perf_counter()
    report = services.sync(hub, "bench", (Step.INVENTORY_OUT,))
    seconds = time.perf_counter() - started
    return _phase(before, _counters(admin), PUSH_ENDPOINT, "items_updated", seconds), report


def _peer_quantity(n: int) -> int:
    return 1000 + n % 37


def _peer(url: str, admin: httpx.Client, variant_ids: list[int]) -> Phase:
    """The peer: variants batch endpoint, 50 a call, paced as the official client paces."""
    before = _counters(admin)
    client = httpx.Client(
        base_url=f"{url}/stores/bench",
        headers={"X-Auth-Token": "bench-token", "Accept": "application/json"},
        timeout=60,
    )
    started = time.perf_counter()
    for start in range(0, len(variant_ids), PEER_BATCH):
        body = [
            {"id": variant_id, "inventory_level": _peer_quantity(start + n)}
            for n, variant_id in enumerate(variant_ids[start : start + PEER_BATCH])
        ]
        while True:
            answer = client.put("/v3/catalog/variants", json=body)
            reset_s = int(answer.headers.get("X-Rate-Limit-Time-Reset-Ms", "0")) / 1000
            if answer.status_code == 429:
                time.sleep(reset_s)
                continue
            answer.raise_for_status()
            if int(answer.headers.get("X-Rate-Limit-Requests-Left", "1000")) <= PEER_MIN_LEFT:
                time.sleep(math.ceil(reset_s))
            break
    seconds = time.perf_counter() - started
    client.close()
    return _phase(before, _counters(admin), PEER_ENDPOINT, "variant_inventory_updates", seconds)


def _print(args: argparse.Namespace, push: Phase, peer: Phase) -> None:
    window_s = args.window_ms / 1000
    quota = args.quota
    push_min = push.minimum_seconds(quota, window_s)
    peer_min = peer.minimum_seconds(quota, window_s)
    sample = args.peer_sample
    print(
        f"BigCommerce push: {args.variants:,} changed variants at a quota of {quota} requests "
        f"per {window_s:g} s (sandbox in its own process, loopback HTTP, real time)"
    )
    print(
        f"  Stockbridge (inventory adjustments, 2,000 a call): {push.items:,} variants in "
        f"{push.requests} requests ({push.writes} writes, minimum "
        f"{math.ceil(args.variants / 2000)}; {push.throttled} x 429), {push.seconds:.1f} s wall "
        "against a "
        f"quota-bound minimum of {push_min:.0f} s ({_ratio(push.seconds, push_min)})"
    )
    print(
        f"  peer, measured (variants batch, {PEER_BATCH} a call, the official client's "
        f"pacing): {peer.items:,} variants in {peer.requests} requests "
        f"({peer.throttled} x 429), {peer.seconds:.1f} s wall against a quota-bound "
        f"minimum of {peer_min:.0f} s ({_ratio(peer.seconds, peer_min)}); "
        f"{peer.requests / max(1, sample):.3f} requests per variant"
    )
    calls = math.ceil(args.variants / sample * (peer.writes - peer.throttled))
    least = (math.ceil(calls / quota) - 1) * window_s
    print(
        f"  peer, projected to {args.variants:,} variants (computed from the measured "
        f"requests per variant, not measured): {calls:,} requests, at least "
        f"{_duration(least)} at this quota; Stockbridge measured {_duration(push.seconds)}"
    )


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _ratio(seconds: float, minimum: float) -> str:
    return "within one window" if minimum <= 0 else f"{seconds / minimum:.2f} x"
