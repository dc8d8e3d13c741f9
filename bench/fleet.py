"""A fleet for scaled mode: many stores on the BigCommerce sandbox and a few QuickBooks
sandbox companies (each shared by several stores, so workers share a realm's limits), a
PostgreSQL hub, and ``stockbridge worker`` processes. Used by the scaled-mode process
tests and by ``bench/workers.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text, update

from bench.partner_delay import NONE, Delayed, LogNormal
from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.db.models import Schedule, SyncRun
from stockbridge.demo import connect_sandboxes
from stockbridge.domain.model import SYNC_ALL, Trigger
from stockbridge.sandbox_server import ServerThread

__all__ = ["Fleet", "start_fleet"]

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass
class Realm:
    sandbox: QboSandbox
    server: ServerThread

    def counters(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.server.url}/admin/counters", timeout=10)
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data


@dataclass
class Fleet:
    hub: Hub
    settings: Settings
    bc: BigCommerceSandbox
    bc_server: ServerThread
    realms: list[Realm]
    #: store name -> (store id, BigCommerce store hash, realm index)
    stores: dict[str, tuple[int, str, int]]
    orders: int
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    # -- processes ------------------------------------------------------------------

    def start_worker(self, name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stockbridge.cli",
                "worker",
                "--concurrency",
                str(concurrency),
                "--name",
                name,
            ],
            env=env,
            stdout=(self.settings.home_dir / f"worker-{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def close(self) -> None:
        self.stop_workers()
        self.bc_server.stop()
        self.bc.close()
        for realm in self.realms:
            realm.server.stop()
        self.hub.engine.dispose()

    # -- triggers -------------------------------------------------------------------

    def request_manual(self, names: list[str] | None = None) -> list[int]:
        runner = self.hub.runner()
        ids = []
        for name in names or list(self.stores):
            run_id, _ = runner.request(self.stores[name][0], SYNC_ALL, Trigger.MANUAL)
            ids.append(run_id)
        return ids

    def webhook_events(self, names: list[str], serial: int) -> int:
        """Order and stock events for ``names``, as the receiver stores them."""
        events = []
        for name in names:
            store_id = self.stores[name][0]
            for kind in ("order", "inventory"):
                events.append(
                    {
                        "store_id": store_id,
                        "source": "bigcommerce",
                        "dedup_key": f"{kind}-{serial}-{name}",
                        "kind": kind,
                        "payload": {},
                    }
                )
        with self.hub.uow() as uow:
            stored = uow.inbox.add_many(events)
            uow.commit()
        return sum(stored)

    def make_slots_due(self, names: list[str]) -> None:
        """Give each store a daily 00:00 (UTC) schedule whose last slot is yesterday's, so
        exactly one slot (today's) is due now, and none again before tomorrow."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        yesterday = today - timedelta(days=1)
        ids = [self.stores[name][0] for name in names]
        with self.hub.uow() as uow:
            session = uow.session
            for store_id in ids:
                if session.scalar(select(Schedule.id).where(Schedule.store_id == store_id)) is None:
                    session.add(
                        Schedule(store_id=store_id, step="all", daily_at="00:00", updated_at=today)
                    )
            session.flush()
            session.execute(
                update(Schedule)
                .where(Schedule.store_id.in_(ids))
                .values(daily_at="00:00", every_minutes=None, enabled=True, last_slot_at=yesterday)
            )
            uow.commit()

    def scheduled_runs(self, names: list[str]) -> dict[str, int]:
        """Runs of trigger ``schedule`` per store."""
        ids = {self.stores[name][0]: name for name in names}
        counts = dict.fromkeys(names, 0)
        for run in self.runs():
            if run.store_id in ids and run.trigger == Trigger.SCHEDULE.value:
                counts[ids[run.store_id]] += 1
        return counts

    # -- what happened --------------------------------------------------------------

    def runs(self) -> list[SyncRun]:
        with self.hub.uow() as uow:
            rows = list(uow.session.scalars(select(SyncRun).order_by(SyncRun.id)))
            uow.session.expunge_all()
            return rows

    def unfinished(self) -> int:
        with self.hub.uow() as uow:
            return int(
                uow.session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM sync_runs WHERE status IN "
                        "('queued', 'running')) + (SELECT count(*) FROM inbox_events "
                        "WHERE processed_at IS NULL) + (SELECT count(*) FROM "
                        "procrastinate_jobs WHERE status IN ('todo', 'doing') "
                        "AND task_name <> 'stockbridge.tick')"
                    )
                ).scalar_one()
            )

    def pending(self) -> dict[str, Any]:
        """What is left: runs not finished, inbox events, jobs waiting or running."""
        with self.hub.uow() as uow:
            session = uow.session
            runs = session.execute(
                text(
                    "SELECT id, store_id, status FROM sync_runs "
                    "WHERE status IN ('queued', 'running')"
                )
            ).all()
            jobs = session.execute(
                text(
                    "SELECT id, task_name, status, lock, attempts, worker_id FROM "
                    "procrastinate_jobs WHERE status IN ('todo', 'doing')"
                )
            ).all()
            leases = session.execute(text("SELECT * FROM store_leases")).all()
        return {"runs": runs, "jobs": jobs, "leases": leases}

    def wait_idle(self, timeout: float, *, poll: float = 0.2) -> float:
        """Wait until no run, inbox event or job is pending; returns the seconds it took."""
        start = time.monotonic()
        while self.unfinished():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"work still pending after {timeout} s: {self.pending()}")
            time.sleep(poll)
        return time.monotonic() - start

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout} s")
            time.sleep(0.1)

    def receipts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for index, realm in enumerate(self.realms):
            for doc, count in realm.counters()["receipts_per_doc_number"].items():
                found[f"{index}:{doc}"] = int(count)
        return found

    def throttled(self) -> dict[str, int]:
        """429s each partner account answered: per QuickBooks realm, per BigCommerce store."""
        counts = {f"qbo:{i}": int(r.counters()["throttled"]) for i, r in enumerate(self.realms)}
        for _name, (_id, store_hash, _realm) in self.stores.items():
            answer = httpx.get(f"{self.bc_server.url}/admin/stores/{store_hash}/counters")
            counts[f"bigcommerce:{store_hash}"] = int(answer.json().get("429", 0))
        return counts


def start_fleet(
    home: Path,
    database_url: str,
    *,
    stores: int = 50,
    realms: int = 5,
    products: int = 3,
    orders: int = 2,
    bc_quota: int = 10_000,
    extra_env: dict[str, str] | None = None,
    delays: tuple[LogNormal, LogNormal] | None = None,
) -> Fleet:
    """Sandboxes seeded, a fresh hub on ``database_url`` (migrated), ``stores`` stores
    connected (store n to realm n % realms). Workers are started by the caller. With
    ``delays`` (BigCommerce's, QuickBooks Online's) each partner call waits a drawn time
    before it is answered (``partner_delay.py``)."""
    bc = BigCommerceSandbox(time_scale=0.0005)
    bc_delay, qbo_delay = delays or (NONE, NONE)
    bc_server = ServerThread(Delayed(bc.app, bc_delay)).start()
    realm_list = []
    for n in range(realms):
        sandbox = QboSandbox()
        realm_list.append(Realm(sandbox, ServerThread(Delayed(sandbox, qbo_delay, seed=n)).start()))
    settings = Settings(
        home=home, database_url=database_url, lease_seconds=30, outbound_allow="loopback"
    )
    hub = bootstrap(settings)
    hub.initialise()
    names: dict[str, tuple[int, str, int]] = {}
    items: list[list[dict[str, Any]]] = [[] for _ in range(realms)]
    total_orders = 0
    with httpx.Client(base_url=bc_server.url, timeout=30) as admin:
        for n in range(stores):
            name, store_hash = f"shop{n:03d}", f"h{n:03d}"
            admin.post(
                "/admin/stores",
                json={
                    "store_hash": store_hash,
                    "access_token": f"token-{store_hash}",
                    "quota": bc_quota,
                    "window_ms": 30_000,
                    "async_delay_ms": 0,
                    "allow_insecure_webhooks": True,
                },
            ).raise_for_status()
            # A realm is one company's books: its stores sell the same items.
            skus = [f"R{n % realms}-{p}" for p in range(products)]
            admin.post(
                f"/admin/stores/{store_hash}/products",
                json={
                    "products": [
                        {"name": s, "sku": s, "tracking": "product", "inventory_level": 20}
                        for s in skus
                    ]
                },
            ).raise_for_status()
            for o in range(orders):
                admin.post(
                    f"/admin/stores/{store_hash}/orders",
                    json={"status_id": 11, "lines": [{"sku": skus[o % products], "quantity": 1}]},
                ).raise_for_status()
                total_orders += 1
            items[n % realms] += [{"sku": s, "name": s, "qty": 20, "price": "10.00"} for s in skus]
            services.add_store(hub, name)
            names[name] = (services.resolve_store(hub, name), store_hash, n % realms)
    for index, realm in enumerate(realm_list):
        realm.sandbox.books.client_id = "fleet-app"
        realm.sandbox.books.client_secret = "fleet-secret"
        with httpx.Client(base_url=realm.server.url, timeout=30) as admin:
            admin.post("/admin/items", json=items[index]).raise_for_status()
    for name, (_id, store_hash, realm_index) in names.items():
        realm = realm_list[realm_index]
        token = httpx.post(f"{realm.server.url}/admin/tokens/issue").json()["refresh_token"]
        connect_sandboxes(
            hub,
            name,
            bigcommerce_url=bc_server.url,
            store_hash=store_hash,
            access_token=f"token-{store_hash}",
            qbo=realm.sandbox,
            qbo_url=realm.server.url,
            refresh_token=token,
        )
    env = {
        "STOCKBRIDGE_HOME": str(home),
        "STOCKBRIDGE_DATABASE_URL": database_url,
        "STOCKBRIDGE_LEASE_SECONDS": "30",
        "STOCKBRIDGE_OUTBOUND_ALLOW": "loopback",
        **(extra_env or {}),
    }
    return Fleet(hub, settings, bc, bc_server, realm_list, names, total_orders, env=env)
