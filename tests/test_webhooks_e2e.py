"""Webhooks end to end: the BigCommerce sandbox delivers to a running hub, which stores
each event before answering and turns it into targeted work."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from stockbridge import services
from stockbridge.connectors.bigcommerce.webhooks import SECRET_HEADER
from stockbridge.db.models import InboxEvent
from tests.bc_helpers import SandboxStore
from tests.conftest import BOTH_BACKENDS, Harness
from tests.fakes import FakeBackOffice
from tests.service_helpers import Running, start_service, wait_for


@pytest.fixture
def live(
    service_harness: Harness, bc_store: SandboxStore, backend: str
) -> Iterator[tuple[Running, SandboxStore, FakeBackOffice]]:
    hub = service_harness.hub
    hub.partners_override = None  # the real registry and saved connections
    bo = FakeBackOffice()
    hub.registry.register("fake-bo", lambda _env: bo)
    running = start_service(hub, backend)
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
    running.stop()


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


def raw_status(running: Running, path: str, secret: str, length: str) -> int:
    """POST a 2-byte body under a declared Content-Length of ``length`` (which a client
    library would refuse to send) and read the status the server answers with."""
    host, port = running.server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{SECRET_HEADER}: {secret}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n{{}}".encode()
        )
        return int(sock.recv(4096).split(b" ")[1])


def inbox_depth(running: Running) -> int:
    """Every event ever stored (processed or not)."""
    with running.hub.uow() as uow:
        return int(uow.session.scalar(select(func.count(InboxEvent.id))) or 0)


@BOTH_BACKENDS
def test_a_web_order_reaches_the_back_office_through_its_webhook(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, bc, bo = live
    hook_checks = bc.counters()["calls"].get("GET /v3/hooks", 0)
    order = bc.order([("A", 2)])
    wait_for(lambda: len(bo.documents_for(str(order["id"]))) == 1, what="order posted via webhook")
    with running.hub.uow() as uow:
        runs = uow.runs.history(None)
        assert any(r.trigger == "webhook" for r in runs)
        assert not any(r.trigger == "manual" for r in runs)
    # A run a webhook started spends no call checking the webhooks (they evidently work).
    assert bc.counters()["calls"].get("GET /v3/hooks", 0) == hook_checks


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


def deactivate_hooks(bc: SandboxStore) -> None:
    """Switch the store's webhooks off (as BigCommerce does after failed deliveries): the
    sandbox then tells the hub nothing by itself."""
    with httpx.Client(
        base_url=f"{bc.server.url}/stores/{bc.hash}", headers={"X-Auth-Token": bc.token}
    ) as api:
        for hook in bc.counters()["hooks"]:
            api.put(f"/v3/hooks/{hook['id']}", json={"is_active": False}).raise_for_status()
    assert not any(h["is_active"] for h in bc.counters()["hooks"])


def settled(running: Running) -> bool:
    """No event waits in the inbox and no run is queued or running."""
    with running.hub.uow() as uow:
        waiting = uow.session.scalar(
            select(func.count(InboxEvent.id)).where(InboxEvent.processed_at.is_(None))
        )
        finished = all(
            r.status in ("succeeded", "partial", "failed") for r in uow.runs.history(None)
        )
    return waiting == 0 and finished


@BOTH_BACKENDS
def test_burst_with_duplicates_and_out_of_order_applies_each_change_once(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, bc, bo = live
    # Only the hand-made burst below tells the hub about these orders.
    deactivate_hooks(bc)
    orders = [bc.order([("A", 1)]) for _ in range(3)]
    # The first order is cancelled before any delivery: its deliveries all say "created",
    # and only by re-reading the order does the hub learn that it was cancelled.
    bc.call("PUT", f"/orders/{orders[0]['id']}", json={"status_id": 5})
    reads = bc.counters()["calls"].get("GET /v2/orders", 0)
    stored = inbox_depth(running)
    url = f"{running.server.url}/webhooks/bigcommerce/shop"
    headers = {SECRET_HEADER: secret_of(bc)}
    for n in (3, 1, 2, 1, 3, 2):  # replays, out of order
        answer = httpx.post(
            url, content=envelope(f"burst-{n}", ident=int(orders[n - 1]["id"])), headers=headers
        )
        assert answer.status_code == 200
    assert inbox_depth(running) == stored + 3  # each distinct delivery once
    wait_for(
        lambda: all(len(bo.documents_for(str(o["id"]))) == 1 for o in orders[1:]),
        what="the burst's open orders posted",
    )
    wait_for(lambda: settled(running), what="the burst's runs finished")
    # Processed because of the burst: the runs were the webhook's and re-read the orders.
    with running.hub.uow() as uow:
        assert any(r.trigger == "webhook" for r in uow.runs.history(None))
        cancelled = uow.orders.by_web_id(1, str(orders[0]["id"]))
        held = None if cancelled is None else cancelled.status
    assert bc.counters()["calls"].get("GET /v2/orders", 0) > reads
    # Each open order exactly once; the cancelled one never (the newest state won), and
    # the hub holds it as cancelled.
    assert [len(bo.documents_for(str(o["id"]))) for o in orders] == [0, 1, 1]
    assert held == "cancelled"


def test_a_concurrent_burst_stores_each_distinct_delivery_exactly_once(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    """Group commit under concurrency: re-deliveries that land in the same batch as their
    first copy, or in a later one, are answered as duplicates; every distinct event is
    stored once and answered "accepted" once."""
    running, bc, _bo = live
    url = f"{running.server.url}/webhooks/bigcommerce/shop"
    headers = {SECRET_HEADER: secret_of(bc)}
    before = inbox_depth(running)
    hashes = [f"c-{n % 120}" for n in range(200)]  # 120 distinct, 80 re-deliveries

    def deliver(chunk: list[str]) -> list[str]:
        with httpx.Client(headers=headers, timeout=30) as client:
            answers = [client.post(url, content=envelope(h)) for h in chunk]
        assert all(a.status_code == 200 for a in answers)
        return [a.text for a in answers]

    with ThreadPoolExecutor(8) as pool:
        texts = [t for chunk in pool.map(deliver, [hashes[i::8] for i in range(8)]) for t in chunk]
    assert texts.count("accepted") == 120
    assert texts.count("duplicate delivery ignored") == 80
    assert inbox_depth(running) == before + 120


def test_the_receiver_refuses_odd_requests_and_stores_nothing(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    running, bc, _bo = live
    base = f"{running.server.url}/webhooks/bigcommerce"
    headers = {SECRET_HEADER: secret_of(bc)}
    before = inbox_depth(running)

    wrong_method = httpx.get(f"{base}/shop", headers=headers)
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    long_name = httpx.post(f"{base}/{'x' * 101}", content=envelope("odd-1"), headers=headers)
    assert long_name.status_code == 422 and "store name" in long_name.json()["error"]
    assert httpx.post(f"{base}/shop/extra", content=envelope("odd-2")).status_code == 404

    secret = headers[SECRET_HEADER]
    assert raw_status(running, "/webhooks/bigcommerce/shop", secret, "2000000") == 413
    assert raw_status(running, "/webhooks/bigcommerce/shop", secret, "ten") in (400, 413)

    def streamed() -> Iterator[bytes]:  # chunked: no length to check up front
        yield envelope("odd-3")
        for _ in range(20):
            yield b" " * 65_536

    chunked = httpx.post(f"{base}/shop", content=streamed(), headers=headers)
    assert chunked.status_code == 413 and "over" in chunked.json()["error"]

    oversized_envelope = json.loads(envelope("odd-4"))
    oversized_envelope["padding"] = "x" * 70_000  # under the body limit, over the envelope's
    too_big = httpx.post(f"{base}/shop", json=oversized_envelope, headers=headers)
    assert too_big.status_code == 422 and "limit" in too_big.json()["error"]
    not_ours = httpx.post(
        f"{base}/shop", content=envelope("odd-5", scope="store/cart/created"), headers=headers
    )
    assert not_ours.status_code == 422 and "scope" in not_ours.json()["error"]
    assert inbox_depth(running) == before
    with running.client() as anon:
        metrics = anon.get("/metrics").text
    assert 'stockbridge_webhooks_received_total{outcome="rejected",source="bigcommerce"}' in (
        metrics
    )


def test_a_delivery_the_database_refuses_is_503_and_the_next_one_is_stored(
    live: tuple[Running, SandboxStore, FakeBackOffice],
) -> None:
    """The partner retries what is not answered 2xx: a batch that cannot be committed
    answers each of its deliveries 503, stores none of them, and the writer carries on."""
    running, bc, _bo = live
    url = f"{running.server.url}/webhooks/bigcommerce/shop"
    headers = {SECRET_HEADER: secret_of(bc)}
    before = inbox_depth(running)
    with running.hub.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_inbox BEFORE INSERT ON inbox_events "
            "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
        )
    refused = httpx.post(url, content=envelope("fail-1"), headers=headers)
    assert refused.status_code == 503 and "try again" in refused.json()["error"]
    assert inbox_depth(running) == before
    with running.hub.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_inbox")
    again = httpx.post(url, content=envelope("fail-1"), headers=headers)
    assert again.status_code == 200 and again.text == "accepted"
    assert inbox_depth(running) == before + 1
