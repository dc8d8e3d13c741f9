"""Web orders out as files: one file per order, exactly once, across a hub crash between
writing a file and recording it (a real kill -9 of ``stockbridge sync``), and never a
partial file under the final name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from stockbridge import services
from stockbridge.connectors.feed import make_back_office
from stockbridge.connectors.feed.order_files import (
    LEDGER,
    FolderDestination,
    is_temp_of,
    write_atomically,
)
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.db.models import Order
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step
from tests.bc_helpers import SandboxStore
from tests.conftest import NO_WAIT, Harness
from tests.fakes import FakeWebStore, HubCrash
from tests.feed_support import (
    SftpServer,
    connect,
    make_hub,
    seed_web,
    sftp_server_fixture,  # noqa: F401  (the sftp_server fixture)
)

EXE = str(Path(sys.executable).with_name("stockbridge"))


def feed_env(**settings: Any) -> ConnectorEnv:
    return ConnectorEnv(
        settings={"settle_seconds": 0, **settings},
        vault=MemoryVault({}),
        limiters=LimiterRegistry(),
        retry=NO_WAIT,
    )


def listing(folder: Path) -> list[str]:
    """Everything in an orders folder but the hub's ledger (which must be there)."""
    names = sorted(p.name for p in folder.iterdir())
    assert LEDGER in names, names
    names.remove(LEDGER)
    return names


def post_states(harness_hub: Any, store_id: int) -> dict[str, str]:
    with harness_hub.uow() as uow:
        rows = uow.session.execute(
            select(Order.number, Order.post_state).where(Order.store_id == store_id)
        ).all()
    return {number: state for number, state in rows}


@pytest.mark.parametrize("file_format", ["json", "csv"])
def test_each_web_order_is_written_once_as_a_file_named_by_its_number(
    sqlite_harness: Harness, tmp_path: Path, file_format: str
) -> None:
    stock, outbox = tmp_path / "stock", tmp_path / "outbox"
    stock.mkdir()
    outbox.mkdir()
    (stock / "stock.csv").write_text("sku,quantity\nA,10\nB,10\n")
    web = FakeWebStore()
    web.add_variant("A", 10)
    web.add_variant("B", 10)
    back_office = make_back_office(
        feed_env(source=str(stock), orders_to=str(outbox), orders_format=file_format)
    )
    store_id = sqlite_harness.add_store(web=web, back_office=back_office)
    first = web.place_order([("A", 2), ("B", 1)])
    second = web.place_order([("A", 1)])

    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, report
    names = listing(outbox)
    assert names == sorted(f"order-{o.number}.{file_format}" for o in (first, second))
    assert sorted(p.name for p in (outbox / LEDGER).iterdir()) == names
    content = (outbox / f"order-{first.number}.{file_format}").read_text()
    if file_format == "json":
        document = json.loads(content)
        assert document["web_order_id"] == first.web_id
        assert [(line["sku"], line["quantity"]) for line in document["lines"]] == [
            ("A", 2),
            ("B", 1),
        ]
    else:
        lines = content.splitlines()
        assert lines[0].startswith("order_number,")
        assert len(lines) == 3 and ",A," in lines[1] and ",B," in lines[2]
    assert set(post_states(sqlite_harness.hub, store_id).values()) == {"posted"}
    written = {p.name: p.stat().st_mtime_ns for p in outbox.glob("order-*")}

    again = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert again.status is RunStatus.SUCCEEDED
    assert {p.name: p.stat().st_mtime_ns for p in outbox.glob("order-*")} == written
    # The back office has not taken the orders in yet (its feed still says 10): the hub
    # withholds them from the web meanwhile.
    assert web.quantity("A") == 10 - 3


class CrashAfterWriting:
    """The hub dies right after the order files were renamed into place."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.max_orders_per_call = inner.max_orders_per_call
        self.accepts_orders = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def post_orders(self, requests: Any) -> Any:
        self.inner.post_orders(requests)
        raise HubCrash("the hub died after writing the order files")


def test_crash_between_writing_and_recording_never_writes_twice(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    stock, outbox = tmp_path / "stock", tmp_path / "outbox"
    stock.mkdir()
    outbox.mkdir()
    web = FakeWebStore()
    web.add_variant("A", 10)
    inner = make_back_office(feed_env(source=str(stock), orders_to=str(outbox)))
    store_id = sqlite_harness.add_store(web=web, back_office=CrashAfterWriting(inner))
    order = web.place_order([("A", 2)])

    first = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert first.status is RunStatus.FAILED and "HubCrash" in (first.error or "")
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "uncertain"}
    written = (outbox / f"order-{order.number}.json").stat()
    partners = sqlite_harness.partners[store_id]
    sqlite_harness.partners[store_id] = type(partners)(
        partners.web, partners.web_connection_id, inner, partners.back_office_connection_id
    )

    second = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert second.status is RunStatus.SUCCEEDED, second
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "posted"}
    assert listing(outbox) == [f"order-{order.number}.json"]
    again = (outbox / f"order-{order.number}.json").stat()
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)


def importer_view(folder: Path, pattern: str = "*.json") -> list[str]:
    """What a typical importer picks up: plain files matching its pattern, dot-files
    skipped, no descent into subfolders."""
    return sorted(
        e.name
        for e in os.scandir(folder)
        if e.is_file() and not e.name.startswith(".") and fnmatch(e.name, pattern)
    )


def orders_shop(harness: Harness, tmp_path: Path) -> tuple[FakeWebStore, Path]:
    stock, outbox = tmp_path / "stock", tmp_path / "outbox"
    stock.mkdir()
    outbox.mkdir()
    web = FakeWebStore()
    web.add_variant("A", 10)
    return web, outbox


def test_an_importer_that_takes_the_file_away_before_it_was_recorded_gets_it_once(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    """The POS importer moves ``order-N.json`` away after reading it; the hub had died
    before recording the order as posted. The ledger still knows it was written."""
    web, outbox = orders_shop(sqlite_harness, tmp_path)
    inner = make_back_office(feed_env(source=str(tmp_path / "stock"), orders_to=str(outbox)))
    store_id = sqlite_harness.add_store(web=web, back_office=CrashAfterWriting(inner))
    order = web.place_order([("A", 2)])
    assert services.sync(sqlite_harness.hub, None, SYNC_ALL).status is RunStatus.FAILED
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "uncertain"}
    imported = tmp_path / "imported"
    imported.mkdir()
    for name in importer_view(outbox):  # the importer takes what it sees
        os.replace(outbox / name, imported / name)
    partners = sqlite_harness.partners[store_id]
    sqlite_harness.partners[store_id] = type(partners)(
        partners.web, partners.web_connection_id, inner, partners.back_office_connection_id
    )

    second = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert second.status is RunStatus.SUCCEEDED, second
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "posted"}
    assert listing(outbox) == []  # not written again
    assert [p.name for p in imported.iterdir()] == [f"order-{order.number}.json"]
    assert (outbox / LEDGER).is_dir() and importer_view(outbox, "*") == []


class DiesBeforeRename(FolderDestination):
    """The hub dies after the marker is in place, before the file's rename."""

    def _publish(self, folder_fd: int, temp: str, final: str) -> None:
        raise HubCrash("the hub died between the marker and the rename")


def test_crash_between_marker_and_rename_is_finished_by_the_next_lookup(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    web, outbox = orders_shop(sqlite_harness, tmp_path)
    back_office = make_back_office(feed_env(source=str(tmp_path / "stock"), orders_to=str(outbox)))
    healthy = back_office.orders
    back_office.orders = DiesBeforeRename(outbox)
    store_id = sqlite_harness.add_store(web=web, back_office=back_office)
    order = web.place_order([("A", 2)])
    final = f"order-{order.number}.json"

    first = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert first.status is RunStatus.FAILED and "HubCrash" in (first.error or "")
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "uncertain"}
    (pending,) = listing(outbox)  # complete, but not under its final name
    assert is_temp_of(pending, final)
    assert importer_view(outbox, "*") == []
    assert [p.name for p in (outbox / LEDGER).iterdir()] == [final]
    back_office.orders = healthy

    second = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert second.status is RunStatus.SUCCEEDED, second
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "posted"}
    assert listing(outbox) == [final]
    assert json.loads((outbox / final).read_text())["web_order_id"] == order.web_id


def test_a_leftover_temporary_file_without_a_marker_is_written_again(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    """The hub died while writing the temporary file (no marker yet): not written."""
    web, outbox = orders_shop(sqlite_harness, tmp_path)
    back_office = make_back_office(feed_env(source=str(tmp_path / "stock"), orders_to=str(outbox)))
    store_id = sqlite_harness.add_store(web=web, back_office=back_office)
    order = web.place_order([("A", 2)])
    final = f"order-{order.number}.json"
    services.sync(sqlite_harness.hub, None, (Step.ORDERS_IN,))
    with sqlite_harness.hub.uow() as uow:
        uow.session.execute(
            update(Order).where(Order.store_id == store_id).values(post_state="uncertain")
        )
        uow.commit()
    (outbox / f".stockbridge-{final}.0123456789abcdef.tmp").write_bytes(b'{"web_order_id": "h')
    (outbox / f".stockbridge-{final}.tmp").write_bytes(b'{"web_order_id": "h')  # earlier versions

    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, report
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "posted"}
    assert listing(outbox) == [final]
    assert json.loads((outbox / final).read_text())["web_order_id"] == order.web_id


def test_a_batch_stopped_halfway_records_the_files_it_completed(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    web, outbox = orders_shop(sqlite_harness, tmp_path)
    store_id = sqlite_harness.add_store(
        web=web,
        back_office=make_back_office(
            feed_env(source=str(tmp_path / "stock"), orders_to=str(outbox))
        ),
    )
    first, second, third = (web.place_order([("A", 1)]) for _ in range(3))
    squatter = outbox / f"order-{second.number}.json"  # the disk refuses the second file
    (squatter / "inside").mkdir(parents=True)

    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert report.status is RunStatus.PARTIAL
    assert post_states(sqlite_harness.hub, store_id) == {
        first.number: "posted",  # at once, not looked up later
        second.number: "uncertain",
        third.number: "uncertain",
    }
    assert listing(outbox) == sorted([f"order-{first.number}.json", squatter.name])
    shutil.rmtree(squatter)

    again = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert again.status is RunStatus.SUCCEEDED, again
    assert set(post_states(sqlite_harness.hub, store_id).values()) == {"posted"}
    assert listing(outbox) == sorted(f"order-{o.number}.json" for o in (first, second, third))


def sb(home: Path, database_url: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "STOCKBRIDGE_HOME": str(home),
        "STOCKBRIDGE_DATABASE_URL": database_url,
        "STOCKBRIDGE_RETRY_BASE_DELAY": "0",
        "STOCKBRIDGE_OUTBOUND_ALLOW": "loopback",  # the SFTP test server is on 127.0.0.1
    }
    return subprocess.Popen(
        [EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def sftp_orders_hub(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> tuple[Any, str, int, list[str]]:
    seed_web(bc_store, {"A": 20})
    (sftp_server.root / "stock.csv").write_text("sku,quantity\nA,20\n")
    (sftp_server.root / "orders").mkdir()
    database_url = f"sqlite:///{tmp_path / 'hub.db'}"
    hub = make_hub(tmp_path, database_url)
    connect(
        hub,
        bc_store,
        source=sftp_server.url("/stock.csv"),
        orders_to=sftp_server.url("/orders"),
        secrets={"password": sftp_server.password},
    )
    store_id = services.resolve_store(hub, "shop")
    placed = [bc_store.order([("A", 1)]) for _ in range(3)]
    return hub, database_url, store_id, sorted(str(o["id"]) for o in placed)


def test_kill_9_between_writing_and_recording_then_restart_writes_each_order_once(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    """A real hub process (``stockbridge sync all``) is killed by the SFTP server the
    moment an order file is renamed into place, before the hub hears back; the POS
    importer then takes that file away before the hub restarts."""
    hub, database_url, store_id, numbers = sftp_orders_hub(tmp_path, bc_store, sftp_server)
    orders = sftp_server.root / "orders"

    kill = sftp_server.arm_kill()
    process = sb(tmp_path / "home", database_url, "sync", "all", "--store", "shop")
    kill(process.pid)
    process.wait(timeout=60)

    assert process.returncode == -9, process.stderr.read() if process.stderr else ""
    assert sftp_server.renames == 1  # the first file is complete; its record never made it
    assert "uncertain" in post_states(hub, store_id).values()
    (taken,) = importer_view(orders)
    imported = sftp_server.root / "imported"
    imported.mkdir()
    os.replace(orders / taken, imported / taken)

    restarted = sb(tmp_path / "home", database_url, "sync", "all", "--store", "shop")
    restarted.wait(timeout=60)

    assert restarted.returncode == 0, restarted.stderr.read() if restarted.stderr else ""
    files = listing(orders)
    assert files == sorted(f"order-{n}.json" for n in numbers if f"order-{n}.json" != taken)
    assert sftp_server.renames == 3  # each order written once, the first not again
    assert set(post_states(hub, store_id).values()) == {"posted"}
    assert sorted(p.name for p in (orders / LEDGER).iterdir()) == sorted(
        f"order-{n}.json" for n in numbers
    )
    hub.engine.dispose()


def test_kill_9_between_the_marker_and_the_rename_then_restart_finishes_the_file(
    tmp_path: Path, bc_store: SandboxStore, sftp_server: SftpServer
) -> None:
    hub, database_url, store_id, numbers = sftp_orders_hub(tmp_path, bc_store, sftp_server)
    orders = sftp_server.root / "orders"

    kill = sftp_server.arm_kill(at="marker")
    process = sb(tmp_path / "home", database_url, "sync", "all", "--store", "shop")
    kill(process.pid)
    process.wait(timeout=60)

    assert process.returncode == -9, process.stderr.read() if process.stderr else ""
    assert sftp_server.renames == 0 and importer_view(orders, "*") == []
    (pending,) = listing(orders)  # the complete file, under its temporary name only
    assert pending.startswith(".") and pending.endswith(".tmp")

    restarted = sb(tmp_path / "home", database_url, "sync", "all", "--store", "shop")
    restarted.wait(timeout=60)

    assert restarted.returncode == 0, restarted.stderr.read() if restarted.stderr else ""
    assert listing(orders) == sorted(f"order-{n}.json" for n in numbers)
    assert sftp_server.renames == 3  # the first finished by the lookup, each once
    assert set(post_states(hub, store_id).values()) == {"posted"}
    hub.engine.dispose()


def test_a_partial_file_is_never_visible_under_the_final_name(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"number": "1001", '
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path, "order-1001.json", chunks())

    assert list(tmp_path.iterdir()) == []  # neither the final name nor a leftover

    write_atomically(tmp_path, "order-1001.json", [b"{}", b"\n"])
    assert [p.name for p in tmp_path.iterdir()] == ["order-1001.json"]
    assert (tmp_path / "order-1001.json").read_bytes() == b"{}\n"


def test_a_feed_without_an_orders_destination_takes_no_orders(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    stock = tmp_path / "stock"
    stock.mkdir()
    web = FakeWebStore()
    web.add_variant("A", 10)
    store_id = sqlite_harness.add_store(
        web=web, back_office=make_back_office(feed_env(source=str(stock)))
    )
    order = web.place_order([("A", 1)])

    report = services.sync(sqlite_harness.hub, None, (Step.ORDERS_IN, Step.ORDERS_OUT))

    assert report.status is RunStatus.SUCCEEDED
    assert report.steps["orders-out"]["status"] == "skipped"
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "pending"}


def test_an_order_number_that_is_not_a_safe_file_name_is_made_one(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    stock, outbox = tmp_path / "stock", tmp_path / "outbox"
    stock.mkdir()
    outbox.mkdir()
    web = FakeWebStore()
    web.add_variant("A", 10)
    back_office = make_back_office(feed_env(source=str(stock), orders_to=str(outbox)))
    sqlite_harness.add_store(web=web, back_office=back_office)
    order = web.place_order([("A", 1)])
    object.__setattr__(web.orders[order.web_id], "number", "../../etc/passwd")

    services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert listing(outbox) == ["order-_.._etc_passwd.json"]  # stays in the folder


def test_a_disk_that_refuses_an_order_file_leaves_it_uncertain_then_written_once(
    sqlite_harness: Harness, tmp_path: Path
) -> None:
    stock, outbox = tmp_path / "stock", tmp_path / "outbox"
    stock.mkdir()
    outbox.mkdir()
    web = FakeWebStore()
    web.add_variant("A", 10)
    store_id = sqlite_harness.add_store(
        web=web, back_office=make_back_office(feed_env(source=str(stock), orders_to=str(outbox)))
    )
    order = web.place_order([("A", 1)])
    # The final rename fails (a folder squats the name; root ignores permissions, so
    # this is how the test makes the disk refuse).
    squatter = outbox / f"order-{order.number}.json"
    (squatter / "inside").mkdir(parents=True)

    report = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert report.status is RunStatus.PARTIAL
    assert any("writing order files" in e.message for e in report.errors), report.errors
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "uncertain"}
    assert listing(outbox) == [squatter.name]  # no temporary file left
    assert list((outbox / LEDGER).iterdir()) == []  # and no marker: it was not written
    shutil.rmtree(squatter)  # the disk is back

    again = services.sync(sqlite_harness.hub, None, SYNC_ALL)

    assert again.status is RunStatus.SUCCEEDED
    assert listing(outbox) == [f"order-{order.number}.json"]
    assert post_states(sqlite_harness.hub, store_id) == {order.number: "posted"}
