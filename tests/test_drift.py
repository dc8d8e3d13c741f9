"""Drift against the BigCommerce sandbox: stock changed on the web behind the hub's back
is listed exactly, repaired exactly (a run of its own), and then there is none; a repair
waits for a run that holds the store."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from stockbridge import services
from stockbridge.db.models import DriftCheck
from stockbridge.domain.drift import DriftEntry, classify
from stockbridge.domain.inventory import StockRow
from stockbridge.domain.model import SYNC_ALL, InventorySource, RunStatus, Trigger
from stockbridge.services.drift import drift_csv, drift_json, drift_report, request_repair
from stockbridge.sync.runner import RunTimeout
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice
from tests.test_preview import Recording

SKUS = [f"S{i}" for i in range(8)]


def _shop(harness: Harness, bc: SandboxStore) -> tuple[int, Recording, FakeBackOffice]:
    bc.seed([{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in SKUS])
    bo = FakeBackOffice()
    for n, sku in enumerate(SKUS):
        bo.set_item(sku, 10 + n)
    web = Recording(bc.connector())
    store_id = harness.add_store(web=web, back_office=bo)
    assert services.sync(harness.hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    return store_id, web, bo


def _behind_the_hubs_back(bc: SandboxStore, **stock: int) -> None:
    httpx.put(f"{bc.server.url}/admin/stores/{bc.hash}/stock", json=stock).raise_for_status()


def test_drift_listed_exactly_repaired_exactly_then_none(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    hub = sqlite_harness.hub
    store_id, web, _bo = _shop(sqlite_harness, bc_store)
    assert drift_report(hub, "shop").total == 0
    _behind_the_hubs_back(bc_store, S2=99, S5=0)
    bc_store.order([("S7", 1)])  # the web's own decrement for an order: not drift

    report = drift_report(hub, "shop")
    listed = {(e.sku, e.location): (e.kind, e.web, e.last_sent, e.should) for e in report.entries}
    assert listed == {
        ("S2", "default"): ("web-differs", 99, 12, 12),
        ("S5", "default"): ("web-differs", 0, 15, 15),
    }
    assert len(report.entries) == 2
    assert report.counts == {"web-differs": 2, "web-only": 0, "hub-only": 0}
    assert drift_json(report)["total"] == 2
    csv_text = "".join(drift_csv(report.entries))
    lines = csv_text.splitlines()
    assert lines[0] == "sku,location,kind,web,last_sent,should"
    assert sorted(lines[1:]) == [
        "S2,default,web-differs,99,12,12",
        "S5,default,web-differs,0,15,15",
    ]

    web.pushed.clear()
    requested = request_repair(hub, "shop")
    result = hub.runner().execute(requested.run_id)
    assert result.status is RunStatus.SUCCEEDED, result
    assert web.pushed == {("S2", "default"): 12, ("S5", "default"): 15}  # exactly those
    assert hub.runner().report(requested.run_id).steps["inventory-out"]["done"] == 2
    with hub.uow() as uow:
        run = uow.runs.record(requested.run_id)
        assert run is not None and run.trigger is Trigger.REPAIR
    stock = bc_store.stock()
    assert (stock["S2"], stock["S5"], stock["S7"]) == (12, 15, 16)
    assert drift_report(hub, "shop").total == 0
    with hub.uow() as uow:
        checks = uow.session.execute(
            select(DriftCheck.source, DriftCheck.drifted)
            .where(DriftCheck.store_id == store_id, DriftCheck.source != "inventory-in")
            .order_by(DriftCheck.id)
        ).all()
    assert [tuple(c) for c in checks] == [
        ("report", 0),
        ("report", 2),
        ("repair", 2),
        ("report", 0),
    ]


def test_inventory_in_counts_the_drift_its_web_read_finds(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    hub = sqlite_harness.hub
    product = {"name": "V", "sku": "V", "tracking": "variant"}
    product["variants"] = [{"sku": "V-1", "inventory_level": 0}]  # type: ignore[assignment]
    created = bc_store.seed([product])[0]
    store_id, _web, bo = _shop(sqlite_harness, bc_store)
    bo.set_item("V-1", 5)
    services.sync(hub, None, SYNC_ALL)
    assert bc_store.stock()["V-1"] == 5
    # A catalog write on the web (it moves the product's date_modified, so the next
    # incremental read sees it): V-1's stock, behind the hub's back.
    variant_id = created["variant_ids"][0]
    with httpx.Client(base_url=bc_store.server.url) as client:
        client.put(
            f"/stores/{bc_store.hash}/v3/catalog/variants",
            json=[{"id": variant_id, "inventory_level": 1}],
            headers={"X-Auth-Token": bc_store.token},
        ).raise_for_status()
    services.sync(hub, None, SYNC_ALL)
    with hub.uow() as uow:
        last = uow.session.scalars(
            select(DriftCheck.drifted)
            .where(DriftCheck.store_id == store_id, DriftCheck.source == "inventory-in")
            .order_by(DriftCheck.id.desc())
        ).first()
    assert last == 1
    assert bc_store.stock()["V-1"] == 5  # and the run's inventory-out set it right


def test_a_repair_waits_for_the_run_holding_the_store(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    hub = sqlite_harness.hub
    store_id, web, _bo = _shop(sqlite_harness, bc_store)
    _behind_the_hubs_back(bc_store, S1=50)
    runner = hub.runner()
    holding, _ = runner.request(store_id, SYNC_ALL, Trigger.MANUAL)
    with hub.uow() as uow:
        assert uow.runs.acquire_lease(store_id, holding, "elsewhere:1:1:x", 60)
        uow.commit()
    web.pushed.clear()
    requested = request_repair(hub, "shop")
    assert request_repair(hub, "shop") == type(requested)(requested.run_id, True)  # merged
    with pytest.raises(RunTimeout):
        runner.execute(requested.run_id, wait_seconds=0)
    assert web.pushed == {}  # not beside the run that holds the store
    with hub.uow() as uow:
        run = uow.runs.record(requested.run_id)
        assert run is not None and run.status is RunStatus.QUEUED
        uow.runs.release_lease(store_id, holding, "elsewhere:1:1:x")
        uow.commit()
    assert runner.execute(requested.run_id).status is RunStatus.SUCCEEDED
    assert web.pushed == {("S1", "default"): 11}


def test_unknown_store_is_refused(sqlite_harness: Harness) -> None:
    with pytest.raises(services.StoreNotFound):
        drift_report(sqlite_harness.hub, "nope")
    with pytest.raises(services.StoreNotFound):
        request_repair(sqlite_harness.hub, "nope")


@pytest.mark.parametrize(
    ("source", "hub_managed", "bo", "hub", "on_web", "web", "kind"),
    [
        (InventorySource.BACK_OFFICE, False, 10, None, True, 10, None),
        (InventorySource.BACK_OFFICE, False, 10, None, True, 9, "web-differs"),
        (InventorySource.BACK_OFFICE, False, 10, None, False, None, "hub-only"),
        (InventorySource.BACK_OFFICE, False, None, None, True, 4, "web-only"),
        (InventorySource.BACK_OFFICE, False, 10, None, True, None, None),  # untracked
        (InventorySource.BACK_OFFICE, True, 10, 3, True, 10, "web-differs"),  # hub's own
        (InventorySource.WEB, False, 10, None, True, 2, None),  # the web owns it
        (InventorySource.WEB, True, None, 5, True, 2, "web-differs"),
        (InventorySource.ERP_VIA_WEB, True, 10, 5, True, 2, None),
    ],
)
def test_classify(
    source: InventorySource,
    hub_managed: bool,
    bo: int | None,
    hub: int | None,
    on_web: bool,
    web: int | None,
    kind: str | None,
) -> None:
    row = StockRow(1, "A", "default", source, hub_managed, bo, hub, last_sent=10)
    entry = classify(row, 0, on_web=on_web, web=web)
    assert (entry.kind if entry else None) == kind
    withheld = classify(row, 1, on_web=True, web=9)  # an unposted order holds one back
    if source is InventorySource.BACK_OFFICE and not hub_managed and bo is not None:
        assert withheld is None


def test_csv_export_never_starts_a_cell_with_a_formula() -> None:
    entries = [
        DriftEntry("=HYPERLINK(1)", "@loc", "web-differs", -1, None, 0),
        DriftEntry("+A", "default", "web-only", 3, None, None),
    ]
    lines = "".join(drift_csv(entries)).splitlines()
    assert lines[1] == "'=HYPERLINK(1),'@loc,web-differs,-1,,0"
    assert lines[2] == "'+A,default,web-only,3,,"
