"""kill -9 of ``stockbridge serve`` after QuickBooks applied a request and before the
answer reached the hub: the restarted service's next Web Connector session looks the
receipts up and posts none twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, WebConnector
from stockbridge.services import qbwc as qbwc_service
from tests.bc_helpers import SandboxStore


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STOCKBRIDGE_HOME": str(home)}
    env.pop("STOCKBRIDGE_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "stockbridge.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/qbwc", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError("serve did not start")


def _settle(hub: Hub) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(r.status.finished for r in services.run_history(hub, "shop", limit=20)):
            return
        time.sleep(0.1)
    raise AssertionError("runs did not finish")


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    hub = bootstrap(Settings(home=tmp_path / "home"))
    hub.initialise()
    yield hub
    hub.engine.dispose()


def test_kill_9_between_apply_and_answer_posts_nothing_twice(
    hub: Hub, tmp_path: Path, bc_store: SandboxStore
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/qbwc"
    services.add_store(hub, "shop")
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 5}])
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    connected = qbwc_service.connect_qbwc(hub, "shop", flavour="desktop", app_url=url)
    assert connected.password is not None
    company = DesktopCompany()
    company.add_item("A", 30)
    wc = WebConnector(url, connected.user_name, connected.password, company)

    serve = _serve(hub.settings.home, port)
    try:
        wc.session()
        _settle(hub)
        numbers = [str(bc_store.order([("A", 1)])["id"]) for _ in range(2)]
        services.sync(hub, "shop")  # orders in (a webhook or the schedule does it too)
        dropped = wc.session(
            drop_on="SalesReceiptAddRq"
        )  # orders read, receipts added, answer lost
        assert dropped.dropped
        assert company.receipts_by_ref() == dict.fromkeys(numbers, 1)
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)

        serve = _serve(hub.settings.home, port)
        after = wc.session()
        assert after.percents and after.percents[-1] == 100, after
        _settle(hub)
        assert company.receipts_by_ref() == dict.fromkeys(numbers, 1)
        assert company.quantity("A") == 28
        assert bc_store.stock()["A"] == 28
    finally:
        serve.kill()
        serve.wait(10)
