"""The inventory-source modes exactly as the README's table writes them: one test per
cell (a row of the table, parametrized by mode), through the CLI and the API, against the
BigCommerce sandbox and QuickBooks' sandbox or a folder feed, over HTTP on loopback (see
tests/modes_support.py).

Every shop starts the same: on the web PRE 25 and TEE 10; QuickBooks (back_office and web
modes) holds PRE 5 and TEE 7; the ERP's feed (api mode) PRE 6 and TEE 8. A Sync All, then
``stockbridge product assign PRE``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from stockbridge.domain.model import InventorySource
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.modes_support import (
    STORE,
    Shop,
    connect_feed,
    connect_qbo,
    open_shop,
    start_qbo,
    write_feed,
)
from tests.qbo_support import Qbo
from tests.service_helpers import wait_for

BO, WEB, ERP_VIA_WEB, API = (
    InventorySource.BACK_OFFICE,
    InventorySource.WEB,
    InventorySource.ERP_VIA_WEB,
    InventorySource.API,
)
MODES = [BO, WEB, ERP_VIA_WEB, API]
#: What the web shows once a shop is set up (the owner's figure of each product).
#: In back_office mode the Sync All pushes QuickBooks' 5 for PRE before it is assigned, and
#: assigning takes what the web shows then (5): assigning moves nothing on the web.
START = {BO: (5, 7), WEB: (25, 10), ERP_VIA_WEB: (25, 10), API: (6, 8)}


@pytest.fixture
def make_shop(
    sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path
) -> Iterator[Callable[..., tuple[Shop, Qbo | None]]]:
    opened: list[Shop] = []
    stack = ExitStack()

    def make(mode: InventorySource, *, webhooks: bool = True) -> tuple[Shop, Qbo | None]:
        shop = open_shop(sqlite_harness, bc_store, tmp_path, mode, webhooks=webhooks)
        opened.append(shop)
        qbo = None
        if mode in (BO, WEB):
            qbo = start_qbo(stack)
            connect_qbo(shop, qbo, PRE=5, TEE=7)
        elif mode is API:
            connect_feed(shop, PRE=6, TEE=8)
        shop.ok("sync", "all", "--store", STORE)
        shop.ok("product", "assign", "--store", STORE, "PRE")
        shop.quiet()
        assert (shop.web()["PRE"], shop.web()["TEE"]) == START[mode]
        return shop, qbo

    yield make
    for shop in opened:
        shop.stop()
    stack.close()


def level(shop: Shop, sku: str) -> dict[str, int | None]:
    found = [x for x in shop.show(sku)["stock"] if x["location"] == "default"]
    return dict(found[0])


def push(shop: Shop, key: str, **quantities: int) -> httpx.Response:
    with shop.api() as api:
        return api.post(
            f"/api/v1/stores/{STORE}/inventory",
            json={"items": [{"sku": s, "quantity": q} for s, q in quantities.items()]},
            headers={"Idempotency-Key": key},
        )


# source of truth for assigned products ------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_assigned_products_stock_comes_from_its_owner(
    make_shop: Callable[..., tuple[Shop, Qbo | None]], mode: InventorySource
) -> None:
    shop, _qbo = make_shop(mode)
    owner = {BO: "hub", WEB: "hub", ERP_VIA_WEB: "web", API: "erp"}[mode]
    assert shop.show("PRE")["source_of_truth"] == owner
    before = (shop.hub_quantity("PRE"), shop.web()["PRE"])
    edited = shop.cli("product", "set-quantity", "--store", STORE, "PRE", "30")
    if owner == "hub":  # edited in the hub (CLI here; API and dashboard below) and pushed
        assert edited.exit_code == 0, edited.output
        assert (shop.hub_quantity("PRE"), shop.web()["PRE"]) == (30, 30)
        return
    assert edited.exit_code == 2
    assert ("the web store owns" if owner == "web" else "the ERP owns") in edited.output
    assert (shop.hub_quantity("PRE"), shop.web()["PRE"]) == before  # nothing changed
    if owner == "web":  # the ERP writes the web store; the hub follows
        shop.erp_sets_web(PRE=40)
        wait_for(lambda: shop.hub_quantity("PRE") == 40, what="the hub to follow the web")
    else:  # the ERP pushes to the hub's API; the hub quantity goes on to the web
        assert push(shop, "k-pre", PRE=33).status_code == 202
        wait_for(lambda: shop.web()["PRE"] == 33, what="the push to reach the web")
        assert shop.hub_quantity("PRE") == 33


# source of truth for other products ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_other_products_stock_comes_from_the_modes_source(
    make_shop: Callable[..., tuple[Shop, Qbo | None]], mode: InventorySource
) -> None:
    shop, _qbo = make_shop(mode)
    owner = {BO: "back_office", WEB: "web", ERP_VIA_WEB: "web", API: "erp"}[mode]
    assert shop.show("TEE")["source_of_truth"] == owner
    # The web shows the owner's figure: QuickBooks' 7, the web's own 10, the feed's 8.
    assert shop.web()["TEE"] == {BO: 7, WEB: 10, ERP_VIA_WEB: 10, API: 8}[mode]
    assert level(shop, "TEE")["hub"] is None  # not the hub's to hold


# webhooks -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_stock_change_on_the_web_by_webhook(
    make_shop: Callable[..., tuple[Shop, Qbo | None]], mode: InventorySource
) -> None:
    shop, _qbo = make_shop(mode)
    shop.erp_sets_web(PRE=3, TEE=4)  # someone (an ERP, a clerk) changes the web store
    pre, tee = START[mode]
    if mode in (WEB, ERP_VIA_WEB):  # the web's 4 stays: the hub records it and keeps it
        wait_for(lambda: level(shop, "TEE")["web"] == 4, what="the webhook to be followed")
    # Elsewhere the hub's 4 lasts only until the run it started sets TEE back (a poll may
    # miss it); that set-back below happens only if the webhook was followed: the hub had
    # sent TEE's figure already and sends it again only for a web figure that moved.
    if mode is ERP_VIA_WEB:  # the hub follows, assigned products too, and pushes nothing
        wait_for(lambda: shop.hub_quantity("PRE") == 3, what="the hub to follow PRE")
        shop.quiet()
        assert (shop.web()["PRE"], shop.web()["TEE"]) == (3, 4)
        return
    # The hub sets back what it owns: PRE (the hub's or the ERP's figure) everywhere,
    # TEE where the back office or the ERP owns it; in web mode TEE is the web's own.
    expected = (pre, 4 if mode is WEB else tee)
    wait_for(lambda: (shop.web()["PRE"], shop.web()["TEE"]) == expected, what="set back")
    shop.quiet()
    assert (shop.web()["PRE"], shop.web()["TEE"]) == expected
    assert shop.hub_quantity("PRE") == pre  # the web's 3 never became the hub's


# what a manual sync pulls -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_manual_sync_pulls(
    make_shop: Callable[..., tuple[Shop, Qbo | None]], mode: InventorySource
) -> None:
    shop, qbo = make_shop(mode, webhooks=False)
    if mode is BO:  # the back office's stock, names and prices
        assert qbo is not None
        qbo.change("TEE", qty=20, name="Tee shirt")
        shop.ok("sync", "all", "--store", STORE)
        assert shop.web()["TEE"] == 20 and shop.show("TEE")["name"] == "Tee shirt"
    elif mode is WEB:  # other data follows BigCommerce, names and stock included
        assert qbo is not None
        qbo.change("TEE", name="QuickBooks name")
        shop.bc_rename("TEE", "Web name")
        shop.erp_sets_web(TEE=12)
        shop.ok("sync", "all", "--store", STORE)
        assert shop.show("TEE")["name"] == "Web name"
        assert level(shop, "TEE")["web"] == 12 and shop.web()["TEE"] == 12
    elif mode is ERP_VIA_WEB:  # the web's stock, the assigned products' included
        shop.erp_sets_web(PRE=40, TEE=12)
        shop.ok("sync", "all", "--store", STORE)
        assert shop.hub_quantity("PRE") == 40
        assert level(shop, "TEE")["web"] == 12
    else:  # the ERP's feed, which sets the assigned products' hub quantity too
        write_feed(shop.tmp / "erp", "stock-2.csv", PRE=60, TEE=18)
        shop.ok("sync", "all", "--store", STORE)
        assert shop.hub_quantity("PRE") == 60
        assert (shop.web()["PRE"], shop.web()["TEE"]) == (60, 18)


# what a manual sync never overwrites --------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_manual_sync_never_overwrites(
    make_shop: Callable[..., tuple[Shop, Qbo | None]], mode: InventorySource
) -> None:
    shop, qbo = make_shop(mode, webhooks=False)
    pre, tee = START[mode]
    if qbo is not None:
        qbo.change("PRE", qty=50)  # the back office's figure of an assigned product
    if mode is ERP_VIA_WEB:
        # The web's stock, whoever wrote it: the hub's 25 never goes back over the ERP's 40.
        shop.erp_sets_web(PRE=40)
        shop.ok("sync", "all", "--store", STORE)
        assert shop.web()["PRE"] == 40 and shop.hub_quantity("PRE") == 40
        return
    shop.erp_sets_web(PRE=3)  # and the web's figure of it
    shop.ok("sync", "all", "--store", STORE)
    # The hub's quantity of an assigned product (its own, or in api mode the ERP's):
    # neither the back office's 50 nor the web's 3 replaced it, and the web has it back.
    assert shop.hub_quantity("PRE") == pre
    assert shop.web()["PRE"] == pre
    if qbo is not None:
        assert level(shop, "PRE")["back_office"] == 50
    if mode is WEB:  # and the web's own stock of other products: QuickBooks' 7 never pushed
        assert shop.web()["TEE"] == tee == 10


# what an ERP's push does --------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_an_erp_push(
    make_shop: Callable[..., tuple[Shop, Qbo | None]], mode: InventorySource
) -> None:
    shop, _qbo = make_shop(mode)
    pre, tee = START[mode]
    answer = push(shop, "erp-1", PRE=33, TEE=9)
    if mode is not API:
        assert answer.status_code == 409 and "api mode" in answer.json()["error"]
        shop.quiet()
        assert (shop.web()["PRE"], shop.web()["TEE"]) == (pre, tee)  # nothing changed
        assert shop.hub_quantity("PRE") == pre
        return
    assert answer.status_code == 202 and answer.json()["applied"] == 2
    # The push sets the assigned product's hub quantity and reaches the web in seconds.
    wait_for(lambda: (shop.web()["PRE"], shop.web()["TEE"]) == (33, 9), 10, "the push")
    assert shop.hub_quantity("PRE") == 33 and level(shop, "TEE")["back_office"] == 9
