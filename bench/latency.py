"""Event-driven latency through a running hub (`stockbridge serve` in its own process,
both sandboxes on loopback):

- web order -> QuickBooks receipt: an order is created in the BigCommerce sandbox; its
  webhook reaches the hub, which pulls the order and posts it; timed until the QuickBooks
  sandbox holds the receipt;
- back-office change -> storefront: an ERP pushes a quantity to the hub's API (api mode);
  timed until the BigCommerce sandbox shows it (its asynchronous inventory delay set to 0).

    python -m bench latency [--samples 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.checks import Checks
from bench.processes import free_port, wait_until_up
from stockbridge import services
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.demo import connect_sandboxes
from stockbridge.domain.model import InventorySource
from stockbridge.sandbox_server import ServerThread


def _until(check: object, timeout: float = 30.0) -> float:
    started = time.perf_counter()
    while not check():  # type: ignore[operator]
        if time.perf_counter() - started > timeout:
            raise TimeoutError("not reached in time")
        time.sleep(0.005)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench latency")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args(argv)
    bc_sandbox = BigCommerceSandbox(time_scale=0.01)
    bc_sandbox.stores["lat"] = SStore(
        hash="lat", token="t", quota=100_000, async_delay_ms=0, allow_insecure_webhooks=True
    )
    qbo_sandbox = QboSandbox()
    with (
        ServerThread(bc_sandbox.app) as bc,
        ServerThread(qbo_sandbox) as qbo,
        tempfile.TemporaryDirectory() as tmp,
    ):
        skus = [f"L{i}" for i in range(20)]
        httpx.post(
            f"{bc.url}/admin/stores/lat/products",
            json={
                "products": [
                    {"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus
                ]
            },
        ).raise_for_status()
        httpx.post(
            f"{qbo.url}/admin/items", json=[{"sku": s, "qty": 1000} for s in skus]
        ).raise_for_status()
        refresh = httpx.post(f"{qbo.url}/admin/tokens/issue").json()["refresh_token"]
        home = Path(tmp)
        hub = bootstrap(Settings(home=home))
        hub.initialise()
        services.add_store(hub, "lat", inventory_source=InventorySource.API)
        port = free_port()
        connect_sandboxes(
            hub,
            "lat",
            bigcommerce_url=bc.url,
            store_hash="lat",
            access_token="t",
            qbo=qbo_sandbox,
            qbo_url=qbo.url,
            refresh_token=refresh,
            webhook_url=f"http://127.0.0.1:{port}/webhooks/bigcommerce/lat",
        )
        services.sync(hub, "lat")  # catalog and partner ids known, stock in place
        token = services.create_token(hub, "lat", operator=False)
        env = {**os.environ, "STOCKBRIDGE_HOME": tmp}
        env.pop("STOCKBRIDGE_DATABASE_URL", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "stockbridge.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            orders: list[float] = []
            for n in range(args.samples):
                before = qbo_sandbox.counters()["documents"]
                started = time.perf_counter()
                httpx.post(
                    f"{bc.url}/admin/stores/lat/orders",
                    json={"lines": [{"sku": skus[n % 20], "quantity": 1}]},
                ).raise_for_status()
                _until(lambda b=before: qbo_sandbox.counters()["documents"] > b)
                orders.append(time.perf_counter() - started)
            # The storefront as the merchant sees it: the admin view applies the
            # asynchronous inventory writes whose time has come (the in-process
            # ``stock()`` applies none, so a last write waits for another request).
            admin = httpx.Client(base_url=f"{bc.url}/admin/stores/lat")

            def web_stock() -> dict[str, int]:
                shown: dict[str, int] = admin.get("/stock").raise_for_status().json()
                return shown

            pushes: list[float] = []
            api = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            )
            for n in range(args.samples):
                sku, quantity = skus[n % 20], 500 + n
                started = time.perf_counter()
                api.post(
                    "/api/v1/stores/lat/inventory",
                    json={"items": [{"sku": sku, "quantity": quantity}]},
                    headers={"Idempotency-Key": f"lat-{n}"},
                ).raise_for_status()
                _until(lambda s=sku, q=quantity: web_stock().get(s) == q)
                pushes.append(time.perf_counter() - started)
            # let anything still in flight land, then count what the partners hold
            time.sleep(1.0)
            receipts = qbo_sandbox.counters()["receipts_per_doc_number"]
            expected_stock = {skus[n % 20]: 500 + n for n in range(args.samples)}
            stock = web_stock()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)

    def line(name: str, values: list[float]) -> str:
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        return (
            f"  {name}: p50 {statistics.median(values) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms ({len(values)} samples)"
        )

    print("Event-driven latency through stockbridge serve (SQLite), sandboxes on loopback")
    print(line("web order -> QuickBooks receipt (webhook)", orders))
    print(line("ERP push (API) -> storefront stock", pushes))
    checks = Checks("latency")
    checks.equal(len(orders), args.samples, "orders that reached QuickBooks")
    checks.equal(sum(receipts.values()), args.samples, "receipts in the QuickBooks sandbox")
    checks.equal(sum(1 for c in receipts.values() if c > 1), 0, "orders with a second receipt")
    checks.equal(len(pushes), args.samples, "ERP pushes that reached the storefront")
    wrong = sum(1 for sku, quantity in expected_stock.items() if stock.get(sku) != quantity)
    checks.equal(wrong, 0, "SKUs whose storefront stock is not the last one pushed")
    return checks.exit_code()
