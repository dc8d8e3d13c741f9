"""Stock from a feed reaches the BigCommerce sandbox: CSV and JSON over HTTP (with ETag),
a folder, and an SFTP server started on loopback; only changes move."""

from __future__ import annotations

from pathlib import Path

from stockbridge.domain.model import RunStatus
from tests.bc_helpers import SandboxStore
from tests.feed_support import (
    FeedServer,
    connect,
    feed_server,  # noqa: F401  (fixture)
    make_hub,
    seed_web,
    sftp_server,  # noqa: F401  (fixture)
    sync_stock,
)

PUSH = "PUT /v3/inventory/adjustments/absolute"


def test_csv_url_reaches_the_web_store_and_an_unchanged_feed_costs_one_304(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 0, "B": 0, "C": 7})
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\nB,12\n"
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=feed_server.url("stock.csv"))

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 5, "B": 12, "C": 7}  # C absent from the feed: kept
    downloads = feed_server.downloads
    pushes = bc_store.counters()

    again = sync_stock(hub)

    assert again.status is RunStatus.SUCCEEDED, again
    assert feed_server.downloads == downloads  # not downloaded again
    assert feed_server.not_modified == 1
    assert bc_store.counters().get(PUSH, 0) == pushes.get(PUSH, 0)  # nothing moved
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\nB,11\n"
    sync_stock(hub)
    assert feed_server.downloads == downloads + 1
    assert bc_store.stock() == {"A": 5, "B": 11, "C": 7}
