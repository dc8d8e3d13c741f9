"""The inventory-source modes exactly as the README's table writes them, one test per
cell, through the CLI and the API, against the BigCommerce and QuickBooks sandboxes over
HTTP (see tests/modes_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stockbridge.domain.model import InventorySource
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.modes_support import STORE, Shop, open_shop


@pytest.fixture
def erp_via_web(sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path) -> Iterator[Shop]:
    shop = open_shop(
        sqlite_harness, bc_store, tmp_path, InventorySource.ERP_VIA_WEB, webhooks=False
    )
    yield shop
    shop.stop()


def test_erp_via_web_manual_sync_never_pushes_over_the_erp(erp_via_web: Shop) -> None:
    shop = erp_via_web
    shop.ok("sync", "all", "--store", STORE)
    shop.ok("product", "assign", "--store", STORE, "PRE")
    assert shop.show("PRE")["source_of_truth"] == "web"
    shop.erp_sets_web(PRE=40)
    assert shop.web()["PRE"] == 40
    shop.ok("sync", "all", "--store", STORE)
    assert shop.web()["PRE"] == 40
    assert shop.hub_quantity("PRE") == 40
