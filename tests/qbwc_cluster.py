"""Stockbridge as real processes for the Web Connector: embedded (one ``serve`` on SQLite)
or scaled (two ``serve --no-worker`` taking calls of one session in turn, and two
``stockbridge worker`` on PostgreSQL), a store on the BigCommerce sandbox and its back
office behind the simulated Web Connector."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, PosCompany, WebConnector
from stockbridge.services import qbwc as qbwc_service
from tests.bc_helpers import SandboxStore

SKUS = ("A", "B", "C")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    hub: Hub
    env: dict[str, str]
    scaled: bool
    log_dir: Path
    serves: list[tuple[int, subprocess.Popen[bytes]]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "stockbridge.cli", *args],
            env={**os.environ, **self.env},
            stdout=(self.log_dir / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def start_serve(self, port: int | None = None) -> int:
        port = port or free_port()
        args = ["serve", "--port", str(port)] + (["--no-worker"] if self.scaled else [])
        process = self._spawn(f"serve-{port}", *args)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/qbwc", timeout=1).status_code == 200:
                    self.serves.append((port, process))
                    return port
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        process.kill()
        raise AssertionError("serve did not start")

    def start_worker(self, name: str) -> None:
        self.workers.append(self._spawn(f"worker-{name}", "worker", "--name", name))

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.serves[index][0]}/qbwc"

    def kill_serve(self, index: int) -> None:
        """kill -9 of one serve process (the one that took the session's last call)."""
        _port, process = self.serves.pop(index)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def settle(self, timeout: float = 60) -> None:
        """Wait until the store has no run queued or running (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = services.run_history(self.hub, "shop", limit=20)
            if all(r.status.finished for r in runs):
                return
            time.sleep(0.1)
        raise AssertionError("runs did not finish")

    def close(self) -> None:
        for process in [p for _port, p in self.serves] + self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [p for _port, p in self.serves] + self.workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@dataclass
class Setup:
    cluster: Cluster
    company: DesktopCompany | PosCompany
    user_name: str
    password: str

    def connector(self, *urls: str) -> WebConnector:
        first, *rest = urls
        return WebConnector(first, self.user_name, self.password, self.company, also=rest)


def start_cluster(
    home: Path, database_url: str | None, bc_store: SandboxStore, flavour: str
) -> Iterator[Setup]:
    """The store, its connections and the processes; closed after the test."""
    scaled = database_url is not None
    settings = Settings(home=home, database_url=database_url, outbound_allow="loopback")
    hub = bootstrap(settings)
    hub.initialise()
    env = {"STOCKBRIDGE_HOME": str(home), "STOCKBRIDGE_OUTBOUND_ALLOW": "loopback"}
    if database_url is not None:
        env["STOCKBRIDGE_DATABASE_URL"] = database_url
    services.add_store(hub, "shop")
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 5} for s in SKUS]
    )
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    connected = qbwc_service.connect_qbwc(
        hub, "shop", flavour=flavour, app_url="https://localhost/qbwc"
    )
    assert connected.password is not None
    company: DesktopCompany | PosCompany = (
        DesktopCompany() if flavour == "desktop" else PosCompany()
    )
    for n, sku in enumerate(SKUS):
        company.add_item(sku, 20 + n)
    cluster = Cluster(hub, env, scaled, home)
    try:
        cluster.start_serve()
        if scaled:
            cluster.start_serve()
            cluster.start_worker("w1")
            cluster.start_worker("w2")
        yield Setup(cluster, company, connected.user_name, connected.password)
    finally:
        cluster.close()
        hub.engine.dispose()
