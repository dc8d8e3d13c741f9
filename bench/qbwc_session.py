"""QuickBooks Desktop through the Web Connector: orders posted and items read per session,
and the SOAP round trips they took against the minimum the message-set sizes allow.

A fresh SQLite hub runs as a service on 127.0.0.1 (the /qbwc endpoint, the worker); an
in-memory web store has N orders (1-3 lines each); the simulated QuickBooks Desktop
company has M inventory items. The orders are taken in (a Sync All); then one Web
Connector session, driven over real HTTP by the simulated Web Connector, posts them as
sales receipts (``--batch`` per request) and reads every item (``--page`` per iterator
chunk). Minimum round trips:
ceil(N / batch) adds + ceil(M / page) item chunks. A second session finds nothing to post
and reads nothing changed. Then a session signs in, is handed a request and goes away
(the PC slept): once the run its sign-in queued is over, the manual Sync All is timed
against the same sync on a quiet store (the goal: no cost; before the mailbox it waited
for the session's 300 s timeout). ``--answerers 2``: two services (each its own hub,
engine, worker and app) on the one database answer the Web Connector's calls in turn.

The bench checks its result and exits 1 otherwise: one receipt per order in the company,
no order left unposted, every item in the hub with QuickBooks' quantity less what the
orders took, the round trips equal to the minimum, the second session posting nothing.

    python -m bench qbwc_session                          # 1,000 orders, 10,000 items
    python -m bench qbwc_session --orders 100 --items 500
    python -m bench qbwc_session --answerers 2
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.checks import Checks
from bench.qbo_orders import SKUS, OrderFeed
from stockbridge import services
from stockbridge.bootstrap import bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, WebConnector
from stockbridge.runtime import Service
from stockbridge.sandbox_server import ServerThread
from stockbridge.services import qbwc as qbwc_service


def run(orders: int, items: int, batch: int, page: int, answerers: int) -> dict[str, Any]:
    feed = OrderFeed(orders)
    registry = default_registry()
    registry.register("bench-web", lambda _env: feed)
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        settings = Settings(home=Path(tmp) / "home")
        hub = bootstrap(settings, registry=registry)
        hub.initialise()
        # ``answerers`` services on the one database, each with its own hub (engine,
        # worker, app): the Web Connector's calls go to them in turn, as behind a
        # round-robin load balancer; none shares memory with another.
        hubs = [hub] + [bootstrap(settings, registry=registry) for _ in range(answerers - 1)]
        running = [Service(h, tick_seconds=0.5).start() for h in hubs]
        servers = [ServerThread(service.app).start() for service in running]
        try:
            services.add_store(hub, "shop")
            services.connect_partner(
                hub, "shop", role="web", kind="bench-web", settings={}, secrets={}
            )
            connected = qbwc_service.connect_qbwc(
                hub, "shop", flavour="desktop", app_url=f"{servers[0].url}/qbwc", batch_size=batch
            )
            with hub.uow() as uow:
                store = uow.stores.by_name("shop")
                assert store is not None
                connection = uow.stores.connection(store.id, "back_office")
                assert connection is not None
                connection.settings = {**connection.settings, "page_size": page}
                uow.commit()
            company = DesktopCompany()
            for n in range(items):
                company.add_item(f"SKU-{n:04d}", 1000)
            assert connected.password is not None
            urls = [f"{server.url}/qbwc" for server in servers]
            wc = WebConnector(
                urls[0], connected.user_name, connected.password, company, also=urls[1:]
            )
            services.sync(hub, "shop")  # the web orders in (a webhook or schedule does it)
            started = time.perf_counter()
            first = wc.session()
            seconds = time.perf_counter() - started
            _settle(hub)
            by_type = dict(company.documents_by_request)
            second = wc.session()
            _settle(hub)
            with hub.uow() as uow:
                uow.read_only()
                waiting = uow.orders.count_to_post(store.id)
                stock = {row[0]: row[2] for row in uow.catalog.iter_back_office_state(store.id)}
            # What a vanished session costs a manual sync: the same Sync All timed after a
            # quiet store and right after a session that signed in, was handed a request
            # and went away (the PC slept).
            started = time.perf_counter()
            services.sync(hub, "shop")
            baseline = time.perf_counter() - started
            vanished = wc.session(drop_after=1)
            # The run its sign-in queued (web orders in, stock out: seconds, no PC in it)
            # goes first, as after any session; then the vanished session holds nothing.
            _settle(hub)
            started = time.perf_counter()
            services.sync(hub, "shop")
            after_vanish = time.perf_counter() - started
            sold: dict[str, int] = {}
            for order in feed.orders:
                for line in order.lines:
                    sold[line.sku] = sold.get(line.sku, 0) + line.quantity
            return {
                "first": first,
                "second": second,
                "seconds": seconds,
                "by_type": by_type,
                "after_second": dict(company.documents_by_request),
                "receipts": company.receipts_by_ref(),
                "waiting": waiting,
                "stock": stock,
                "expected_stock": {
                    f"SKU-{n:04d}": 1000 - sold.get(f"SKU-{n:04d}", 0) for n in range(items)
                },
                "vanished": vanished,
                "sync_seconds": baseline,
                "sync_after_vanish_seconds": after_vanish,
            }
        finally:
            for server in servers:
                server.stop()
            for service in running:
                service.stop()
            for each in hubs:
                each.engine.dispose()


def _settle(hub: Any) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if all(r.status.finished for r in services.run_history(hub, "shop", limit=20)):
            return
        time.sleep(0.05)
    raise RuntimeError("runs did not finish")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench qbwc_session")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=25, help="sales receipts per request")
    parser.add_argument("--page", type=int, default=500, help="items per iterator chunk")
    parser.add_argument(
        "--answerers",
        type=int,
        default=1,
        choices=(1, 2),
        help="services answering the Web Connector's calls in turn",
    )
    args = parser.parse_args(argv)
    if args.items < SKUS:
        parser.error(f"--items must be at least {SKUS} (the orders' SKUs)")
    result = run(args.orders, args.items, args.batch, args.page, args.answerers)
    adds = result["by_type"].get("SalesReceiptAddRq", 0)
    reads = result["by_type"].get("ItemInventoryQueryRq", 0)
    min_adds = math.ceil(args.orders / args.batch)
    min_reads = math.ceil(args.items / args.page)
    first = result["first"]
    print(
        f"qbwc_session: {args.orders} orders posted and {args.items} items read in one "
        f"session: {first.requests} round trips ({adds} adds, minimum {min_adds}; {reads} "
        f"item chunks, minimum {min_reads}), {result['seconds']:.1f} s"
    )
    print(
        f"  per 1,000 orders: {adds * 1000 / max(1, args.orders):.0f} round trips "
        f"(minimum {math.ceil(1000 / args.batch)}); per 10,000 items: "
        f"{reads * 10_000 / max(1, args.items):.0f} (minimum {math.ceil(10_000 / args.page)})"
    )
    after, quiet = result["sync_after_vanish_seconds"], result["sync_seconds"]
    print(
        f"  the manual Sync All right after a vanished session: {after:.2f} s (on a quiet "
        f"store: {quiet:.2f} s; cost of the vanished session {max(0.0, after - quiet):.2f} s); "
        f"{args.answerers} service(s) answering in turn"
    )
    checks = Checks("qbwc_session")
    checks.equal(result["vanished"].dropped, True, "the vanishing session went away")
    checks.equal(after - quiet < 1.0, True, "a vanished session costs the next sync under 1 s")
    checks.equal(first.percents[-1] if first.percents else None, 100, "the session completed")
    checks.equal(len(result["receipts"]), args.orders, "receipts in the company")
    checks.equal(sorted(set(result["receipts"].values())), [1], "receipts per order (no duplicate)")
    checks.equal(result["waiting"], 0, "orders left unposted")
    checks.equal(adds, min_adds, "SalesReceiptAdd round trips")
    checks.equal(reads, min_reads, "ItemInventoryQuery round trips")
    checks.equal(first.requests, min_adds + min_reads, "round trips in the session")
    expected = result["expected_stock"]
    wrong = [sku for sku in expected if result["stock"].get(sku) != expected[sku]]
    checks.equal(len(result["stock"]), len(expected), "items in the hub")
    checks.equal(wrong[:5], [], "items whose hub stock is not QuickBooks' less what was sold")
    second_adds = result["after_second"].get("SalesReceiptAddRq", 0) - adds
    checks.equal(second_adds, 0, "receipts added by the second session")
    return checks.exit_code()
