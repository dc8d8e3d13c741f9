"""A stock change made on the web behind the hub's back is never lost: each cell of the
README's mode table (mode x assigned or not), through the webhook and through a manual
Sync only, against the BigCommerce sandbox (its control panel) over HTTP.

Every shop starts like tests/test_source_modes.py: on the web PRE 25 and TEE 10;
QuickBooks (back_office and web modes) holds PRE 5 and TEE 7; the ERP's feed (api mode)
PRE 6 and TEE 8; a Sync All, then PRE assigned. Then someone sets the product to 3 in
BigCommerce's control panel. Where the web store is the master the hub adopts the 3;
where the web mirrors the hub, the 3 is written back to the hub's figure at once and the
event shows in the drift history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from stockbridge.domain.model import InventorySource
from stockbridge.services.charts import store_charts
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.modes_support import STORE, Shop, connect_feed, connect_qbo, open_shop, start_qbo
from tests.service_helpers import wait_for

BO, WEB, ERP_VIA_WEB, API = (
    InventorySource.BACK_OFFICE,
    InventorySource.WEB,
    InventorySource.ERP_VIA_WEB,
    InventorySource.API,
)
#: What the web shows once a shop is set up (the owner's figure of each product).
START = {BO: {"PRE": 5, "TEE": 7}, WEB: {"PRE": 25, "TEE": 10}, API: {"PRE": 6, "TEE": 8}}
START[ERP_VIA_WEB] = {"PRE": 25, "TEE": 10}
#: The cells where the web store is the master: the hub adopts the web's figure.
ADOPTED = {(WEB, "TEE"), (ERP_VIA_WEB, "PRE"), (ERP_VIA_WEB, "TEE")}
CELLS = [(mode, sku) for mode in (BO, WEB, ERP_VIA_WEB, API) for sku in ("PRE", "TEE")]
CHANGED = 3


@pytest.fixture
def make_shop(
    sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path
) -> Iterator[Callable[[InventorySource, bool], Shop]]:
    opened: list[Shop] = []
    stack = ExitStack()

    def make(mode: InventorySource, webhooks: bool) -> Shop:
        shop = open_shop(sqlite_harness, bc_store, tmp_path, mode, webhooks=webhooks)
        opened.append(shop)
        if mode in (BO, WEB):
            connect_qbo(shop, start_qbo(stack), PRE=5, TEE=7)
        elif mode is API:
            connect_feed(shop, PRE=6, TEE=8)
        shop.ok("sync", "all", "--store", STORE)
        shop.ok("product", "assign", "--store", STORE, "PRE")
        shop.quiet()
        assert shop.web() == START[mode]
        return shop

    yield make
    for shop in opened:
        shop.stop()
    stack.close()


def control_panel(shop: Shop, sku: str, quantity: int) -> None:
    """The merchant edits the stock in BigCommerce's control panel."""
    shop.bc.call("PUT", "/stock", json={sku: quantity})


def web_figure(shop: Shop, sku: str) -> int | None:
    """What the hub holds as the web store's figure (``product show``)."""
    for level in shop.show(sku)["stock"]:
        if level["location"] == "default":
            return None if level["web"] is None else int(level["web"])
    return None


def drift_today(shop: Shop) -> int:
    """The dashboard's drift history, today's point."""
    return store_charts(shop.running.hub, STORE).drift[-1] or 0


def check_cell(shop: Shop, mode: InventorySource, sku: str, drift_before: int) -> None:
    other = "TEE" if sku == "PRE" else "PRE"
    if (mode, sku) in ADOPTED:  # the web's master: its 3 is the hub's now, nothing pushed
        assert shop.web()[sku] == CHANGED
        assert web_figure(shop, sku) == CHANGED
        if sku == "PRE":  # erp_via_web: the assigned product's hub quantity follows
            assert shop.hub_quantity("PRE") == CHANGED
        assert drift_today(shop) == drift_before  # the web owns it: no drift
    else:  # a mirrored web: written back to the hub's figure, kept as drift
        assert shop.web()[sku] == START[mode][sku]
        assert drift_today(shop) >= 1
        if sku == "PRE":
            assert shop.hub_quantity("PRE") == START[mode]["PRE"]  # the 3 never became it
    assert shop.web()[other] == START[mode][other]  # the other product untouched


@pytest.mark.parametrize(("mode", "sku"), CELLS)
def test_a_web_side_change_by_webhook(
    make_shop: Callable[[InventorySource, bool], Shop], mode: InventorySource, sku: str
) -> None:
    shop = make_shop(mode, True)
    drift_before = drift_today(shop)
    control_panel(shop, sku, CHANGED)
    if (mode, sku) in ADOPTED:
        wait_for(lambda: web_figure(shop, sku) == CHANGED, what="the hub to adopt the change")
    else:
        wait_for(lambda: drift_today(shop) >= 1, what="the change to be read")
        wait_for(lambda: shop.web()[sku] == START[mode][sku], what="the web written back")
    shop.quiet()
    check_cell(shop, mode, sku, drift_before)


@pytest.mark.parametrize(("mode", "sku"), CELLS)
def test_a_web_side_change_by_a_manual_sync(
    make_shop: Callable[[InventorySource, bool], Shop], mode: InventorySource, sku: str
) -> None:
    shop = make_shop(mode, False)  # no webhooks: only the manual Sync reads the web
    drift_before = drift_today(shop)
    control_panel(shop, sku, CHANGED)
    shop.ok("sync", "all", "--store", STORE)
    check_cell(shop, mode, sku, drift_before)


def test_a_manual_sync_reads_assigned_products_in_full(
    make_shop: Callable[[InventorySource, bool], Shop],
) -> None:
    """A web order takes an assigned product's stock without making the product
    "modified": only a full read of the assigned products sees it (erp_via_web: the hub
    follows the web's figure)."""
    shop = make_shop(ERP_VIA_WEB, False)
    shop.bc.order([("PRE", 4)])
    assert shop.web()["PRE"] == 21
    shop.ok("sync", "all", "--store", STORE)
    assert shop.hub_quantity("PRE") == 21
