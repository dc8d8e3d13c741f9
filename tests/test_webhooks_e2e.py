"""Webhooks end to end: the BigCommerce sandbox delivers to a running hub, which stores
each event before answering and turns it into targeted work."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from stockbridge import services
from stockbridge.connectors.bigcommerce.webhooks import SECRET_HEADER
from stockbridge.db.models import InboxEvent
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice
from tests.service_helpers import Running, start_service, wait_for


@pytest.fixture
def live(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> Iterator[tuple[Running, SandboxStore, FakeBackOffice]]:
    hub = sqlite_harness.hub
    hub.partners_override = None  # the real registry and saved connections
    bo = FakeBackOffice()
    hub.registry.register("fake-bo", lambda _env: bo)
    running = start_service(hub)
    services.add_store(hub, "shop")
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 20} for s in ("A", "B")]
    )
    for sku in ("A", "B"):
        bo.set_item(sku, 20)
    with hub.uow() as uow:
        store = uow.stores.by_name("shop")
        assert store is not None
        uow.stores.connect(
            store.id, role="back_office", kind="fake-bo", settings={}, credentials=None
        )
        uow.commit()
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={
            "store_hash": bc_store.hash,
            "api_url": bc_store.server.url,
            "webhook_url": f"{running.server.url}/webhooks/bigcommerce/shop",
        },
        secrets={"access_token": bc_store.token},
    )
    yield running, bc_store, bo
    running.server.stop()
    running.service.stop()


def secret_of(bc: SandboxStore) -> str:
    return str(bc.counters()["hooks"][0]["headers"][SECRET_HEADER])


def envelope(hash_: str, scope: str = "store/order/created", ident: int = 1) -> bytes:
    return json.dumps(
        {
            "scope": scope,
            "store_id": "1",
            "data": {"type": "order", "id": ident},
            "hash": hash_,
            "created_at": int(time.time()),
            "producer": "stores/x",
        }
    ).encode()


def inbox_depth(running: Running) -> int:
    """Every event ever stored (processed or not)."""
    with running.hub.uow() as uow:
        return int(uow.session.scalar(select(func.count(InboxEvent.id))) or 0)


def test_a_web_order_reaches_the_back_office_through_its_webhook(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, bc, bo = live
    order = bc.order([("A", 2)])
    wait_for(lambda: len(bo.documents_for(str(order["id"]))) == 1, what="order posted via webhook")
    with running.hub.uow() as uow:
        runs = uow.runs.history(None)
        assert any(r.trigger == "webhook" for r in runs)
        assert not any(r.trigger == "manual" for r in runs)


def test_bad_or_missing_secret_is_401_and_nothing_is_stored(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, _bc, _bo = live
    before = inbox_depth(running)
    url = f"{running.server.url}/webhooks/bigcommerce/shop"
    assert httpx.post(url, content=envelope("h-1")).status_code == 401
    assert (
        httpx.post(url, content=envelope("h-1"), headers={SECRET_HEADER: "guess"}).status_code
        == 401
    )
    assert (
        httpx.post(
            f"{running.server.url}/webhooks/bigcommerce/nostore", content=envelope("h")
        ).status_code
        == 401
    )
    assert inbox_depth(running) == before


def test_duplicates_are_stored_once_and_bad_bodies_refused(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, bc, _bo = live
    url = f"{running.server.url}/webhooks/bigcommerce/shop"
    headers = {SECRET_HEADER: secret_of(bc)}
    before = inbox_depth(running)
    answers = [httpx.post(url, content=envelope("dup-1"), headers=headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert answers[0].text == "accepted" and answers[1].text == "duplicate delivery ignored"
    assert inbox_depth(running) == before + 1
    bad = httpx.post(url, content=b"{oops", headers=headers)
    assert bad.status_code == 422 and "not JSON" in bad.text
    with running.client(running.token()) as api:
        rejected = api.get("/api/v1/stores/shop/rejected").json()
    assert rejected[0]["source"] == "webhook:bigcommerce"
    assert inbox_depth(running) == before + 1


def test_burst_with_duplicates_and_out_of_order_applies_each_change_once(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, bc, bo = live
    orders = [bc.order([("A", 1)]) for _ in range(3)]
    # The first order is cancelled at once. Whether the hub saw it open first (and posted
    # it) or not, it re-reads orders rather than trusting deliveries: at most one receipt
    # per order, and the newest status is the one it holds.
    bc.call("PUT", f"/orders/{orders[0]['id']}", json={"status_id": 5})
    url = f"{running.server.url}/webhooks/bigcommerce/shop"
    headers = {SECRET_HEADER: secret_of(bc)}
    for n in (3, 1, 2, 1, 3, 2):  # replays, out of order
        httpx.post(
            url, content=envelope(f"burst-{n}", ident=int(orders[n - 1]["id"])), headers=headers
        )
    wait_for(
        lambda: (
            all(len(bo.documents_for(str(o["id"]))) <= 1 for o in orders)
            and all(len(bo.documents_for(str(o["id"]))) == 1 for o in orders[1:])
        ),
        what="orders posted",
    )
    time.sleep(0.5)
    assert all(len(bo.documents_for(str(o["id"]))) <= 1 for o in orders)
    with running.hub.uow() as uow:
        row = uow.orders.by_web_id(1, str(orders[0]["id"]))
        assert row is not None and row.status == "cancelled"  # the newest state won
