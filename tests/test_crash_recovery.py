"""kill -9 of `stockbridge serve` while runs are queued and events sit in the inbox: after a
restart every run completes and every web order reaches QuickBooks exactly once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stockbridge import services
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.demo import connect_sandboxes
from stockbridge.sandbox_server import ServerThread
from tests.service_helpers import wait_for

ORDERS = 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STOCKBRIDGE_HOME": str(home)}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "stockbridge.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _up(port), timeout=30, what="serve to start")
    return process


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_sigkill_with_queued_runs_and_inbox_then_restart(tmp_path: Path) -> None:
    bc_sandbox = BigCommerceSandbox(time_scale=0.001)
    bc_sandbox.stores["crash"] = SStore(
        hash="crash", token="t", quota=100_000, async_delay_ms=0, allow_insecure_webhooks=True
    )
    qbo_sandbox = QboSandbox()
    qbo_sandbox.limits.enabled = False
    with ServerThread(bc_sandbox.app) as bc, ServerThread(qbo_sandbox) as qbo:
        skus = [f"K{i}" for i in range(10)]
        httpx.post(
            f"{bc.url}/admin/stores/crash/products",
            json={
                "products": [
                    {"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus
                ]
            },
        ).raise_for_status()
        httpx.post(
            f"{qbo.url}/admin/items", json=[{"sku": s, "qty": 500} for s in skus]
        ).raise_for_status()
        refresh = httpx.post(f"{qbo.url}/admin/tokens/issue").json()["refresh_token"]

        home = tmp_path / "home"
        hub = bootstrap(Settings(home=home))
        hub.initialise()
        services.add_store(hub, "shop")
        port = free_port()
        connect_sandboxes(
            hub,
            "shop",
            bigcommerce_url=bc.url,
            store_hash="crash",
            access_token="t",
            qbo=qbo_sandbox,
            qbo_url=qbo.url,
            refresh_token=refresh,
            webhook_url=f"http://127.0.0.1:{port}/webhooks/bigcommerce/shop",
            qbo_settings={"batch_size": 5},
        )
        token = services.create_token(hub, "shop", operator=False)
        # Slow QuickBooks down so the kill lands while work is in flight.
        httpx.post(
            f"{qbo.url}/admin/faults",
            json={"plan": [{"path": "*", "kind": "latency", "seconds": 0.3, "times": 10_000}]},
        ).raise_for_status()

        first = serve(home, port)
        for n in range(ORDERS):
            httpx.post(
                f"{bc.url}/admin/stores/crash/orders",
                json={"lines": [{"sku": skus[n % 10], "quantity": 1}]},
            ).raise_for_status()
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.post("/api/v1/stores/shop/sync", json={"steps": "all"}).status_code == 202
        wait_for(lambda: bc_sandbox.deliveries["ok"] >= 10, what="webhooks delivered")
        time.sleep(1.0)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        with hub.uow() as uow:
            unfinished = len(uow.runs.unfinished())
            pending = uow.inbox.depth()
        posted_before = qbo_sandbox.counters()["documents"]
        assert unfinished + pending > 0, "the kill came after all work was done; nothing tested"
        assert posted_before < ORDERS

        httpx.post(f"{qbo.url}/admin/faults", json={"plan": []}).raise_for_status()
        second = serve(home, port)
        try:

            def settled() -> bool:
                with hub.uow() as uow:
                    idle = not uow.runs.unfinished() and uow.inbox.depth() == 0
                return idle and qbo_sandbox.counters()["documents"] >= ORDERS

            wait_for(settled, timeout=90, what="all work finished after restart")
            time.sleep(1.0)  # anything still arriving would show as a double below
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        counters = qbo_sandbox.counters()
        receipts = counters["receipts_per_doc_number"]
        assert counters["documents"] == ORDERS
        assert len(receipts) == ORDERS and set(receipts.values()) == {1}
        with hub.uow() as uow:
            runs = uow.runs.history(None, limit=500)
            assert all(r.status in ("succeeded", "partial", "failed", "interrupted") for r in runs)
            # a run the kill interrupted is marked so, and a later run resumed its steps
            assert all(r.resumed_by is not None for r in runs if r.status == "interrupted")
        api.close()
        hub.engine.dispose()


def test_a_bigcommerce_order_reaches_quickbooks_by_webhook_alone(tmp_path: Path) -> None:
    """No manual sync, no schedule: the sandbox's webhook is the only trigger."""
    bc_sandbox = BigCommerceSandbox(time_scale=0.001)
    bc_sandbox.stores["hook"] = SStore(
        hash="hook", token="t", quota=100_000, async_delay_ms=0, allow_insecure_webhooks=True
    )
    qbo_sandbox = QboSandbox()
    qbo_sandbox.limits.enabled = False
    with ServerThread(bc_sandbox.app) as bc, ServerThread(qbo_sandbox) as qbo:
        httpx.post(
            f"{bc.url}/admin/stores/hook/products",
            json={
                "products": [
                    {"name": "Mug", "sku": "MUG", "tracking": "product", "inventory_level": 5}
                ]
            },
        ).raise_for_status()
        httpx.post(f"{qbo.url}/admin/items", json=[{"sku": "MUG", "qty": 5}]).raise_for_status()
        refresh = httpx.post(f"{qbo.url}/admin/tokens/issue").json()["refresh_token"]
        home = tmp_path / "home"
        hub = bootstrap(Settings(home=home))
        hub.initialise()
        services.add_store(hub, "shop")
        services.set_schedule(hub, "shop", off=True)  # nothing but the webhook may run
        port = free_port()
        connect_sandboxes(
            hub,
            "shop",
            bigcommerce_url=bc.url,
            store_hash="hook",
            access_token="t",
            qbo=qbo_sandbox,
            qbo_url=qbo.url,
            refresh_token=refresh,
            webhook_url=f"http://127.0.0.1:{port}/webhooks/bigcommerce/shop",
        )
        server = serve(home, port)
        try:
            order = httpx.post(
                f"{bc.url}/admin/stores/hook/orders",
                json={"lines": [{"sku": "MUG", "quantity": 2}]},
            ).json()
            wait_for(
                lambda: qbo_sandbox.counters()["documents"] == 1,
                timeout=30,
                what="receipt created from the webhook",
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
        assert qbo_sandbox.counters()["receipts_per_doc_number"] == {str(order["id"]): 1}
        with hub.uow() as uow:
            assert {r.trigger for r in uow.runs.history(None)} == {"webhook"}
        hub.engine.dispose()
