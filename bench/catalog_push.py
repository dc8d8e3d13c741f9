"""The whole catalog to BigCommerce where the quota binds: new back-office items created
on the web store and changed prices sent, through the real connector and the hub's
inventory-out step (its catalog part, ``sync/catalog_out.py``), against the sandbox in its
own process at the Standard plan's 150 requests per 30 s (or any ``--quota`` /
``--window-ms``), in real time.

The sandbox is seeded with ``--prices`` products tracked by product at 1.00. The hub is
seeded directly with the same SKUs (the web reference and the 1.00 the web shows already
recorded, as a web read leaves them, their stock already sent) at a new price each, plus
``--new`` SKUs the web store does not have, each with a name, a price and a back-office
quantity. After one whole window has passed (a fresh window for the measured run), one
inventory-out creates the new products (one ``POST /v3/catalog/products`` each: the
partner creates one product a call), sends the prices (``PUT /v3/catalog/variants``, 50
a call) and pushes the new products' stock (inventory adjustments, 2,000 a call).

"Batch-limit minimum": new + ceil(prices / 50) + ceil(new / 2,000) requests.
"Quota-bound minimum" for n requests at q per window W, starting on a fresh window:
(ceil(n / q) - 1) * W (the last window's requests can go at its start).

The bench checks its result and exits 1 otherwise: every new SKU created exactly once and
hidden (the default), no other product created, every price on the storefront the hub's,
every new product's stock the back office's, 0 x 429, the requests at the batch-limit
minimum, and a second run with nothing changed sending no catalog request.

    python -m bench catalog_push [--new 200] [--prices 10000] [--quota 150]
        [--window-ms 30000]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
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

CREATE = "POST /v3/catalog/products"
PRICES = "PUT /v3/catalog/variants"
STOCK = "PUT /v3/inventory/adjustments/absolute"
VARIANT_BATCH = 50
INVENTORY_BATCH = 2000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench catalog_push")
    parser.add_argument("--new", type=int, default=200, help="new back-office items")
    parser.add_argument("--prices", type=int, default=10_000, help="changed prices")
    parser.add_argument("--quota", type=int, default=150)
    parser.add_argument("--window-ms", type=int, default=30_000)
    args = parser.parse_args(argv)
    with bigcommerce_sandbox() as url:
        return _run(args, url)


@dataclass
class Phase:
    requests: int
    throttled: int
    creates: int
    price_calls: int
    stock_calls: int
    seconds: float


def _price(n: int) -> Decimal:
    return Decimal(2) + Decimal(n % 500) / 100


def _run(args: argparse.Namespace, url: str) -> int:
    window_s = args.window_ms / 1000
    checks = Checks("catalog_push")
    admin = httpx.Client(base_url=f"{url}/admin/stores/bench", timeout=300)
    existing = _seed_web(admin, args.prices)
    with tempfile.TemporaryDirectory() as tmp:
        hub = bench_hub(Path(tmp), url)
        _seed_hub(hub, existing, args.new)
        admin.post("/faults", json={"quota": args.quota, "window_ms": args.window_ms})
        time.sleep(window_s)  # a fresh window for the measured run
        run, report = _measure(admin, hub)
        error = f" ({report.error})" if report.error else ""
        checks.equal(report.status.value, "succeeded", f"run status{error}")
        catalog = admin.get("/catalog").json()
        new_skus = [f"NEW-{n}" for n in range(args.new)]
        checks.equal(run.creates, args.new, "products created (POST)")
        checks.equal(len(catalog), args.prices + args.new, "products in the store")
        checks.equal(
            sum(1 for sku in new_skus if sku in catalog and not catalog[sku]["is_visible"]),
            args.new,
            "new products hidden for review",
        )
        wrong_prices = sum(
            1 for n, sku in enumerate(existing) if Decimal(str(catalog[sku]["price"])) != _price(n)
        )
        checks.equal(
            wrong_prices, 0, f"storefront prices differing from the hub's (of {len(existing):,})"
        )
        stock = admin.get("/stock", params={"settle": "1"}).json()
        wrong_stock = sum(1 for n, sku in enumerate(new_skus) if stock.get(sku) != 5 + n % 20)
        checks.equal(wrong_stock, 0, "new products whose stock is not the back office's")
        checks.equal(run.throttled, 0, "429 answers")
        minimum = (
            args.new
            + math.ceil(args.prices / VARIANT_BATCH)
            + math.ceil(args.new / INVENTORY_BATCH)
        )
        checks.equal(run.requests, minimum, "requests (batch-limit minimum)")
        again, _ = _measure(admin, hub)
        checks.equal(
            again.creates + again.price_calls, 0, "run again, nothing changed: catalog requests"
        )
        hub.engine.dispose()
    _print(args, run, minimum)
    return checks.exit_code()


def _seed_web(admin: httpx.Client, count: int) -> dict[str, tuple[int, int]]:
    """Products tracked by product at 1.00: SKU -> (product id, base variant id)."""
    seeded: dict[str, tuple[int, int]] = {}
    for start in range(0, count, 500):
        batch = [
            {
                "name": f"Product {n}",
                "sku": f"P{n}",
                "tracking": "product",
                "price": "1.00",
                "inventory_level": 3,
            }
            for n in range(start, min(count, start + 500))
        ]
        created = admin.post("/products", json={"products": batch})
        created.raise_for_status()
        for spec, product in zip(batch, created.json()["created"], strict=True):
            seeded[str(spec["sku"])] = (int(product["id"]), int(product["variant_ids"][0]))
    return seeded


def _seed_hub(hub: Hub, existing: dict[str, tuple[int, int]], new: int) -> None:
    """The web's SKUs at new prices (the web's reference, its 1.00 and its stock already
    recorded), and ``new`` SKUs the web lacks, each with a name, a price and stock."""
    store_id = services.resolve_store(hub, "bench")
    connection_id = _web_connection(hub)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {
            "store_id": store_id,
            "sku": sku,
            "name": f"Product {n}",
            "price": _price(n),
            "active": True,
            "back_office_modified_at": now,
            "updated_at": now,
        }
        for n, sku in enumerate(existing)
    ] + [
        {
            "store_id": store_id,
            "sku": f"NEW-{n}",
            "name": f"New item {n}",
            "price": Decimal("4.99") + n % 7,
            "active": True,
            "back_office_modified_at": now,
            "updated_at": now,
        }
        for n in range(new)
    ]
    naive = now.replace(tzinfo=None)
    with hub.engine.begin() as connection:
        for start in range(0, len(rows), 20_000):
            connection.execute(insert(Variant), rows[start : start + 20_000])
        ids: dict[str, int] = dict(
            connection.execute(
                text("SELECT sku, id FROM variants WHERE store_id = :s"), {"s": store_id}
            ).all()
        )
        connection.execute(
            text(
                "INSERT INTO stock_levels (variant_id, location, back_office_qty, updated_at) "
                "SELECT id, 'default', CASE WHEN sku LIKE 'NEW-%' "
                "THEN 5 + CAST(substr(sku, 5) AS INTEGER) % 20 ELSE 3 END, :now "
                "FROM variants WHERE store_id = :store"
            ),
            {"now": naive, "store": store_id},
        )
        links = [
            {
                "c": connection_id,
                "e": "variant",
                "h": ids[sku],
                "p": f"product:{pid}:{vid}",
                "v": None,
            }
            for sku, (pid, vid) in existing.items()
        ] + [
            {"c": connection_id, "e": "price", "h": ids[sku], "p": None, "v": "1.00"}
            for sku in existing
        ]
        connection.execute(
            text(
                "INSERT INTO partner_links (connection_id, entity, hub_id, partner_id, "
                "sent_value, updated_at) VALUES (:c, :e, :h, :p, :v, :now)"
            ),
            [{**link, "now": naive} for link in links],
        )
        connection.execute(  # the web catalog was read (as inventory-in leaves it)
            text(
                "INSERT INTO cursors (connection_id, stream, position, updated_at) "
                "VALUES (:c, 'catalog_read', :now, :now)"
            ),
            {"c": connection_id, "now": naive},
        )
        connection.execute(  # the existing products' stock (3) is what the web has
            text(
                "INSERT INTO partner_links (connection_id, entity, hub_id, sent_value, updated_at) "
                "SELECT :c, 'stock', s.id, '3', :now FROM stock_levels s "
                "JOIN variants v ON v.id = s.variant_id "
                "WHERE v.store_id = :store AND v.sku NOT LIKE 'NEW-%'"
            ),
            {"c": connection_id, "now": naive, "store": store_id},
        )


def _web_connection(hub: Hub) -> int:
    with hub.engine.connect() as connection:
        found = connection.execute(text("SELECT id FROM connections WHERE role = 'web'")).scalar()
    assert found is not None
    return int(found)


def _counters(admin: httpx.Client) -> dict[str, int]:
    return {k: int(v) for k, v in admin.get("/counters").json()["calls"].items()}


def _measure(admin: httpx.Client, hub: Hub) -> tuple[Phase, Any]:
    before = _counters(admin)
    started = time.perf_counter()
    report = services.sync(hub, "bench", (Step.INVENTORY_OUT,))
    seconds = time.perf_counter() - started
    after = _counters(admin)

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    return (
        Phase(delta("requests"), delta("429"), delta(CREATE), delta(PRICES), delta(STOCK), seconds),
        report,
    )


def _print(args: argparse.Namespace, run: Phase, minimum: int) -> None:
    window_s = args.window_ms / 1000
    quota_bound = (math.ceil((run.requests - run.throttled) / args.quota) - 1) * window_s
    ratio = "within one window" if quota_bound <= 0 else f"{run.seconds / quota_bound:.2f} x"
    print(
        f"BigCommerce catalog: {args.new:,} new items and {args.prices:,} changed prices at a "
        f"quota of {args.quota} requests per {window_s:g} s (sandbox in its own process, "
        "loopback HTTP, real time)"
    )
    print(
        f"  {run.requests:,} requests (batch-limit minimum {minimum:,}: {run.creates:,} "
        f"creations, {run.price_calls:,} price batches, {run.stock_calls:,} stock batches), "
        f"{run.throttled} x 429, {run.seconds:.1f} s wall against a quota-bound minimum of "
        f"{quota_bound:.0f} s ({ratio})"
    )
