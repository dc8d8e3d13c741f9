"""The dry run of Sync All against both sandboxes (BigCommerce and QuickBooks Online, over
real HTTP): its plan is what the next real Sync All then does, and the preview itself
changes nothing, neither at the partners nor in the hub's database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from stockbridge import services
from stockbridge.db.models import Base
from stockbridge.domain.model import (
    SYNC_ALL,
    BatchResult,
    InventorySource,
    PostOutcome,
    PostRequest,
    RunStatus,
    StockUpdate,
)
from stockbridge.services.preview import plan_json, preview
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.qbo_support import Qbo, connector
from tests.qbo_support import qbo_sandbox as qbo_sandbox


class Recording:
    """A partner connector that remembers what was posted and pushed through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.posted: list[str] = []
        self.refused: dict[str, str | None] = {}
        self.pushed: dict[tuple[str, str], int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def post_orders(self, requests: Sequence[PostRequest]) -> Sequence[PostOutcome]:
        outcomes: Sequence[PostOutcome] = self.inner.post_orders(requests)
        for outcome in outcomes:
            if outcome.posted:
                self.posted.append(outcome.web_id)
            else:
                self.refused[outcome.web_id] = outcome.error.code if outcome.error else None
        return outcomes

    def push_inventory(self, updates: Sequence[StockUpdate]) -> BatchResult:
        result: BatchResult = self.inner.push_inventory(updates)
        for update in updates:
            self.pushed[(update.sku, update.location)] = update.quantity
        return result


SKUS = ("A", "B", "C", "H", "X", "INA")


def _shop(
    harness: Harness, bc: SandboxStore, qbo: Qbo, source: InventorySource
) -> tuple[int, Recording, Recording]:
    bc.seed([{"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in SKUS])
    qbo.items(
        {"sku": "A", "qty": 10},
        {"sku": "B", "qty": 20},
        {"sku": "C", "qty": 5},
        {"sku": "H", "qty": 7},
        {"sku": "INA", "qty": 3, "active": False},
    )
    web = Recording(bc.connector())
    back_office = Recording(connector(qbo)[0])
    store_id = harness.add_store(source=source, web=web, back_office=back_office)
    return store_id, web, back_office


def _sandbox_state(bc: SandboxStore, qbo: Qbo) -> dict[str, Any]:
    calls = bc.counters()["calls"]
    return {
        "web_stock": bc.stock(settle=True),
        "web_writes": {k: v for k, v in calls.items() if k != "requests" and "GET" not in k},
        "qbo_receipts": qbo.receipts(),
        "qbo_items": qbo.admin.get("/admin/items").json(),
    }


def _hub_state(harness: Harness) -> tuple[str, list[Any]]:
    """The SQLite file's bytes (hash, with its WAL) and a full dump of every table."""
    url = harness.hub.settings.resolved_database_url
    digest = ""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            digest += hashlib.sha256(file.read_bytes() if file.exists() else b"").hexdigest()
    dump: list[Any] = []
    with harness.hub.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            dump.append((table.name, [tuple(r) for r in rows]))
    return digest, dump


def test_preview_is_what_the_next_sync_all_does_and_changes_nothing(
    harness: Harness, bc_store: SandboxStore, qbo: Qbo
) -> None:
    """On SQLite and PostgreSQL, the back office the master."""
    _preview_then_sync(harness, bc_store, qbo, InventorySource.BACK_OFFICE)


@pytest.mark.parametrize("source", [InventorySource.WEB, InventorySource.ERP_VIA_WEB])
def test_preview_across_modes(
    sqlite_harness: Harness, bc_store: SandboxStore, qbo: Qbo, source: InventorySource
) -> None:
    _preview_then_sync(sqlite_harness, bc_store, qbo, source)


def _preview_then_sync(
    harness: Harness, bc_store: SandboxStore, qbo: Qbo, source: InventorySource
) -> None:
    store_id, web, back_office = _shop(harness, bc_store, qbo, source)
    hub = harness.hub
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    with hub.uow() as uow:  # an assigned product: the hub's own quantity
        uow.catalog.set_hub_managed(store_id, "H", 4)
        uow.commit()
    good = bc_store.order([("A", 2), ("B", 3)])
    unknown = bc_store.order([("X", 1)])
    inactive = bc_store.order([("INA", 1)])
    managed = bc_store.order([("H", 1)])
    qbo.change("C", qty=8)  # a back-office change

    before = (_sandbox_state(bc_store, qbo), _hub_state(harness))
    plan = preview(hub, "shop")
    data = plan_json(plan)
    after = (_sandbox_state(bc_store, qbo), _hub_state(harness))
    plan.close()
    assert after == before  # nothing written: partners, hub database (byte for byte)

    report = services.sync(hub, None, SYNC_ALL)

    to_post = {o["web_id"] for o in data["orders_to_post"]}
    assert to_post == set(back_office.posted) == {str(good["id"]), str(managed["id"])}
    refused = {o["web_id"]: o["code"] for o in data["orders_refused"]}
    assert refused == back_office.refused
    assert refused == {str(unknown["id"]): "unknown-sku", str(inactive["id"]): "inactive-item"}
    planned = {(c["sku"], c["location"]): c["new"] for c in data["stock_changes"]}
    assert planned == web.pushed, (data, report)
    assert data["stock_change_count"] == len(planned)
    assert data["products_to_create"] == [] and data["price_changes"] == []
    why = {c["sku"]: c["why"] for c in data["stock_changes"]}
    if source is InventorySource.BACK_OFFICE:
        assert why["A"] == "withheld orders" and why["C"] == "back-office change"
        assert planned[("C", "default")] == 8
        assert why["H"] == "hub-managed" and planned[("H", "default")] == 3
    elif source is InventorySource.WEB:
        assert set(why) == {"H"}  # the web owns everything but the assigned product
        assert planned[("H", "default")] == 3  # the hub's quantity less the order it took
    else:
        assert why == {}  # the ERP writes the web store itself: the hub pushes nothing
    # and the run after it has nothing left to do: a new preview is empty
    again = plan_json(preview(hub, "shop"))
    assert again["orders_to_post"] == [] and again["stock_changes"] == []


def test_preview_of_an_unknown_store_is_refused(harness: Harness) -> None:
    with pytest.raises(services.StoreNotFound):
        preview(harness.hub, "nope")
