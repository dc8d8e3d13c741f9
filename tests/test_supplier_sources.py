"""Several inventory sources per store: QuickBooks (the sandbox, over HTTP) as the primary
back office plus supplier feeds (folders), each owning its SKUs. Stock comes from each
SKU's owner, orders post once to QuickBooks, withholding counts against the owner, and
two sources claiming one SKU is refused at connect time or reported at read time."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from stockbridge import services
from stockbridge.bootstrap import Hub
from stockbridge.domain.model import SYNC_ALL, RunStatus
from stockbridge.domain.sources import CONFLICT_CODE, Supplier
from tests.fakes import FakeWebStore
from tests.qbo_support import Qbo, connect_store, make_hub, qbo_sandbox  # noqa: F401


class Folder:
    """A supplier's drop folder: each ``publish`` is a new file, newest read first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.count = 0
        self.stamp = 0.0

    def publish(self, rows: dict[str, int]) -> None:
        self.count += 1
        body = "sku,quantity\n" + "".join(f"{sku},{qty}\n" for sku, qty in rows.items())
        file = self.path / f"stock-{self.count}.csv"
        file.write_text(body)
        # Its time is when the supplier made it (what its stock reflects), in order.
        self.stamp = max(time.time(), self.stamp + 0.01)
        os.utime(file, (self.stamp, self.stamp))


def add_supplier(
    hub: Hub, name: str, folder: Folder, owns: str | None = None, missing: str = "keep"
) -> None:
    services.connect_partner(
        hub,
        "shop",
        role="supplier",
        kind="feed",
        settings={
            "source": str(folder.path),
            "settle_seconds": 0,
            "pattern": "*.csv",
            "missing": missing,
        },
        secrets={},
        supplier=name,
        owns=owns,
    )


def sync_all(hub: Hub) -> services.RunReport:
    return services.sync(hub, "shop", SYNC_ALL)


def back_office_qty(hub: Hub, store_id: int) -> dict[str, int | None]:
    with hub.uow() as uow:
        return {row[0]: row[2] for row in uow.catalog.iter_back_office_state(store_id)}


@pytest.fixture(name="shop")
def shop_with_quickbooks(tmp_path: Path, database_url: str, qbo: Qbo) -> tuple[Hub, FakeWebStore]:
    # QuickBooks keeps the drop-ship item too (orders post there), with a figure of its
    # own that must never reach the web: the supplier owns that SKU's stock.
    qbo.items({"sku": "A", "qty": 50}, {"sku": "ACME-1", "qty": 999})
    web = FakeWebStore()
    for sku in ("A", "ACME-1", "ACME-2"):
        web.add_variant(sku, 0)
    hub = make_hub(tmp_path, database_url, qbo, web)
    connect_store(hub, qbo)
    return hub, web


def test_stock_comes_from_each_sku_owner_and_orders_post_once_to_quickbooks(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore]
) -> None:
    hub, web = shop
    acme = Folder(tmp_path / "acme")
    # A row outside the supplier's pattern (A) is not its business: skipped.
    acme.publish({"ACME-1": 7, "ACME-2": 3, "A": 1000})
    add_supplier(hub, "acme", acme, owns="ACME-*")

    first = sync_all(hub)

    assert first.status is RunStatus.SUCCEEDED, first
    assert {sku: web.quantity(sku) for sku in ("A", "ACME-1", "ACME-2")} == {
        "A": 50,
        "ACME-1": 7,
        "ACME-2": 3,
    }

    order = web.place_order([("A", 2), ("ACME-1", 2)])
    second = sync_all(hub)

    assert second.status is RunStatus.SUCCEEDED, second
    assert qbo.receipts() == {order.number: 1}  # posted once, to QuickBooks only
    assert qbo.quantity("A") == 48
    # A: QuickBooks' read began after the post, so 48 already shows the order.
    # ACME-1: the supplier has not reported since the order: its 2 stay withheld.
    assert web.quantity("A") == 48 and web.quantity("ACME-1") == 5

    acme.publish({"ACME-1": 5, "ACME-2": 3})  # the supplier shipped the drop-ship order
    third = sync_all(hub)

    assert third.status is RunStatus.SUCCEEDED, third
    assert web.quantity("ACME-1") == 5 and web.quantity("A") == 48
    assert qbo.receipts() == {order.number: 1}


def test_a_pending_order_for_a_supplier_sku_withholds_from_that_sku(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore]
) -> None:
    hub, web = shop
    web.add_variant("ACME-3", 0)  # QuickBooks has no such item: its orders cannot post
    acme = Folder(tmp_path / "acme")
    acme.publish({"ACME-3": 7})
    add_supplier(hub, "acme", acme, owns="ACME-*")
    sync_all(hub)
    order = web.place_order([("ACME-3", 3)])
    acme.publish({"ACME-3": 7})  # a fresh supplier read: the order is still not posted

    report = sync_all(hub)

    assert report.status is RunStatus.PARTIAL, report
    assert [e.key for e in report.errors if order.number in e.key], report.errors
    assert qbo.receipts() == {}
    assert web.quantity("ACME-3") == 4  # 7 from the supplier, less the unposted 3


@pytest.mark.parametrize("owns", [None, "ACME-*"], ids=["listed", "pattern"])
def test_a_supplier_feed_that_zeroes_missing_skus_zeroes_only_its_own(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore], owns: str | None
) -> None:
    hub, web = shop
    acme = Folder(tmp_path / "acme")
    acme.publish({"ACME-1": 7, "ACME-2": 3})
    add_supplier(hub, "acme", acme, owns=owns, missing="zero")
    sync_all(hub)
    acme.publish({"ACME-2": 4})

    report = sync_all(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    assert {sku: web.quantity(sku) for sku in ("A", "ACME-1", "ACME-2")} == {
        "A": 50,  # QuickBooks' SKU: not the supplier's to zero
        "ACME-1": 0,
        "ACME-2": 4,
    }


def test_a_sku_two_suppliers_claim_stays_with_its_owner_and_is_reported(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore]
) -> None:
    hub, web = shop
    web.add_variant("L-1", 0)
    acme, lister = Folder(tmp_path / "acme"), Folder(tmp_path / "lister")
    acme.publish({"ACME-1": 7})
    lister.publish({"ACME-1": 100, "L-1": 4})
    add_supplier(hub, "acme", acme, owns="ACME-*")
    add_supplier(hub, "lister", lister)  # owns what it lists

    report = sync_all(hub)

    assert report.status is RunStatus.PARTIAL, report
    [conflict] = report.errors
    assert conflict.key == "ACME-1" and conflict.code == CONFLICT_CODE
    assert "'lister'" in conflict.message and "'acme'" in conflict.message
    assert web.quantity("ACME-1") == 7 and web.quantity("L-1") == 4  # the rest applied
    store_id = services.resolve_store(hub, "shop")
    with hub.uow() as uow:
        claims = uow.sources.claimed_skus(store_id)
    ids = {s.name: s.connection_id for s in _suppliers(hub, store_id)}
    assert claims == {"ACME-1": ids["acme"], "L-1": ids["lister"]}


def test_the_first_supplier_to_list_a_sku_owns_it(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore]
) -> None:
    hub, web = shop
    web.add_variant("X-1", 0)
    first, second = Folder(tmp_path / "first"), Folder(tmp_path / "second")
    first.publish({"X-1": 2})
    add_supplier(hub, "first", first)
    sync_all(hub)
    second.publish({"X-1": 9})
    add_supplier(hub, "second", second)

    report = sync_all(hub)

    assert [(e.key, e.code) for e in report.errors] == [("X-1", CONFLICT_CODE)]
    assert web.quantity("X-1") == 2


def test_overlapping_patterns_are_refused_at_connect_time_and_nothing_is_saved(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore]
) -> None:
    hub, web = shop
    web.add_variant("ACME-9", 0)  # known to the hub, listed by nobody: unclaimed
    acme, other = Folder(tmp_path / "acme"), Folder(tmp_path / "other")
    acme.publish({"ACME-1": 7, "ACME-2": 1})
    other.publish({"ZED-1": 1})
    add_supplier(hub, "acme", acme, owns="ACME-*")
    sync_all(hub)
    store_id = services.resolve_store(hub, "shop")
    before = _suppliers(hub, store_id)

    for owns, reason in [
        ("ACME-*", "overlaps supplier 'acme'"),
        ("ACME-1*", "overlaps supplier 'acme'"),
        ("*-9", "both match ACME-9"),  # by the patterns, on a SKU the hub knows
        ("*-2", "matches ACME-2, which supplier 'acme' lists"),  # a claimed SKU
        ("*", "matches every SKU"),
    ]:
        with pytest.raises(services.InvalidSetting, match=re.escape(reason)):
            add_supplier(hub, "other", other, owns=owns)

    assert _suppliers(hub, store_id) == before  # nothing saved


def test_disconnecting_a_supplier_hands_its_skus_back_to_quickbooks(
    tmp_path: Path, qbo: Qbo, shop: tuple[Hub, FakeWebStore]
) -> None:
    hub, web = shop
    acme = Folder(tmp_path / "acme")
    acme.publish({"ACME-1": 7, "ACME-2": 3})
    add_supplier(hub, "acme", acme, owns="ACME-*")
    sync_all(hub)
    assert web.quantity("ACME-1") == 7

    unknown = r"no supplier .nope. \(its suppliers: .acme.\)"
    with pytest.raises(services.InvalidSetting, match=unknown):
        services.disconnect_supplier(hub, "shop", "nope")
    removed = services.disconnect_supplier(hub, "shop", "acme")
    report = sync_all(hub)

    assert removed.released == 2
    assert report.status is RunStatus.SUCCEEDED, report
    store_id = services.resolve_store(hub, "shop")
    assert back_office_qty(hub, store_id)["ACME-1"] == 999  # QuickBooks' figure again
    assert back_office_qty(hub, store_id)["ACME-2"] is None  # nobody reports it now
    assert web.quantity("ACME-1") == 999 and web.quantity("ACME-2") == 3


def test_a_supplier_needs_the_primary_back_office_and_a_sound_name(
    tmp_path: Path, database_url: str, qbo: Qbo
) -> None:
    hub = make_hub(tmp_path, database_url, qbo, FakeWebStore())
    services.add_store(hub, "shop")
    folder = Folder(tmp_path / "acme")
    with pytest.raises(services.InvalidSetting, match="connect the store's back office first"):
        add_supplier(hub, "acme", folder)
    for name, reason in [("", "supplier name"), ("a/b", "supplier name")]:
        with pytest.raises(services.InvalidSetting, match=reason):
            add_supplier(hub, name, folder)
    with hub.uow() as uow:
        assert list(uow.stores.connections(services.resolve_store(hub, "shop"))) == []


def _suppliers(hub: Hub, store_id: int) -> list[Supplier]:
    with hub.uow() as uow:
        return list(uow.sources.suppliers(store_id))
