"""The hub's own writes do not come back as work (issue 35): with the BigCommerce sandbox
firing an inventory webhook for every write, as BigCommerce does for API writes, the
echoes of a push are confirmed and dropped; a change made on the web afterwards starts
exactly one run that reads only that product; a burst of events starts one run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from stockbridge import accounts
from stockbridge.connectors.base import BadWebhook, Delivery
from stockbridge.connectors.bigcommerce.sandbox.catalog import inventory_event
from stockbridge.connectors.bigcommerce.webhooks import ADAPTER
from stockbridge.domain.echoes import ECHO_WINDOW, SentStock, StockEvent, sort_events
from stockbridge.domain.model import InventorySource, Trigger
from stockbridge.services.webhook_figures import webhook_figures
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.modes_support import STORE, Shop, connect_qbo, open_shop, start_qbo
from tests.service_helpers import wait_for

FIXTURE = Path(__file__).parent / "fixtures" / "bigcommerce_webhook_inventory.json"
N = 40  # SKUs a Sync All pushes
BURST = 500
PASSWORD = "correct horse battery staple"
SCRAPE = "scrape-me-0123"


def test_the_adapter_reads_bigcommerces_documented_inventory_event() -> None:
    body = json.loads(FIXTURE.read_text())
    event = ADAPTER.parse(Delivery(json.dumps(body).encode(), {}))
    assert (event.product_id, event.change) == ("167", 100000000)
    # The sandbox fires events of the documented shape.
    fired = inventory_event(167, "relative", -3)
    assert fired.keys() == body["data"].keys()
    assert fired["inventory"].keys() == body["data"]["inventory"].keys()


def test_an_inventory_event_with_a_wrong_typed_change_is_refused_whole() -> None:
    body = json.loads(FIXTURE.read_text())
    body["data"]["inventory"]["value"] = "three"
    with pytest.raises(BadWebhook, match=r"data\.inventory\.value"):
        ADAPTER.parse(Delivery(json.dumps(body).encode(), {}))
    del body["data"]["inventory"]  # no change reported: kept, and taken for news later
    event = ADAPTER.parse(Delivery(json.dumps(body).encode(), {}))
    assert (event.product_id, event.change) == ("167", None)


def test_an_echo_is_the_write_it_reports_once_and_in_time() -> None:
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    sent = {"7": SentStock("7", -3, at)}

    def sort(*events: StockEvent) -> tuple[list[int], list[int]]:
        echoes, news = sort_events(events, sent)
        return [e.event_id for e in echoes], [e.event_id for e in news]

    assert sort(StockEvent(1, "7", -3, at)) == ([1], [])
    assert sort(StockEvent(1, "7", -2, at)) == ([], [1])  # another change: news
    assert sort(StockEvent(1, "8", -3, at)) == ([], [1])  # a product the hub did not write
    assert sort(StockEvent(1, "7", None, at)) == ([], [1])  # cannot compare: news
    late = at + ECHO_WINDOW + timedelta(seconds=1)
    assert sort(StockEvent(1, "7", -3, late)) == ([], [1])
    assert sort(StockEvent(1, "7", -3, at), StockEvent(2, "7", -3, at)) == ([1], [2])
    confirmed = {"7": SentStock("7", -3, at, awaiting=False)}
    assert sort_events([StockEvent(1, "7", -3, at)], confirmed) == (
        [],
        [StockEvent(1, "7", -3, at)],
    )


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as resources:
        yield resources


def runs(shop: Shop) -> list[dict[str, Any]]:
    with shop.api() as api:
        answer = api.get(f"/api/v1/stores/{STORE}/runs", params={"limit": 50})
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()
        return found


def outcomes(shop: Shop) -> dict[str, int]:
    """What the inbox made of the store's inventory events (the dashboard's figures)."""
    return webhook_figures(shop.running.hub, STORE).outcomes


def bc_calls(shop: Shop, endpoint: str) -> int:
    return int(shop.bc.counters()["calls"].get(endpoint, 0))


def test_a_sync_all_is_followed_by_no_run_and_a_later_change_by_one(
    sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path, stack: ExitStack
) -> None:
    skus = {f"SKU{n:02}": n + 1 for n in range(N)}
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus]
    )
    shop = open_shop(sqlite_harness, bc_store, tmp_path, InventorySource.BACK_OFFICE)
    stack.callback(shop.stop)
    qbo = start_qbo(stack)
    connect_qbo(shop, qbo, **skus)
    shop.ok("sync", "all", "--store", STORE)
    assert {s: shop.web()[s] for s in skus} == skus  # N SKUs pushed, N webhooks fired
    wait_for(lambda: outcomes(shop).get("echo") == N, what="the echoes to be confirmed")
    shop.quiet()
    assert len(runs(shop)) == 1  # the Sync All only: its echoes started nothing
    assert outcomes(shop) == {"echo": N}

    # Someone changes one product in the control panel: exactly one run, reading it only.
    reads_before = bc_calls(shop, "GET /v3/catalog/products")
    qbo_before = dict(qbo.admin.get("/admin/counters").json())
    shop.bc.call("PUT", "/stock", json={"SKU07": 2})
    wait_for(lambda: outcomes(shop).get("run") == 1, what="the change to start a run")
    shop.quiet()
    history = runs(shop)
    assert len(history) == 2
    run = history[0]
    assert run["trigger"] == Trigger.WEBHOOK.value
    assert run["progress"]["inventory-in"]["read"] == 1  # that product's variant only
    assert run["progress"]["inventory-out"]["written"] == 1  # written back
    assert bc_calls(shop, "GET /v3/catalog/products") == reads_before + 1
    assert dict(qbo.admin.get("/admin/counters").json()) == qbo_before  # no back office read
    assert shop.web()["SKU07"] == skus["SKU07"]
    # ... whose own write-back is an echo again.
    wait_for(lambda: outcomes(shop).get("echo") == N + 1, what="the write-back's echo")
    assert len(runs(shop)) == 2

    # Honest counts: a Sync All now reads the web again and changes nothing, and says so.
    again = shop.ok("sync", "all", "--store", STORE)
    assert "This run changed nothing" in again.output
    latest = runs(shop)[0]["progress"]
    web_read = latest["inventory-in"]
    assert web_read["read"] > 0 and web_read["changed"] == 0
    assert web_read["unchanged"] == web_read["read"]
    assert latest["inventory-out"]["written"] == 0


def test_a_drift_repair_is_followed_by_no_run(
    sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path, stack: ExitStack
) -> None:
    """A repair is the hub's own write too: its webhooks are echoes, not news."""
    skus = {f"SKU{n:02}": n + 1 for n in range(5)}
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in skus]
    )
    shop = open_shop(sqlite_harness, bc_store, tmp_path, InventorySource.BACK_OFFICE)
    stack.callback(shop.stop)
    qbo = start_qbo(stack)
    connect_qbo(shop, qbo, **skus)
    shop.ok("sync", "all", "--store", STORE)
    wait_for(lambda: outcomes(shop).get("echo") == len(skus), what="the echoes")
    shop.quiet()
    # QuickBooks changes; the hub reads it (no push yet): the web now differs from its target.
    qbo.change("SKU03", qty=40)
    shop.ok("sync", "inventory-in", "--store", STORE)
    shop.ok("drift", "--store", STORE, "--repair")  # runs the repair now (Run N: ...)
    shop.quiet()
    wait_for(lambda: shop.web()["SKU03"] == 40, what="the repair to land")
    wait_for(lambda: outcomes(shop).get("echo") == len(skus) + 1, what="the repair's echo")
    shop.quiet()
    triggers = [run["trigger"] for run in runs(shop)]
    assert Trigger.WEBHOOK.value not in triggers, triggers  # the repair's webhook was an echo
    assert outcomes(shop) == {"echo": len(skus) + 1}


def test_a_burst_of_events_gives_one_run(
    sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path, stack: ExitStack
) -> None:
    skus = [f"B{n:03}" for n in range(BURST)]
    bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 5} for s in skus]
    )
    sqlite_harness.hub.settings.metrics_token = SecretStr(SCRAPE)
    shop = open_shop(sqlite_harness, bc_store, tmp_path, InventorySource.WEB)
    stack.callback(shop.stop)
    shop.ok("sync", "all", "--store", STORE)
    shop.quiet()
    before = len(runs(shop))
    reads_before = bc_calls(shop, "GET /v3/catalog/products")
    # One control-panel import changes all of them: BURST webhooks within a second.
    shop.bc.call("PUT", "/stock", json=dict.fromkeys(skus, 9))
    wait_for(lambda: sum(outcomes(shop).values()) == BURST, what="the burst to be processed")
    shop.quiet()
    history = runs(shop)
    assert len(history) == before + 1  # one run for the burst
    assert outcomes(shop) == {"run": 1, "coalesced": BURST - 1}
    assert history[0]["progress"]["inventory-in"]["read"] == BURST
    # The products named, in pages of 50 ids: not the whole catalog by date.
    assert bc_calls(shop, "GET /v3/catalog/products") == reads_before + BURST // 50
    with httpx.Client(base_url=shop.running.server.url) as client:
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE}"}).text
        assert 'stockbridge_webhook_events_total{outcome="coalesced"}' in metrics
        line = f'stockbridge_webhook_events_24h{{outcome="coalesced",store="{STORE}"}}'
        assert f"{line} {BURST - 1}.0" in metrics  # per store, with the metrics token
        # The dashboard's store page shows the figures.
        accounts.add_user(shop.running.hub, "ann", PASSWORD, stores=[STORE])
        log_in(client, "ann", PASSWORD)
        page = client.get(f"/stores/{STORE}").text
    assert f'<dd id="webhook-coalesced">{BURST - 1}</dd>' in page
    assert '<dd id="webhook-runs">1</dd>' in page
