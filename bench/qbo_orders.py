"""Posting web orders to QuickBooks Online: API calls (batch vs one by one), hub-side
orders per second, and the wall time the documented rate limits would impose.

A fresh SQLite hub takes N web orders in (an in-memory web store) and posts them to the
QuickBooks sandbox over real HTTP on 127.0.0.1, with the sandbox's rate limits and the
client's pacing off so nothing waits. Time spent inside HTTP calls (the sandbox's work
and the loopback) is measured by a timing transport and subtracted: what remains is the
hub's own work (orders-in, batching, bookkeeping, the connector's mapping). On a shared
machine that wall time includes waiting for a core, so the CPU time of the thread that
ran the hub is printed too (the sandbox runs in another thread). One by one is
measured on a sample with ``batch_size`` 1 (the single endpoint) and projected to N.
The wall time at Intuit's limits (10/s, 500/min, 40 batches/min) is computed from the
calls made, not waited out.

The bench checks its result and exits 1 otherwise: both runs succeeded, every order was
taken in, posted and acknowledged once, the sandbox holds exactly one receipt per order
(by DocNumber), and the batch calls are within one of the minimum.

    python -m bench qbo_orders                 # 10,000 orders, a 300-order one-by-one sample
    python -m bench qbo_orders --orders 2000 --sample 100
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.checks import Checks
from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.connectors.qbo import KIND, client, make_back_office
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.connectors.ratelimit import RateLimiter, Window
from stockbridge.domain.model import (
    BatchResult,
    OrderLine,
    Page,
    Step,
    StockUpdate,
    WebOrder,
    WebOrderStatus,
    WebVariant,
)
from stockbridge.retry import RetryPolicy
from stockbridge.sandbox_server import ServerThread

SKUS = 200


class OrderFeed:
    """A web store that only has orders: ``count`` of them, 1-3 lines each. It counts
    the orders the hub read and the ones it acknowledged (status write-back)."""

    max_inventory_batch = 2000

    def __init__(self, count: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        start = datetime(2026, 11, 1, tzinfo=UTC)
        self.orders = [
            WebOrder(
                web_id=str(100_000 + n),
                number=str(100_000 + n),
                status=WebOrderStatus.OPEN,
                modified_at=start + timedelta(seconds=n),
                lines=tuple(
                    OrderLine(f"SKU-{rng.randrange(SKUS):04d}", rng.randint(1, 3), Decimal("9.99"))
                    for _ in range(rng.randint(1, 3))
                ),
                shipping=Decimal("4.95"),
            )
            for n in range(count)
        ]
        self.acknowledged: Counter[str] = Counter()

    def check(self) -> str:
        return "order feed"

    def close(self) -> None:
        pass

    def maintain(self) -> list[str]:
        return []

    def acknowledge_orders(self, web_ids: Sequence[str]) -> BatchResult:
        self.acknowledged.update(web_ids)
        return BatchResult()

    def iter_orders(self, since: datetime | None) -> Iterator[Page[WebOrder]]:
        for start in range(0, len(self.orders), 250):
            page = tuple(self.orders[start : start + 250])
            yield Page(page, cursor=page[-1].modified_at)

    def iter_catalog(self, since: datetime | None) -> Iterator[Page[WebVariant]]:
        return iter(())

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        return BatchResult()


class TimingTransport(httpx.BaseTransport):
    """Adds up the time spent in HTTP calls (request out, answer read)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seconds = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = self.inner.handle_request(request)
        response.read()
        self.seconds += time.perf_counter() - started
        return response


def run(orders: int, batch_size: int) -> dict[str, Any]:
    sandbox = QboSandbox()
    sandbox.limits.enabled = False
    for n in range(SKUS):
        sandbox.books.add_item({"sku": f"SKU-{n:04d}", "qty": 1_000_000, "price": "9.99"})
    timing = TimingTransport()
    feed = OrderFeed(orders)
    with ServerThread(sandbox) as server, tempfile.TemporaryDirectory() as tmp:
        registry = default_registry()
        registry.register("bench-web", lambda _env: feed)
        registry.register(
            KIND, lambda env: make_back_office(dataclasses.replace(env, transport=timing))
        )
        hub = bootstrap(
            Settings(home=Path(tmp), lease_seconds=600),
            registry=registry,
            retry=RetryPolicy(attempts=3, base_delay=0.05),
        )
        hub.initialise()
        realm = sandbox.books.realm_id
        hub.limiters.get(f"qbo:{realm}", RateLimiter)  # no client-side waiting
        hub.limiters.get(f"qbo-batch:{realm}", RateLimiter)
        _connect(hub, sandbox, server.url, batch_size)
        started, cpu_started = time.perf_counter(), time.thread_time()
        report = services.sync(hub, "shop", (Step.ORDERS_IN, Step.ORDERS_OUT))
        wall = time.perf_counter() - started
        hub_cpu = time.thread_time() - cpu_started  # this thread's: not the sandbox's
        hub.engine.dispose()
    counters = sandbox.counters()
    calls = sum(counters["calls"].values())
    receipts = counters["receipts_per_doc_number"]
    return {
        "orders": orders,
        "status": report.status.value,
        "error": report.error,
        "taken_in": report.steps.get("orders-in", {}).get("changed", 0),
        "posted": report.steps.get("orders-out", {}).get("changed", 0),
        "acknowledged": len(feed.acknowledged),
        "acknowledged_twice": sum(1 for c in feed.acknowledged.values() if c > 1),
        "receipts": sum(receipts.values()),
        "doc_numbers": sorted(receipts),
        "order_numbers": sorted(o.number for o in feed.orders),
        "duplicates": sum(1 for c in receipts.values() if c > 1),
        "calls": calls,
        "calls_by_endpoint": counters["calls"],
        "wall_s": wall,
        "partner_s": timing.seconds,
        "hub_s": wall - timing.seconds,
        "hub_cpu_s": hub_cpu,
    }


def _connect(hub: Hub, sandbox: QboSandbox, url: str, batch_size: int) -> None:
    services.add_store(hub, "shop")
    with hub.uow() as uow:
        store_id = services.resolve_store(hub, "shop")
        uow.stores.connect(store_id, role="web", kind="bench-web", settings={}, credentials=None)
        uow.commit()
    services.connect_partner(
        hub,
        "shop",
        role="back_office",
        kind=KIND,
        settings={
            "realm_id": sandbox.books.realm_id,
            "api_url": url,
            "token_url": f"{url}/oauth2/v1/tokens/bearer",
            "batch_size": batch_size,
        },
        secrets={
            "client_id": sandbox.books.client_id,
            "client_secret": sandbox.books.client_secret,
            "refresh_token": sandbox.books.issue_refresh_token(),
        },
    )


def at_limits(calls: int, batch_calls: int, windows: tuple[Window, Window, Window]) -> float:
    """Seconds these (per second, per minute, batches per minute) windows impose, at best."""
    second, minute, batches = windows
    return max(
        calls / second.requests * second.seconds,
        calls / minute.requests * minute.seconds,
        batch_calls / batches.requests * batches.seconds,
    )


DOCUMENTED = (Window(10, 1.0), Window(500, 60.0), Window(40, 60.0))
PACED = (client.PER_SECOND, client.PER_MINUTE, client.BATCHES_PER_MINUTE)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench qbo_orders")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=300, help="one-by-one sample size")
    args = parser.parse_args(argv)
    n = args.orders
    batch = run(n, 30)
    single = run(args.sample, 1)
    minimum = math.ceil(n / 30)
    batch_calls = batch["calls_by_endpoint"].get("batch", 0)
    # one by one: the per-order calls scale with N, the set-up calls (token, look-ups) do not
    per_order = single["calls_by_endpoint"].get("salesreceipt", 0) / single["orders"]
    single_projected = round(single["calls"] - per_order * single["orders"] + per_order * n)
    hub_rate = n / batch["hub_s"]
    print(f"QuickBooks Online orders-out: {n:,} web orders, sandbox over loopback HTTP")
    print(
        f"  batch (30/call): {batch['calls']} API calls ({batch_calls} batch calls; minimum "
        f"{minimum}, {100 * (batch['calls'] - minimum) / minimum:+.1f}%) — "
        f"{batch['calls_by_endpoint']}"
    )
    print(
        f"  one by one: {single['calls']} calls for a {single['orders']}-order sample "
        f"({per_order:.3f} receipt calls/order) -> {single_projected:,} calls projected for {n:,}"
    )
    print(
        f"  receipts created: {batch['receipts']:,} (duplicates {batch['duplicates']}); "
        f"run {batch['status']}"
    )
    print(
        f"  wall {batch['wall_s']:.2f} s, of which in HTTP calls {batch['partner_s']:.2f} s; "
        f"hub side {batch['hub_s']:.2f} s = {hub_rate:,.0f} orders/s (orders-in + orders-out)"
    )
    print(
        f"  CPU time of the hub's thread (the run's own; not the sandbox's, not waits for "
        f"a core): {batch['hub_cpu_s']:.2f} s = {n / batch['hub_cpu_s']:,.0f} orders per "
        "CPU-second"
    )
    for label, windows in (("Intuit's limits", DOCUMENTED), ("the client's pacing", PACED)):
        print(
            f"  at {label} (projected, not waited): batch "
            f"{at_limits(batch['calls'], batch_calls, windows) / 60:.1f} min; one by one "
            f"{at_limits(single_projected, 0, windows) / 60:.1f} min"
        )
    checks = Checks("qbo_orders")
    for label, result in (("batch", batch), ("one by one", single)):
        check(checks, label, result)
    checks.expect(
        batch_calls <= minimum + 1,
        f"batch calls {batch_calls} within one of the minimum {minimum}",
    )
    return checks.exit_code()


def check(checks: Checks, label: str, result: dict[str, Any]) -> None:
    """Every order taken in, posted once, and acknowledged once; the run succeeded."""
    orders = result["orders"]
    error = f" ({result['error']})" if result["error"] else ""
    checks.equal(result["status"], "succeeded", f"{label}: run status{error}")
    checks.equal(result["taken_in"], orders, f"{label}: orders taken in")
    checks.equal(result["posted"], orders, f"{label}: orders posted")
    checks.equal(result["receipts"], orders, f"{label}: receipts in the sandbox")
    checks.equal(
        result["doc_numbers"] == result["order_numbers"], True, f"{label}: a receipt per order"
    )
    checks.equal(result["duplicates"], 0, f"{label}: DocNumbers with more than one receipt")
    checks.equal(result["acknowledged"], orders, f"{label}: orders acknowledged to the web store")
    checks.equal(result["acknowledged_twice"], 0, f"{label}: orders acknowledged twice")
