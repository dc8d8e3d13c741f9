"""Helpers for benchmarks that run Stockbridge or a sandbox in a process of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.domain.model import InventorySource

__all__ = ["bench_hub", "bigcommerce_sandbox", "free_port", "wait_until_up"]

#: The store and token the benches' BigCommerce sandbox serves.
BENCH_STORE = "bench"
BENCH_TOKEN = "bench-token"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers at all (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def bigcommerce_sandbox(port: int | None = None) -> Iterator[str]:
    """The BigCommerce sandbox in a process of its own, as the partner would be (the hub
    and the simulator share no interpreter lock), serving store ``bench`` with token
    ``bench-token`` and no quota of its own; yields its URL, stops it afterwards."""
    port = port or free_port()
    env = {**os.environ, "STOCKBRIDGE_SANDBOX_BIGCOMMERCE_TOKEN": BENCH_TOKEN}
    command = [sys.executable, "-m", "stockbridge.cli", "sandbox", "bigcommerce"]
    command += ["--port", str(port), "--store-hash", BENCH_STORE, "--quota", "1000000"]
    sandbox = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/admin/stores/{BENCH_STORE}/counters")
        yield url
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


def bench_hub(home: Path, web_url: str) -> Hub:
    """A fresh SQLite hub in ``home`` with store ``bench`` (back-office mode) connected to
    the bench's BigCommerce sandbox at ``web_url``."""
    hub = bootstrap(Settings(home=home, database_url=f"sqlite:///{home}/hub.db"))
    hub.initialise()
    services.add_store(hub, BENCH_STORE, inventory_source=InventorySource.BACK_OFFICE)
    services.connect_partner(
        hub,
        BENCH_STORE,
        role="web",
        kind="bigcommerce",
        settings={"store_hash": BENCH_STORE, "api_url": web_url},
        secrets={"access_token": BENCH_TOKEN},
    )
    return hub
