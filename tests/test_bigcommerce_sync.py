"""BigCommerce in the whole engine: Sync All with faults, webhooks upkeep, connect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.connectors.bigcommerce.webhooks import SCOPES, SECRET_HEADER
from stockbridge.domain.model import SYNC_ALL, RunStatus
from stockbridge.sandbox_server import ServerThread
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice


def wire(harness: Harness, bc: SandboxStore, bo: FakeBackOffice) -> int:
    store_id = harness.add_store(back_office=bo)
    with harness.hub.uow() as uow:
        web_id = uow.stores.connect(
            store_id, role="web", kind="bigcommerce", settings={}, credentials=None
        ).id
        uow.commit()
    partners = harness.partners[store_id]
    harness.partners[store_id] = type(partners)(
        bc.connector(), web_id, partners.back_office, partners.back_office_connection_id
    )
    return store_id


def test_sync_all_with_ten_percent_faults_converges(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    skus = [f"S{i}" for i in range(30)]
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus]
    )
    bo = FakeBackOffice(max_orders_per_call=5)
    for n, sku in enumerate(skus):
        bo.set_item(sku, 50 + n)
    wire(sqlite_harness, bc_store, bo)
    orders = [bc_store.order([(skus[i % 30], 1 + i % 3)]) for i in range(25)]

    bc_store.faults(rate=0.1, kinds=["5xx", "drop", "drop_after"], seed=7)
    bo.faults.rate = 0.1
    for _ in range(4):
        services.sync(sqlite_harness.hub, None, SYNC_ALL)
    bc_store.faults(rate=0.0)
    bo.faults.rate = 0.0
    final = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert final.status is RunStatus.SUCCEEDED, final
    for order in orders:
        assert len(bo.documents_for(str(order["id"]))) == 1
    stock = bc_store.stock()
    assert {s: stock[s] for s in skus} == {s: bo.quantity(s) for s in skus}
    injected = bc_store.counters()["calls"]
    assert sum(v for k, v in injected.items() if k.startswith("fault:")) > 0


def test_malformed_partner_answer_fails_the_step_not_the_run(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    import httpx

    from stockbridge.connectors.bigcommerce.client import BigCommerceStore
    from stockbridge.connectors.ratelimit import LimiterRegistry
    from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
    from tests.bc_helpers import NO_WAIT

    bo = FakeBackOffice()
    bo.set_item("A", 3)
    store_id = wire(sqlite_harness, bc_store, bo)
    broken = BigCommerceStore(
        ConnectorEnv(
            settings={"store_hash": "x", "api_url": "https://bc.example"},
            vault=MemoryVault({"access_token": "t"}),
            limiters=LimiterRegistry(),
            retry=NO_WAIT,
            transport=httpx.MockTransport(lambda _r: httpx.Response(200, content=b"[{]")),
        )
    )
    partners = sqlite_harness.partners[store_id]
    sqlite_harness.partners[store_id] = type(partners)(
        broken, partners.web_connection_id, bo, partners.back_office_connection_id
    )
    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)
    assert report.status is RunStatus.FAILED
    assert report.steps["orders-in"]["status"] == "failed"
    assert "not JSON" in (report.steps["orders-in"]["message"] or "")
    assert report.steps["orders-out"]["status"] == "succeeded"  # the run went on


class Receiver:
    """A loopback webhook receiver that records deliveries (and can refuse them)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.accept = True
        self.lock = threading.Lock()

        async def hook(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.deliveries.append((dict(request.headers), body))
            return Response(status_code=200 if self.accept else 500)

        self.server = ServerThread(
            Starlette(routes=[Route("/webhooks/bigcommerce/{store}", hook, methods=["POST"])])
        )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()


def wait_for(condition: object, timeout: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_connect_registers_webhooks_and_sync_reactivates_them(
    tmp_path: Path, bc_store: SandboxStore, receiver: Receiver, sqlite_harness: Harness
) -> None:
    hub = sqlite_harness.hub
    sqlite_harness.partners.clear()
    hub.partners_override = None  # use the real registry and the saved connection
    app = build_app(lambda: hub)
    cli = CliRunner()
    assert cli.invoke(app, ["store", "add", "shop"]).exit_code == 0
    bc_store.seed([{"name": "Mug", "sku": "MUG", "tracking": "product", "inventory_level": 4}])
    result = cli.invoke(
        app,
        [
            "connect",
            "bigcommerce",
            "--store",
            "shop",
            "--store-hash",
            bc_store.hash,
            "--access-token",
            bc_store.token,
            "--api-url",
            bc_store.server.url,
            "--webhook-base-url",
            receiver.server.url,
        ],
    )
    assert result.exit_code == 0, result.output
    hooks = bc_store.counters()["hooks"]
    assert {h["scope"] for h in hooks} == set(SCOPES)
    assert all(
        h["destination"] == f"{receiver.server.url}/webhooks/bigcommerce/shop" for h in hooks
    )
    secret = hooks[0]["headers"][SECRET_HEADER]
    assert len(secret) >= 32 and bc_store.token not in result.output

    again = cli.invoke(
        app,
        [
            "connect",
            "bigcommerce",
            "--store",
            "shop",
            "--store-hash",
            bc_store.hash,
            "--access-token",
            bc_store.token,
            "--api-url",
            bc_store.server.url,
            "--webhook-base-url",
            receiver.server.url,
        ],
    )
    assert again.exit_code == 0, again.output  # reconnecting keeps the hooks' secret
    assert {h["headers"][SECRET_HEADER] for h in bc_store.counters()["hooks"]} == {secret}
    assert len(bc_store.counters()["hooks"]) == len(SCOPES)

    bc_store.order([("MUG", 1)])
    wait_for(lambda: len(receiver.deliveries) >= 1)
    headers, body = receiver.deliveries[0]
    assert headers[SECRET_HEADER.lower()] == secret and b"store/order/created" in body

    receiver.accept = False  # deliveries fail until the sandbox deactivates the hook
    bc_store.order([("MUG", 1)])
    wait_for(lambda: any(not h["is_active"] for h in bc_store.counters()["hooks"]))

    receiver.accept = True
    report = services.sync(hub, "shop", SYNC_ALL)
    assert "re-activated webhook store/order/created" in (
        report.steps["orders-in"]["message"] or ""
    )
    assert all(h["is_active"] for h in bc_store.counters()["hooks"])


def test_connect_with_a_wrong_token_saves_nothing(
    bc_store: SandboxStore, sqlite_harness: Harness
) -> None:
    hub = sqlite_harness.hub
    hub.partners_override = None
    app = build_app(lambda: hub)
    cli = CliRunner()
    cli.invoke(app, ["store", "add", "shop"])
    result = cli.invoke(
        app,
        [
            "connect",
            "bigcommerce",
            "--store",
            "shop",
            "--store-hash",
            bc_store.hash,
            "--access-token",
            "wrong-token",
            "--api-url",
            bc_store.server.url,
        ],
    )
    assert result.exit_code == 1
    assert "bigcommerce refused the credentials" in result.output
    assert "wrong-token" not in result.output
    with hub.uow() as uow:
        store = uow.stores.by_name("shop")
        assert store is not None and list(uow.stores.connections(store.id)) == []
    bad = cli.invoke(
        app,
        ["connect", "bigcommerce", "--store", "nope", "--store-hash", "x", "--access-token", "t"],
    )
    assert bad.exit_code == 2 and "no store named 'nope'" in bad.output
    bad_hash = cli.invoke(
        app,
        ["connect", "bigcommerce", "--store", "shop", "--store-hash", "a/b", "--access-token", "t"],
    )
    assert bad_hash.exit_code == 2
