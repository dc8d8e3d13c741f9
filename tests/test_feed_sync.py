"""Stock from a feed reaches the BigCommerce sandbox: CSV and JSON over HTTP (with ETag),
a folder, and an SFTP server started on loopback; only changes move."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stockbridge import services
from stockbridge.cli import build_app
from stockbridge.connectors.feed.ssh_lib import asyncssh
from stockbridge.domain.model import InventorySource, RunStatus
from tests.bc_helpers import SandboxStore
from tests.feed_support import (
    FeedServer,
    SftpServer,
    connect,
    feed_server_fixture,  # noqa: F401  (the feed_server fixture)
    make_hub,
    seed_web,
    sftp_server_fixture,  # noqa: F401  (the sftp_server fixture)
    sync_stock,
)


def items_pushed(bc: SandboxStore) -> int:
    """Stock items the web store was told to set, over all calls so far."""
    return int(bc.counters()["calls"].get("items_updated", 0))


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
    pushed = items_pushed(bc_store)
    hub.engine.dispose()
    hub = make_hub(tmp_path)  # a new process: the ETag is in the database

    again = sync_stock(hub)

    assert again.status is RunStatus.SUCCEEDED, again
    assert feed_server.downloads == downloads  # not downloaded again
    assert feed_server.not_modified == 1
    assert items_pushed(bc_store) == pushed  # nothing moved
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\nB,11\n"
    sync_stock(hub)
    assert feed_server.downloads == downloads + 1
    assert bc_store.stock() == {"A": 5, "B": 11, "C": 7}


@pytest.mark.parametrize("etags", [True, False], ids=["etag", "last-modified"])
def test_a_rejected_url_file_is_not_downloaded_again_while_it_is_served(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer, etags: bool
) -> None:
    """A pull every minute must not download and reject the same broken file each time:
    one conditional request tells it is unchanged, and the run still says it is bad."""
    feed_server.etags = etags

    def publish(body: bytes, hour: int) -> None:
        feed_server.files["stock.csv"] = body
        feed_server.modified["stock.csv"] = f"Mon, 23 Nov 2026 {hour:02}:00:00 GMT"

    seed_web(bc_store, {"A": 0, "B": 0})
    publish(b"sku,quantity\nA,5\nB,6\n", 8)
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=feed_server.url("stock.csv"))
    assert sync_stock(hub).status is RunStatus.SUCCEEDED
    publish(b"sku,quantity\nA,5\nB,six\n", 9)  # half the rows bad

    rejected = sync_stock(hub)
    downloads = feed_server.downloads
    still = sync_stock(hub)

    assert rejected.status is RunStatus.FAILED and still.status is RunStatus.FAILED
    assert "still the file rejected at" in str(still.steps["inventory-in"]["message"])
    assert feed_server.downloads == downloads  # one 304, no download
    assert bc_store.stock() == {"A": 5, "B": 6}  # nothing of the bad file applied
    publish(b"sku,quantity\nA,5\nB,7\n", 10)  # fixed
    assert sync_stock(hub).status is RunStatus.SUCCEEDED
    assert feed_server.downloads == downloads + 1 and bc_store.stock() == {"A": 5, "B": 7}
    assert sync_stock(hub).status is RunStatus.SUCCEEDED  # unchanged and good: a 304
    assert feed_server.downloads == downloads + 1


def test_json_url_with_a_bearer_token_and_a_path_to_the_array(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 0, "B": 0})
    feed_server.bearer = "feed-token"
    feed_server.files["stock.json"] = json.dumps(
        {
            "meta": {"n": 2},
            "data": {
                "products": [
                    {"code": "A", "onHand": 3, "price": 9.5, "title": "Alpha"},
                    {"code": "B", "onHand": "8"},
                ]
            },
        }
    ).encode()
    hub = make_hub(tmp_path)
    store_id = connect(
        hub,
        bc_store,
        mode=InventorySource.API,
        source=feed_server.url("stock.json"),
        format="json",
        json_path="data.products",
        sku_field="code",
        quantity_field="onHand",
        price_field="price",
        name_field="title",
        auth="bearer",
        secrets={"token": "feed-token"},
    )

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 3, "B": 8}
    product = services.product_detail(hub, store_id, "A")
    assert product is not None and product.name == "Alpha"
    assert product.price == Decimal("9.5")
    assert feed_server.refused == 0


def test_a_refused_token_fails_the_step_and_changes_nothing(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 4})
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\n"
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=feed_server.url("stock.csv"),
        auth="bearer",
        secrets={"token": "right"},
    )
    feed_server.bearer = "rotated"

    report = sync_stock(hub)

    assert report.status is RunStatus.FAILED
    assert "401" in str(report.steps["inventory-in"]["message"])
    assert bc_store.stock() == {"A": 4}


def test_folder_newest_file_applied_and_moved_then_only_changes_move(
    tmp_path: Path, bc_store: SandboxStore
) -> None:
    seed_web(bc_store, {f"S{i}": 0 for i in range(20)})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    old = inbox / "stock-1.csv"
    old.write_text("sku;quantity\n" + "".join(f"S{i};1\n" for i in range(20)))
    new = inbox / "stock-2.csv"
    new.write_text("sku;quantity\n" + "".join(f"S{i};{i}\n" for i in range(20)))
    os.utime(old, (time.time() - 120, time.time() - 120))
    os.utime(new, (time.time() - 60, time.time() - 60))
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=str(inbox), delimiter=";", pattern="*.csv")

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {f"S{i}": i for i in range(20)}
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [
        "stock-1.csv",
        "stock-2.csv",
    ]
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []
    assert report.steps["inventory-in"]["total"] == 20  # changes the snapshot brought

    newer = inbox / "stock-3.csv"
    newer.write_text("sku;quantity\n" + "".join(f"S{i};{i}\n" for i in range(19)) + "S19;0\n")
    os.utime(newer, (time.time() - 30, time.time() - 30))
    pushed = items_pushed(bc_store)

    again = sync_stock(hub)

    assert again.steps["inventory-in"]["total"] == 1  # only S19 changed in the hub
    assert items_pushed(bc_store) == pushed + 1
    assert bc_store.stock()["S19"] == 0


def test_a_file_still_being_written_waits_for_the_next_pull(
    tmp_path: Path, bc_store: SandboxStore
) -> None:
    seed_web(bc_store, {"A": 0})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "stock.csv").write_text("sku,quantity\nA,5\n")  # written just now
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=str(inbox))
    with hub.uow() as uow:  # connect() set settle 0; a merchant's default waits 5 s
        connection = uow.stores.connection(services.resolve_store(hub, "shop"), "back_office")
        assert connection is not None
        connection.settings = {**connection.settings, "settle_seconds": 3600}
        uow.commit()

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED
    assert bc_store.stock() == {"A": 0}
    assert (inbox / "stock.csv").exists()


def test_missing_zero_sets_absent_skus_to_zero_and_keep_leaves_them(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 0, "B": 0, "C": 0})
    feed_server.files["all.csv"] = b"sku,quantity\nA,1\nB,2\nC,3\n"
    feed_server.files["some.csv"] = b"sku,quantity\nA,1\n"
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=feed_server.url("all.csv"), missing="zero")
    sync_stock(hub)
    assert bc_store.stock() == {"A": 1, "B": 2, "C": 3}
    with hub.uow() as uow:
        connection = uow.stores.connection(services.resolve_store(hub, "shop"), "back_office")
        assert connection is not None
        connection.settings = {**connection.settings, "source": feed_server.url("some.csv")}
        uow.commit()

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 1, "B": 0, "C": 0}


def test_sftp_feed_with_a_password_then_with_a_key(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 0, "B": 0})
    exports = sftp_server.root / "exports"
    exports.mkdir()
    (exports / "stock.csv").write_text("sku,quantity,location\nA,6,\nB,9,default\n")
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/exports/stock.csv"),
        secrets={"password": sftp_server.password},
    )

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 6, "B": 9}
    logins = sftp_server.logins
    again = sync_stock(hub)  # unchanged size and time: nothing downloaded or applied
    assert again.steps["inventory-in"].get("total") is None  # no snapshot this time
    assert sftp_server.logins == logins + 1

    key = tmp_path / "id_ed25519"
    key.write_bytes(sftp_server.client_key.export_private_key())
    result = CliRunner().invoke(
        build_app(lambda: hub),
        [
            "connect",
            "feed",
            "--store",
            "shop",
            "--source",
            sftp_server.url("/exports/stock.csv"),
            "--sftp-key",
            str(key),
            "--sftp-host-key",
            sftp_server.public_host_key,
        ],
    )
    assert result.exit_code == 0, result.output
    (exports / "stock.csv").write_text("sku,quantity\nA,1\nB,2\n")

    report = sync_stock(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock() == {"A": 1, "B": 2}
    assert sftp_server.logins == logins + 1  # no password used since the key


def test_sftp_refuses_a_server_whose_host_key_changed(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 0})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,6\n")
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    hub = make_hub(tmp_path)
    result = CliRunner().invoke(
        build_app(lambda: hub),
        ["store", "add", "shop"],
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        build_app(lambda: hub),
        [
            "connect",
            "feed",
            "--store",
            "shop",
            "--source",
            sftp_server.url("/stock.csv"),
            "--password",
            sftp_server.password,
            "--sftp-host-key",
            impostor.export_public_key().decode(),
        ],
    )
    assert result.exit_code == 1
    assert "host key" in result.output
    assert sftp_server.logins == 0  # the password never reached the wrong server


def test_a_download_above_the_size_limit_is_not_read(
    tmp_path: Path, bc_store: SandboxStore, feed_server: FeedServer
) -> None:
    seed_web(bc_store, {"A": 4})
    feed_server.files["huge.csv"] = b"sku,quantity\n" + b"A,5\n" * 300_000  # 1.2 MB
    hub = make_hub(tmp_path)
    connect(hub, bc_store, source=feed_server.url("huge.csv"), max_file_mb=1)

    report = sync_stock(hub)

    assert report.status is RunStatus.FAILED
    assert "larger than 1 MB" in str(report.steps["inventory-in"]["message"])
    assert bc_store.stock() == {"A": 4}


@pytest.mark.parametrize(
    ("secrets", "settings", "required"),
    [
        pytest.param(
            {"username": "erp", "password": "pw"},
            {"auth": "basic"},
            {"authorization": "Basic ZXJwOnB3"},
            id="basic",
        ),
        pytest.param(
            {"header_value": "k-1"},
            {"auth": "header", "auth_header": "X-Api-Key"},
            {"x-api-key": "k-1"},
            id="custom-header",
        ),
    ],
)
def test_basic_auth_or_a_custom_header_and_last_modified_without_an_etag(
    tmp_path: Path,
    bc_store: SandboxStore,
    feed_server: FeedServer,
    secrets: dict[str, str],
    settings: dict[str, str],
    required: dict[str, str],
) -> None:
    seed_web(bc_store, {"A": 0})
    feed_server.required = required
    feed_server.etags = False
    feed_server.files["stock.csv"] = b"sku,quantity\nA,5\n"
    feed_server.modified["stock.csv"] = "Mon, 23 Nov 2026 08:00:00 GMT"
    hub = make_hub(tmp_path)
    connect(
        hub, bc_store, source=feed_server.url("stock.csv"), secrets=secrets, auth_settings=settings
    )

    assert sync_stock(hub).status is RunStatus.SUCCEEDED
    assert sync_stock(hub).status is RunStatus.SUCCEEDED

    assert bc_store.stock() == {"A": 5}
    assert (feed_server.downloads, feed_server.not_modified, feed_server.refused) == (2, 1, 0)
