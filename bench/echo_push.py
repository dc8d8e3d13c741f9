"""What one large push costs afterwards with webhooks on (issue 35): a Sync All pushes N
changed SKUs to the BigCommerce sandbox, which fires an inventory webhook for every
product written (as BigCommerce does for API writes); then the hub is left to react until
it is quiet. Counted: the runs those webhooks start, the partner calls and the database
time they cost, and what the inbox made of the events.

The hub runs in this process (``serve``'s Service: worker threads, inbox, HTTP on
loopback), with QuickBooks Online's sandbox as the back office (limits off) and SQLite.
Database time is the sum of statement times on the hub's engine (the webhook writer's
driver-level inserts are not in it: they are the same before and after).

    python -m bench echo_push [--skus 10000]

Written to run on the code before issue 35 too (``PYTHONPATH=<old>/src``): what it
cannot find there it reports as "-".
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from bench.checks import Checks
from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.demo import connect_sandboxes
from stockbridge.domain.model import InventorySource
from stockbridge.runtime import Service
from stockbridge.sandbox_server import ServerThread

STORE = "echo"


class DbClock:
    """Statement time on one engine, summed across threads."""

    def __init__(self, engine: Any) -> None:
        self.lock = threading.Lock()
        self.total = 0.0
        self.statements = 0
        self.local = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self.local.started = time.perf_counter()

    def _after(self, *_args: Any) -> None:
        spent = time.perf_counter() - getattr(self.local, "started", time.perf_counter())
        with self.lock:
            self.total += spent
            self.statements += 1

    def take(self) -> tuple[float, int]:
        with self.lock:
            taken = (self.total, self.statements)
            self.total, self.statements = 0.0, 0
            return taken


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench echo_push")
    parser.add_argument("--skus", type=int, default=10_000)
    args = parser.parse_args(argv)
    n = args.skus
    bc_sandbox = BigCommerceSandbox(time_scale=0.001)
    bc_sandbox.stores[STORE] = SStore(
        hash=STORE, token="t", quota=10_000_000, async_delay_ms=0, allow_insecure_webhooks=True
    )
    qbo_sandbox = QboSandbox()
    qbo_sandbox.limits.enabled = False
    skus = [f"E{i:06}" for i in range(n)]
    with (
        ServerThread(bc_sandbox.app) as bc,
        ServerThread(qbo_sandbox) as qbo,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for start in range(0, n, 500):
            httpx.post(
                f"{bc.url}/admin/stores/{STORE}/products",
                json={
                    "products": [
                        {"name": s, "sku": s, "tracking": "product", "inventory_level": 0}
                        for s in skus[start : start + 500]
                    ]
                },
                timeout=60,
            ).raise_for_status()
        httpx.post(
            f"{qbo.url}/admin/items",
            json=[{"sku": s, "qty": 1 + i % 50} for i, s in enumerate(skus)],
            timeout=120,
        ).raise_for_status()
        refresh = httpx.post(f"{qbo.url}/admin/tokens/issue").json()["refresh_token"]
        hub = bootstrap(Settings(home=Path(tmp)))
        hub.initialise()
        services.add_store(hub, STORE, inventory_source=InventorySource.BACK_OFFICE)
        service = Service(hub, tick_seconds=0.5).start()
        server = ServerThread(service.app).start()
        try:
            connect_sandboxes(
                hub,
                STORE,
                bigcommerce_url=bc.url,
                store_hash=STORE,
                access_token="t",
                qbo=qbo_sandbox,
                qbo_url=qbo.url,
                refresh_token=refresh,
                webhook_url=f"{server.url}/webhooks/bigcommerce/{STORE}",
            )
            clock = DbClock(hub.engine)
            store = bc_sandbox.stores[STORE]
            calls = _calls(store, qbo_sandbox)
            started = time.perf_counter()
            services.sync(hub, STORE)  # the Sync All: pushes every SKU
            push_seconds = time.perf_counter() - started
            push_db, push_statements = clock.take()
            push_calls = _diff(_calls(store, qbo_sandbox), calls)
            calls = _calls(store, qbo_sandbox)
            runs_before = len(services.run_history(hub, STORE, 1000))
            settle = time.perf_counter()
            _until_quiet(hub, bc_sandbox, n)
            after_seconds = time.perf_counter() - settle
            after_db, after_statements = clock.take()
            after_calls = _diff(_calls(store, qbo_sandbox), calls)
            runs_after = len(services.run_history(hub, STORE, 1000)) - runs_before
            outcomes = _outcomes(hub)
            expected = {s: 1 + i % 50 for i, s in enumerate(skus)}
            store.settle(everything=True)
            shown = store.stock()
            wrong = sum(1 for s, q in expected.items() if shown.get(s) != q)
            with hub.uow() as uow:
                pending = uow.inbox.depth()
        finally:
            server.stop()
            service.stop()
            bc_sandbox.close()
    print(f"echo push: {n} SKUs pushed by one Sync All, webhooks on")
    print(
        f"  the Sync All: {push_seconds:.1f} s, partner calls {push_calls}, "
        f"database {push_db:.2f} s in {push_statements} statements"
    )
    print(
        f"  afterwards ({after_seconds:.1f} s until quiet): runs started {runs_after}, "
        f"partner calls {after_calls}, database {after_db:.2f} s in {after_statements} "
        "statements"
    )
    print(f"  inventory events: {outcomes if outcomes is not None else '-'}")
    checks = Checks("echo_push")
    checks.equal(wrong, 0, f"SKUs whose storefront stock is not the back office's (of {n})")
    checks.equal(pending, 0, "webhook events left unprocessed")
    checks.expect(bc_sandbox.deliveries["ok"] >= n, "every pushed product's webhook delivered")
    return checks.exit_code()


def _calls(store: SStore, qbo: QboSandbox) -> dict[str, int]:
    return {
        "bigcommerce": int(store.counters["requests"]),
        "quickbooks": sum(int(v) for v in qbo.counters()["calls"].values()),
    }


def _diff(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: now[k] - before.get(k, 0) for k in now}


def _until_quiet(hub: Any, sandbox: BigCommerceSandbox, events: int) -> None:
    """Every webhook delivered and processed, no run queued or running, twice in a row
    a few seconds apart (a run a webhook asked for waits for its window first)."""

    def quiet() -> bool:
        if sandbox.deliveries["ok"] < events:
            return False
        with hub.uow() as uow:
            if uow.inbox.depth():
                return False
        return all(run.status.finished for run in services.run_history(hub, STORE, 20))

    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if quiet():
            time.sleep(3.0)
            if quiet():
                return
        time.sleep(0.2)
    raise TimeoutError("the hub did not settle")


def _outcomes(hub: Hub) -> dict[str, int] | None:
    """What the inbox made of the store's events (None: a hub from before issue 35, for
    the "before" column run against older code)."""
    try:
        from stockbridge.services.webhook_figures import webhook_figures
    except ImportError:
        return None
    return dict(webhook_figures(hub, STORE).outcomes)
