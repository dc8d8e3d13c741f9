"""Each mode's data directions as BackOrder writes them, enforced by the domain
(``domain/directions.py``): only ``back_office`` mode sends the back office's catalog
(new products, prices, names) to the web; in ``web`` and ``api`` mode it flows the other
way only ("not vice versa"), whatever the store's catalog settings ask. Against the
BigCommerce sandbox and QuickBooks' sandbox or a folder feed over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from stockbridge.domain.model import InventorySource
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.modes_support import STORE, Shop, open_shop, start_qbo
from tests.qbo_support import CLIENT_ID, CLIENT_SECRET, unlimited


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as resources:
        yield resources


def web_catalog(shop: Shop) -> dict[str, Any]:
    return dict(shop.bc.call("GET", "/catalog"))


def with_qbo(shop: Shop, stack: ExitStack) -> None:
    """QuickBooks holds TEE at 99.00 (the web: 10.00) and NEW, which the web lacks."""
    qbo = start_qbo(stack)
    qbo.items({"sku": "TEE", "qty": 7, "price": 99}, {"sku": "NEW", "qty": 4, "price": 12})
    unlimited(shop.running.hub.limiters, qbo.realm)
    shop.ok(
        "connect", "qbo", "--store", STORE, "--realm-id", qbo.realm, "--client-id", CLIENT_ID,
        "--client-secret", CLIENT_SECRET, "--refresh-token", qbo.token(),
        "--api-url", qbo.url, "--token-url", qbo.token_url,
    )  # fmt: skip


@pytest.mark.parametrize(
    "mode", [InventorySource.BACK_OFFICE, InventorySource.WEB, InventorySource.API]
)
def test_the_catalog_goes_to_the_web_in_back_office_mode_only(
    sqlite_harness: Harness,
    bc_store: SandboxStore,
    tmp_path: Path,
    stack: ExitStack,
    mode: InventorySource,
) -> None:
    shop = open_shop(sqlite_harness, bc_store, tmp_path, mode, webhooks=False)
    stack.callback(shop.stop)
    before = web_catalog(shop)
    if mode is InventorySource.API:  # the ERP's feed: TEE at 99.00 and NEW
        folder = tmp_path / "erp"
        folder.mkdir()
        (folder / "stock.csv").write_text("sku,quantity,price,name\nTEE,7,99,Tee\nNEW,4,12,New\n")
        shop.ok(
            "connect", "feed", "--store", STORE, "--source", str(folder), "--settle-seconds", "0"
        )
    else:
        with_qbo(shop, stack)
    # The merchant asks for everything the settings offer: the mode still decides.
    shop.ok(
        "store", "set", STORE, "--create-new", "on", "--price-source", "back_office",
        "--push-names", "on",
    )  # fmt: skip
    shop.ok("sync", "all", "--store", STORE)
    after = web_catalog(shop)
    created = shop.bc.counters()["calls"].get("products_created", 0)
    if mode is InventorySource.BACK_OFFICE:
        assert "NEW" in after and created == 1
        assert float(after["TEE"]["price"]) == 99
        return
    assert "NEW" not in after and created == 0  # no back-office item created on the web
    assert after["TEE"]["price"] == before["TEE"]["price"]  # no price pushed
    assert after["TEE"]["name"] == before["TEE"]["name"]  # no name pushed
    expected_tee = 7 if mode is InventorySource.API else 10  # api: the ERP's stock goes
    assert after["TEE"]["inventory_level"] == expected_tee
