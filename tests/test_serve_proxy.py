"""``stockbridge serve`` believes X-Forwarded-For only from the proxies the operator lists
(``--forwarded-allow-ips``, default none): a client cannot pick a fresh address per guess
to slip past the login throttle. Through the real command, as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stockbridge import accounts
from stockbridge.bootstrap import bootstrap
from stockbridge.config import Settings
from tests.dashboard_helpers import csrf_of
from tests.service_helpers import wait_for

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def serve(home: Path, *options: str) -> Iterator[str]:
    hub = bootstrap(Settings(home=home))
    hub.initialise()
    accounts.add_user(hub, "ann", PASSWORD, operator=True)
    hub.engine.dispose()
    port = free_port()
    env = {**os.environ, "STOCKBRIDGE_HOME": str(home)}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "stockbridge.cli", "serve", "--port", str(port), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _up(port), timeout=60, what="serve to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def guesses(base_url: str, count: int) -> list[int]:
    """``count`` wrong passwords for ann, each claiming a fresh client address."""
    statuses = []
    with httpx.Client(base_url=base_url, timeout=30) as browser:
        token = csrf_of(browser.get("/login").text)
        for n in range(count):
            answer = browser.post(
                "/login",
                data={"csrf_token": token, "username": "ann", "password": f"guess {n}"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(answer.status_code)
    return statuses


@pytest.fixture
def plain_serve(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path / "home")


@pytest.fixture
def proxied_serve(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path / "home", "--forwarded-allow-ips", "127.0.0.1")


def test_fresh_forwarded_addresses_do_not_get_past_the_throttle(plain_serve: str) -> None:
    statuses = guesses(plain_serve, 7)
    assert statuses == [401] * accounts.MAX_FAILURES + [429, 429]


def test_a_listed_proxy_is_believed(proxied_serve: str) -> None:
    """Behind a proxy the operator listed, each forwarded address is its own client (and
    the per-user delay, not reached by 7 guesses, is what slows many addresses down)."""
    assert guesses(proxied_serve, 7) == [401] * 7
