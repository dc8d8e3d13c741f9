"""A drift repair records as sent only what the web store took (issue 26): a SKU the
store refused during the repair keeps its older "last sent" figure, so the next
inventory-out still pushes it. Against the BigCommerce sandbox over real HTTP; the
refusal is the sandbox's own (a product no longer tracked by product)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from stockbridge import services
from stockbridge.domain.model import SYNC_ALL, BatchResult, RunStatus, Step, StockUpdate
from stockbridge.services.drift import drift_report, request_repair
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.fakes import FakeBackOffice


def _set_tracking(bc: SandboxStore, product_id: int, tracking: str) -> None:
    """The merchant changes how the product's stock is tracked (control panel / API)."""
    with httpx.Client(base_url=bc.server.url) as client:
        client.put(
            f"/stores/{bc.hash}/v3/catalog/products",
            json=[{"id": product_id, "inventory_tracking": tracking}],
            headers={"X-Auth-Token": bc.token},
        ).raise_for_status()


class TrackingChangedMidRepair:
    """The web store, where the merchant switches product tracking off for one product
    after the repair read the catalog and before its push arrives."""

    def __init__(self, inner: Any, bc: SandboxStore, product_id: int) -> None:
        self.inner = inner
        self.bc = bc
        self.product_id = product_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        _set_tracking(self.bc, self.product_id, "none")
        result: BatchResult = self.inner.push_inventory(updates)
        return result


def test_a_drift_repair_does_not_record_refused_skus_as_sent(
    sqlite_harness: Harness, bc_store: SandboxStore
) -> None:
    """Rule: a SKU the web store refused during a drift repair is not recorded as sent,
    so a later inventory-out (a webhook's, without a new back-office read) still pushes
    the back office's figure."""
    created = bc_store.seed(
        [{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in ("S", "T")]
    )
    bo = FakeBackOffice()
    bo.set_item("S", 10)
    bo.set_item("T", 4)
    store_id = sqlite_harness.add_store(web=bc_store.connector(), back_office=bo)
    hub = sqlite_harness.hub
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    bo.set_item("S", 20)  # read by the hub, not pushed yet
    assert services.sync(hub, None, (Step.INVENTORY_IN,)).status is RunStatus.SUCCEEDED
    httpx.put(
        f"{bc_store.server.url}/admin/stores/{bc_store.hash}/stock", json={"S": 99, "T": 1}
    ).raise_for_status()
    listed = {e.sku: (e.web, e.last_sent, e.should) for e in drift_report(hub, "shop").entries}
    assert listed == {"S": (99, 10, 20), "T": (1, 4, 4)}

    partners = sqlite_harness.partners[store_id]
    sqlite_harness.partners[store_id] = type(partners)(
        TrackingChangedMidRepair(bc_store.connector(), bc_store, created[0]["id"]),
        partners.web_connection_id,
        partners.back_office,
        partners.back_office_connection_id,
    )
    repair = hub.runner().execute(request_repair(hub, "shop").run_id)

    assert repair.status is RunStatus.PARTIAL, repair
    assert {e.key for e in repair.errors} == {"S"}
    assert bc_store.stock()["T"] == 4  # the rest of the batch was repaired

    _set_tracking(bc_store, created[0]["id"], "product")  # the merchant turns it back on
    sqlite_harness.partners[store_id] = partners
    report = services.sync(hub, None, (Step.INVENTORY_OUT,))

    assert report.status is RunStatus.SUCCEEDED, report
    assert bc_store.stock()["S"] == 20
