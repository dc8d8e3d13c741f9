"""Assigning products and per-product modes through the CLI and the API (the sandboxes
over HTTP, see tests/modes_support.py), and bad input: each refused with a clear 4xx or
exit 2, with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stockbridge import services
from stockbridge.domain.model import InventorySource
from tests.bc_helpers import SandboxStore
from tests.conftest import Harness
from tests.modes_support import STORE, Shop, connect_feed, open_shop
from tests.service_helpers import wait_for


def _shop(harness: Harness, bc: SandboxStore, tmp: Path, mode: InventorySource) -> Shop:
    shop = open_shop(harness, bc, tmp, mode, webhooks=False)
    if mode is InventorySource.API:
        connect_feed(shop, PRE=6, TEE=8)
    shop.ok("sync", "all", "--store", STORE)
    return shop


@pytest.fixture
def web_shop(sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path) -> Iterator[Shop]:
    shop = _shop(sqlite_harness, bc_store, tmp_path, InventorySource.WEB)
    yield shop
    shop.stop()


@pytest.fixture
def api_shop(sqlite_harness: Harness, bc_store: SandboxStore, tmp_path: Path) -> Iterator[Shop]:
    shop = _shop(sqlite_harness, bc_store, tmp_path, InventorySource.API)
    yield shop
    shop.stop()


def listing(shop: Shop) -> dict[str, dict[str, Any]]:
    rows = json.loads(shop.ok("product", "list", "--store", STORE, "--json").stdout)
    return {row["sku"]: row for row in rows}


def snapshot(shop: Shop) -> tuple[dict[str, Any], dict[str, int], int]:
    """Everything a refused request must leave as it was: each product as the hub holds
    it, the web's stock, and how many runs were ever requested."""
    runs = len(services.run_history(shop.running.hub, STORE, 500))
    return listing(shop), shop.web(), runs


def test_assign_by_sku_and_pattern_then_unassign(web_shop: Shop) -> None:
    shop = web_shop
    assert {s: r["source_of_truth"] for s, r in listing(shop).items()} == {
        "PRE": "web",
        "TEE": "web",
    }
    assigned = shop.ok("product", "assign", "--store", STORE, "--pattern", "P*")
    assert "assigned to the hub: PRE" in assigned.stdout
    rows = listing(shop)
    assert (rows["PRE"]["assigned"], rows["PRE"]["source_of_truth"]) == (True, "hub")
    assert rows["TEE"]["assigned"] is False
    assert shop.hub_quantity("PRE") == 25  # what the web showed: assigning moved nothing
    again = shop.ok("product", "assign", "--store", STORE, "PRE", "TEE")
    assert "assigned to the hub: TEE" in again.stdout and "already so: PRE" in again.stdout
    shop.ok("product", "unassign", "--store", STORE, "TEE")
    rows = listing(shop)
    assert (rows["TEE"]["assigned"], rows["TEE"]["source_of_truth"]) == (False, "web")
    assert shop.hub_quantity("TEE") is None


def test_the_api_assigns_sets_a_products_mode_and_its_hub_quantity(web_shop: Shop) -> None:
    shop = web_shop
    with shop.api() as api:
        base = f"/api/v1/stores/{STORE}/products"
        answer = api.post(f"{base}/assigned", json={"skus": ["PRE"]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["changed"] == ["PRE"]
        shop.quiet()
        quantity = api.put(f"{base}/PRE/hub-quantity", json={"quantity": 31})
        assert quantity.status_code == 202, quantity.text
        wait_for(lambda: shop.web()["PRE"] == 31, what="the hub quantity on the web")
        listed = {p["sku"]: p for p in api.get(base, params={"assigned": "true"}).json()}
        assert list(listed) == ["PRE"] and listed["PRE"]["source_of_truth"] == "hub"
        # PRE's own mode erp_via_web: the web store owns it now, the hub may not set it.
        source = api.put(f"{base}/PRE/source", json={"source": "erp_via_web"})
        assert source.status_code == 200, source.text
        assert source.json()["product"]["source_of_truth"] == "web"
        shop.quiet()
        refused = api.put(f"{base}/PRE/hub-quantity", json={"quantity": 5})
        assert refused.status_code == 409 and "the web store owns" in refused.json()["error"]
        assert api.get(f"{base}/PRE").json()["mode"] == "erp_via_web"
        cleared = api.put(f"{base}/PRE/source", json={"source": None})
        assert cleared.json()["product"]["mode"] == "web"
        gone = api.request("DELETE", f"{base}/assigned", json={"pattern": "PR?"})
        assert gone.status_code == 200 and gone.json()["changed"] == ["PRE"]
    assert shop.show("PRE")["source_of_truth"] == "web"
    assert shop.web()["PRE"] == 31  # handing it back to the web changed nothing there


def test_the_cli_sets_a_products_mode_and_shows_it(api_shop: Shop) -> None:
    shop = api_shop
    shop.ok("product", "set-source", "--store", STORE, "TEE", "--source", "erp_via_web")
    rows = listing(shop)
    assert (rows["TEE"]["mode"], rows["TEE"]["source_override"]) == ("erp_via_web", "erp_via_web")
    assert rows["TEE"]["source_of_truth"] == "web" and rows["PRE"]["source_of_truth"] == "erp"
    shown = shop.ok("product", "show", "--store", STORE, "TEE").stdout
    assert "mode: erp_via_web (the product's own)" in shown and "source of truth: web" in shown
    shop.ok("product", "set-source", "--store", STORE, "TEE", "--source", "store")
    assert listing(shop)["TEE"]["mode"] == "api"


# bad input: a clear 4xx / exit 2, nothing changed -----------------------------------


def test_assigning_an_unknown_sku_changes_nothing(web_shop: Shop) -> None:
    shop = web_shop
    before = snapshot(shop)
    result = shop.cli("product", "assign", "--store", STORE, "PRE", "NOPE")
    assert result.exit_code == 2
    assert "has no SKU NOPE" in result.output and "nothing was changed" in result.output
    with shop.api() as api:
        answer = api.post(f"/api/v1/stores/{STORE}/products/assigned", json={"skus": ["NOPE"]})
    assert answer.status_code == 422 and "has no SKU NOPE" in answer.json()["error"]
    assert snapshot(shop) == before  # PRE, named beside it, was not assigned either


def test_a_pattern_matching_nothing_changes_nothing(web_shop: Shop) -> None:
    shop = web_shop
    before = snapshot(shop)
    result = shop.cli("product", "assign", "--store", STORE, "PRE", "--pattern", "pre*")
    assert result.exit_code == 2 and "matches 'pre*'" in result.output  # globs keep case
    with shop.api() as api:
        answer = api.post(f"/api/v1/stores/{STORE}/products/assigned", json={"pattern": "ZZ*"})
    assert answer.status_code == 422 and "no SKU of store 'shop' matches" in answer.text
    assert shop.cli("product", "assign", "--store", STORE).exit_code == 2  # nothing named
    assert snapshot(shop) == before


def test_a_push_to_an_assigned_sku_the_web_owns_changes_nothing(api_shop: Shop) -> None:
    shop = api_shop
    shop.ok("product", "assign", "--store", STORE, "PRE")
    shop.ok("product", "set-source", "--store", STORE, "PRE", "--source", "erp_via_web")
    shop.quiet()
    before = snapshot(shop)
    with shop.api() as api:
        answer = api.post(
            f"/api/v1/stores/{STORE}/inventory",
            json={"items": [{"sku": "TEE", "quantity": 1}, {"sku": "PRE", "quantity": 2}]},
            headers={"Idempotency-Key": "erp-7"},
        )
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert "PRE (erp_via_web: the web store owns its stock)" in error and "TEE" not in error
    assert "nothing was applied" in error
    assert snapshot(shop) == before  # TEE, pushed beside it, was not applied either


def test_setting_the_hub_quantity_where_another_system_owns_it_changes_nothing(
    api_shop: Shop,
) -> None:
    shop = api_shop
    shop.ok("product", "assign", "--store", STORE, "PRE")
    shop.quiet()
    before = snapshot(shop)
    result = shop.cli("product", "set-quantity", "--store", STORE, "PRE", "9")
    assert result.exit_code == 2 and "the ERP owns its stock" in result.output
    unknown = shop.cli("product", "set-source", "--store", STORE, "NOPE", "--source", "web")
    assert unknown.exit_code == 2 and "has no SKU 'NOPE'" in unknown.output
    with shop.api() as api:
        base = f"/api/v1/stores/{STORE}/products"
        assert api.put(f"{base}/PRE/hub-quantity", json={"quantity": 9}).status_code == 409
        assert api.put(f"{base}/PRE/source", json={"source": "shop"}).status_code == 422
        assert api.put(f"{base}/NOPE/source", json={"source": "web"}).status_code == 422
    with shop.running.client(shop.running.token()) as operator:
        other = operator.post("/api/v1/stores/elsewhere/products/assigned", json={"skus": ["A"]})
        assert other.status_code == 404
    assert snapshot(shop) == before
