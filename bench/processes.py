"""Helpers for benchmarks that run Stockbridge or a sandbox in a process of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

__all__ = ["bigcommerce_sandbox", "free_port", "wait_until_up"]

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
