"""The dry run of Sync All tells no partner anything (issue 26): a feed's file is not
marked as taken (a folder keeps it, a URL does not remember its ETag), and an order's
status write-back pending from an earlier run is not sent. Each test then runs the real
Sync and shows the write the preview held back was really due."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from stockbridge import services
from stockbridge.domain.model import SYNC_ALL, RunStatus
from stockbridge.services.preview import plan_json, preview
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice
from tests.feed_support import (
    FeedServer,
    connect,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
    seed_web,
    sync_stock,
)

STATUS_WRITE = "PUT /v2/orders/{id}"


def _preview(hub: Any) -> dict[str, Any]:
    plan = preview(hub, "shop")
    try:
        return plan_json(plan)
    finally:
        plan.close()


def test_a_preview_leaves_a_folder_feeds_file_where_it_is(
    tmp_path: Path, bc_store: SandboxStore
) -> None:
    """Rule: a dry run never marks a feed file as taken (a folder's file stays, not moved
    to processed/), so the real run after it applies that file."""
    seed_web(bc_store, {"A": 0, "B": 0})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stock.csv").write_text("sku,quantity\nA,5\nB,6\n")
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=str(inbox))

    plan = _preview(hub)

    assert {c["sku"]: c["new"] for c in plan["stock_changes"]} == {"A": 5, "B": 6}
    assert [p.name for p in inbox.iterdir()] == ["stock.csv"]  # not moved anywhere
    assert bc_store.stock() == {"A": 0, "B": 0}

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 5, "B": 6}
    assert [p.name for p in (inbox / "processed").iterdir()] == ["stock.csv"]


def test_a_preview_leaves_a_rejected_folder_file_where_it_is(
    tmp_path: Path, bc_store: SandboxStore
) -> None:
    """Rule: a dry run never marks a feed file as rejected (not moved to rejected/): the
    merchant sees the real run reject it, not a preview."""
    seed_web(bc_store, {"A": 0, "B": 0})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stock.csv").write_text("sku,quantity\nA,five\nB,six\n")  # every row bad
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=str(inbox))

    _preview(hub)

    assert [p.name for p in inbox.iterdir()] == ["stock.csv"]

    report = sync_stock(hub)

    assert report.status is RunStatus.FAILED, report
    assert [p.name for p in (inbox / "rejected").iterdir()] == ["stock.csv"]


def test_a_preview_does_not_remember_a_url_feeds_etag(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    """Rule: a dry run never tells a URL feed its file was taken (no ETag remembered), so
    the real run downloads and applies it instead of hearing 304 Not Modified."""
    seed_web(bc_store, {"A": 0})
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\n"
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=feed_server.url("stock.csv"))

    plan = _preview(hub)

    assert {c["sku"]: c["new"] for c in plan["stock_changes"]} == {"A": 5}
    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert feed_server.not_modified == 0  # the real run's request was not conditional
    assert bc_store.stock() == {"A": 5}


def _order_status(bc: SandboxStore, order_id: int) -> int:
    with httpx.Client(base_url=bc.server.url) as client:
        response = client.get(
            f"/stores/{bc.hash}/v2/orders/{order_id}", headers={"X-Auth-Token": bc.token}
        )
    response.raise_for_status()
    return int(response.json()["status_id"])


def test_a_preview_does_not_send_a_pending_status_write_back(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    """Rule: a dry run never acknowledges orders on the web store, even when a status
    write-back is due (an earlier one was refused and the setting since fixed)."""
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 9}])
    bo = FakeBackOffice()
    bo.set_item("A", 9)
    # status 99 does not exist: the store refuses the write-back, which stays due
    store_id = sqlite_harness.add_store(
        web=bc_store.connector(status_after_post=99), back_office=bo
    )
    order = bc_store.order([("A", 1)])  # Awaiting Fulfillment (11)
    hub = sqlite_harness.hub
    first = services.sync(hub, None, SYNC_ALL)
    assert first.status is RunStatus.PARTIAL, first  # posted; its write-back refused
    assert [d.web_id for d in bo.documents] == [str(order["id"])]
    partners = sqlite_harness.partners[store_id]
    sqlite_harness.partners[store_id] = type(partners)(
        bc_store.connector(status_after_post=2),  # Shipped: a status the store has
        partners.web_connection_id,
        partners.back_office,
        partners.back_office_connection_id,
    )
    writes = bc_store.counters()["calls"].get(STATUS_WRITE, 0)

    _preview(hub)

    assert bc_store.counters()["calls"].get(STATUS_WRITE, 0) == writes
    assert _order_status(bc_store, order["id"]) == 11

    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    assert _order_status(bc_store, order["id"]) == 2  # the write-back was really due
