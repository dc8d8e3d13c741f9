"""orders-in from BigCommerce where the quota binds: N new orders read by the real
connector through a fresh SQLite hub, the BigCommerce sandbox on loopback enforcing the
Standard plan's 150 requests per 30 s in real time.

The order list brings each order's lines (``include=consignments.line_items``,
``consignment_structure=object``), 250 orders a call; ``/v2/orders/{id}/products`` is
read only for an order the list could not bring whole (``--big-orders``: orders of 60
lines, past the 50 a consignment includes). The orders mix shipping, pickup and digital
consignments. Before issue 31 every order cost one more call (its ``/products``): that
figure is computed here (list calls + one per order, at the quota's best), not measured.

The orders' modification times are spread one second apart (a busy store's backlog: 10,000
orders over 2.8 hours). The list is re-opened at the last modification time after each
full page (``BoundaryPaginator``: an order modified while we page cannot hide another), so
each page after the first brings again the orders of that one instant: one here. Orders
made faster than the timestamps' one-second resolution would be read again by the
hundred (a test harness creating 170 a second saw 51 lists for 10,000).

Checks: every order taken in once with every line; list calls at most ceil(N / 249) + 1
(pages of 250 less the one order read again at each boundary, and the page that ends
them); line calls only for the big orders (ceil(60 / 50) each); 0 x 429.

    python -m bench orders_in                 # 10,000 orders
    python -m bench orders_in --orders 500    # the smoke's size
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.checks import Checks
from stockbridge import services
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.db.models import Order, OrderLineRow
from stockbridge.domain.model import Step
from stockbridge.sandbox_server import ServerThread

PAGE = 250
INCLUDED_LINES = 50
BIG_LINES = 60


def seed(url: str, orders: int, big: int) -> int:
    """``orders`` orders (1-3 lines; every ``orders // big``-th one of 60 lines); returns
    the lines placed."""
    lines_placed = 0
    every = orders // big if big else 0
    with httpx.Client(base_url=f"{url}/admin/stores/std", timeout=30) as admin:
        admin.post(
            "/products",
            json={
                "products": [
                    {
                        "name": f"P{n}",
                        "sku": f"P{n}",
                        "tracking": "product",
                        "inventory_level": 10**6,
                    }
                    for n in range(BIG_LINES)
                ]
            },
        ).raise_for_status()
        for n in range(orders):
            count = BIG_LINES if every and n % every == every - 1 else 1 + n % 3
            body = {
                "lines": [{"sku": f"P{k}", "quantity": 1 + k % 2} for k in range(count)],
                "fulfilment": ("shipping", "pickup", "digital")[n % 3],
            }
            admin.post("/orders", json=body).raise_for_status()
            lines_placed += count
    return lines_placed


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench orders_in")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--big-orders", type=int, default=10)
    parser.add_argument("--quota", type=int, default=150)
    parser.add_argument("--window-ms", type=int, default=30_000)
    args = parser.parse_args(list(argv))
    checks = Checks("orders_in")
    sandbox = BigCommerceSandbox()
    server = ServerThread(sandbox.app).start()
    try:
        httpx.post(
            f"{server.url}/admin/stores",
            json={
                "store_hash": "std",
                "access_token": "token-std",
                "quota": args.quota,
                "window_ms": args.window_ms,
                "async_delay_ms": 0,
            },
        ).raise_for_status()
        placed = seed(server.url, args.orders, args.big_orders)
        start = datetime(2026, 12, 1, tzinfo=UTC)
        for n, order in enumerate(
            sorted(sandbox.stores["std"].orders.values(), key=lambda o: o.id)
        ):
            order.date_modified = start + timedelta(seconds=n)
        with tempfile.TemporaryDirectory() as tmp:
            hub = bootstrap(Settings(home=Path(tmp) / "home", outbound_allow="loopback"))
            hub.initialise()
            services.add_store(hub, "shop")
            services.connect_partner(
                hub,
                "shop",
                role="web",
                kind="bigcommerce",
                settings={"store_hash": "std", "api_url": server.url},
                secrets={"access_token": "token-std"},
            )
            time.sleep(args.window_ms / 1000)  # start on a fresh window
            before = dict(sandbox.stores["std"].counters)
            clock = time.monotonic()
            report = services.sync(hub, "shop", (Step.ORDERS_IN,))
            wall = time.monotonic() - clock
            after = dict(sandbox.stores["std"].counters)
            with hub.uow() as uow:
                taken = uow.session.scalar(select(func.count()).select_from(Order)) or 0
                lines = uow.session.scalar(select(func.count()).select_from(OrderLineRow)) or 0
            hub.engine.dispose()
    finally:
        server.stop()
        sandbox.close()

    def calls(endpoint: str) -> int:
        return int(after.get(endpoint, 0) - before.get(endpoint, 0))

    list_calls = calls("GET /v2/orders")
    line_calls = calls("GET /v2/orders/{id}/products")
    throttled = calls("429")
    total = calls("requests")
    pages = math.ceil(args.orders / (PAGE - 1))
    big_calls = args.big_orders * math.ceil(BIG_LINES / INCLUDED_LINES)
    usable = args.quota - 1
    window = args.window_ms / 1000
    before_31 = (
        math.ceil(args.orders / PAGE) + 1 + args.orders
    )  # one /products call an order (plus a cut order's)
    print(
        f"orders-in, {args.orders:,} new orders ({args.big_orders} of {BIG_LINES} lines), "
        f"quota {args.quota} / {window:g} s, real time"
    )
    print(
        f"  measured: {total:,} requests ({list_calls} order lists, {line_calls} line "
        f"reads), {throttled} x 429, {wall:.1f} s wall; run {report.status}"
    )
    print(
        f"  quota-bound minimum for {total} requests: "
        f"{max(0, math.ceil(total / usable) - 1) * window:.0f} s"
    )
    print(
        f"  before issue 31 (computed, not measured): {before_31:,} requests, at least "
        f"{(math.ceil(before_31 / usable) - 1) * window / 60:.1f} min at this quota"
    )
    checks.equal(report.status.value, "succeeded", "the run succeeded")
    checks.equal(taken, args.orders, "orders taken in")
    checks.equal(lines, placed, "lines taken in")
    checks.expect(list_calls <= pages + 1, f"order lists {list_calls} <= {pages + 1}")
    checks.equal(line_calls, big_calls, "line reads (only the orders cut at 50 lines)")
    checks.equal(throttled, 0, "429s")
    return checks.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
