"""Folders other people write to (an importer's drop folder, a POS's export folder) can
hold symlinks planted there: the hub never writes through one nor reads a file out of
its folder through one (issue 19)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from stockbridge import services
from stockbridge.connectors.errors import PartnerError
from stockbridge.connectors.feed.order_files import LEDGER, FolderDestination, temp_name
from stockbridge.connectors.feed.sources import FolderSource
from stockbridge.domain.model import SYNC_ALL, RunStatus
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeWebStore
from tests.feed_support import (
    SftpServer,
    connect,
    make_hub,
    seed_web,
    sftp_server_fixture,  # noqa: F401  (the sftp_server fixture)
)
from tests.test_feed_orders import feed_env, post_states

SECRET = b"the hub's credentials key\n"


def victim(tmp_path: Path) -> Path:
    """A file the hub must never change (think ``credentials.key``)."""
    target = tmp_path / "private" / "credentials.key"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(SECRET)
    return target


def outbox_shop(harness: Harness, tmp_path: Path) -> tuple[FakeWebStore, Path, int]:
    from stockbridge.connectors.feed import make_back_office

    stock, outbox = tmp_path / "stock", tmp_path / "outbox"
    stock.mkdir()
    outbox.mkdir()
    web = FakeWebStore()
    web.add_variant("A", 10)
    back_office = make_back_office(feed_env(source=str(stock), orders_to=str(outbox)))
    return web, outbox, harness.add_store(web=web, back_office=back_office)


def test_temporary_order_file_names_are_unpredictable(tmp_path: Path) -> None:
    """Two writes of the same order use different temporary names, so none can be
    planted in advance; each is a hidden ``.tmp`` the importer skips."""
    names = {temp_name("order-1001.json") for _ in range(50)}
    assert len(names) == 50
    assert all(n.startswith(".") and n.endswith(".tmp") for n in names)


def test_symlinks_planted_at_every_predictable_name_never_redirect_a_write(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    web, outbox, store_id = outbox_shop(sqlite_harness, tmp_path)
    target = victim(tmp_path)
    order = web.place_order([("A", 1)])
    final = f"order-{order.number}.json"
    (outbox / LEDGER).mkdir()
    planted = [
        outbox / final,  # the final name
        outbox / f".stockbridge-{final}.tmp",  # the temporary name of earlier versions
        outbox / LEDGER / final,  # the marker
    ]
    for link in planted:
        link.symlink_to(target)

    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, report
    assert target.read_bytes() == SECRET
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "posted"}
    written = outbox / final
    assert not written.is_symlink()  # the link itself was replaced, not written through
    assert json.loads(written.read_text())["web_order_id"] == order.web_id
    assert not (outbox / LEDGER / final).is_symlink()


def test_a_symlinked_ledger_folder_is_refused_and_nothing_is_written_out_of_the_folder(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    web, outbox, store_id = outbox_shop(sqlite_harness, tmp_path)
    target = victim(tmp_path)
    (outbox / LEDGER).symlink_to(target.parent)
    order = web.place_order([("A", 1)])

    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert report.status is not RunStatus.SUCCEEDED
    assert "symbolic link" in str(report.errors) + str(report.error)
    assert sorted(p.name for p in target.parent.iterdir()) == ["credentials.key"]
    assert target.read_bytes() == SECRET
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "uncertain"}
    assert [p.name for p in outbox.iterdir()] == [LEDGER]  # no order file, no temp left


def test_a_forged_marker_cannot_rename_a_file_from_outside_the_folder(tmp_path: Path) -> None:
    """A marker names the temporary file to finish; one naming a path is ignored."""
    outbox = tmp_path / "outbox"
    (outbox / LEDGER).mkdir(parents=True)
    target = victim(tmp_path)
    forged = {"file": "order-1.json", "temp": f"../private/{target.name}"}
    (outbox / LEDGER / "order-1.json").write_text(json.dumps(forged))

    assert FolderDestination(outbox).existing(["order-1.json"]) == {"order-1.json"}

    assert target.read_bytes() == SECRET
    assert not (outbox / "order-1.json").exists()


def test_order_files_take_the_folders_permissions_and_markers_stay_private(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    outbox.chmod(0o700)
    destination = FolderDestination(outbox)

    written = destination.write([("order-1.json", b"{}\n")])

    assert written.done == ["order-1.json"] and written.error is None
    assert stat.S_IMODE((outbox / "order-1.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((outbox / LEDGER).stat().st_mode) == 0o700
    assert stat.S_IMODE((outbox / LEDGER / "order-1.json").stat().st_mode) == 0o600


def test_sftp_order_files_never_write_through_a_planted_symlink(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    seed_web(bc_store, {"A": 20})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,20\n")
    orders = sftp_server.root / "orders"
    orders.mkdir()
    target = victim(tmp_path)
    hub = make_hub(tmp_path)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/stock.csv"),
        orders_to=sftp_server.url("/orders"),
        secrets={"password": sftp_server.password},
    )
    order = bc_store.order([("A", 1)])
    final = f"order-{order['id']}.json"
    (orders / final).symlink_to(target)
    (orders / f".stockbridge-{final}.tmp").symlink_to(target)

    report = services.sync(hub, "shop", SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, (report.error, report.errors)
    assert target.read_bytes() == SECRET
    assert not (orders / final).is_symlink()
    assert json.loads((orders / final).read_text())["web_order_id"] == str(order["id"])

    # A symlinked ledger folder is refused: nothing lands beside the key.
    (orders / LEDGER).rename(tmp_path / "old-ledger")
    (orders / LEDGER).symlink_to(target.parent)
    bc_store.order([("A", 1)])

    refused = services.sync(hub, "shop", SYNC_ALL)

    assert refused.status is not RunStatus.SUCCEEDED
    assert "symbolic link" in str(refused.errors) + str(refused.error)
    assert sorted(p.name for p in target.parent.iterdir()) == ["credentials.key"]
    hub.engine.dispose()


# the folder feed ----------------------------------------------------------------------


def test_the_folder_feed_ignores_symlinks_out_of_its_folder(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("sku,quantity\nA,1\n")
    (feed / "stock.csv").symlink_to(outside / "secret.csv")
    (feed / "sub.csv").symlink_to(outside)  # a directory, too
    (feed / "real.csv").write_text("sku,quantity\nB,2\n")
    source = FolderSource(feed, pattern="*.csv", files="all", settle_seconds=0)

    names = [fetched.name for fetched in source.fetch()]

    assert names == ["real.csv"]


def test_a_symlink_inside_the_folder_is_read(tmp_path: Path) -> None:
    """A link to another file in the same folder is the merchant's own doing."""
    feed = tmp_path / "feed"
    (feed / "exports").mkdir(parents=True)
    (feed / "exports" / "today.csv").write_text("sku,quantity\nB,2\n")
    (feed / "stock.csv").symlink_to(feed / "exports" / "today.csv")
    source = FolderSource(feed, pattern="*.csv", files="all", settle_seconds=0)

    assert [fetched.name for fetched in source.fetch()] == ["stock.csv"]


@pytest.mark.parametrize("where", ["processed", "rejected"])
def test_moves_to_processed_or_rejected_never_follow_a_symlinked_folder(
    tmp_path: Path, where: str
) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (feed / where).symlink_to(outside)
    (feed / "stock.csv").write_text("sku,quantity\nA,1\n")
    source = FolderSource(feed, settle_seconds=0)

    (fetched,) = source.fetch()
    with pytest.raises(PartnerError, match="symbolic link"):
        (fetched.on_accepted if where == "processed" else fetched.on_rejected)()

    assert list(outside.iterdir()) == []
    assert (feed / "stock.csv").is_file()  # left where it was: read again next time
    assert os.path.islink(feed / where)
