"""The BigCommerce sandbox driven by BigCommerce's own Python client (``bigcommerce``)
for the calls a real integration makes: variants by SKU, products by id, order statuses,
orders list / get / lines / status update, inventory adjustments.

Pointing it at the sandbox uses its supported settings: ``BigcommerceApi`` reads the API
host from ``BC_API_ENDPOINT`` (it always speaks HTTPS, so the sandbox is served over TLS),
and v3 goes through ``OAuthConnection(..., host=, api_path="/stores/{}/v3/{}")`` as the
library's README shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from bigcommerce.api import BigcommerceApi
from bigcommerce.connection import OAuthConnection
from bigcommerce.exception import ClientRequestException

from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.sandbox_server import ServerThread
from tests.partner_clients import Tls, loopback_certificate, trusting

STORE = "pyclient"
TOKEN = "pyclient-token"


@dataclass
class World:
    v2: BigcommerceApi
    v3: OAuthConnection
    admin: httpx.Client
    ids: dict[str, Any]

    def order(self, *lines: tuple[str, int], status_id: int = 11) -> int:
        body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], "status_id": status_id}
        answer = self.admin.post(f"/admin/stores/{STORE}/orders", json=body)
        answer.raise_for_status()
        return int(answer.json()["id"])

    def stock(self) -> dict[str, int]:
        answer = self.admin.get(f"/admin/stores/{STORE}/stock", params={"settle": "1"})
        data: dict[str, int] = answer.json()
        return data


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return loopback_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def world(tls: Tls, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    sandbox = BigCommerceSandbox(time_scale=0.001)
    sandbox.stores[STORE] = SStore(hash=STORE, token=TOKEN, async_delay_ms=0)
    try:
        with (
            ServerThread(sandbox.app, certfile=str(tls.cert), keyfile=str(tls.key)) as server,
            httpx.Client(base_url=server.url, verify=trusting(tls)) as admin,
        ):
            host = f"127.0.0.1:{server.port}"
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.cert))
            monkeypatch.setenv("BC_API_ENDPOINT", host)
            seeded = admin.post(
                f"/admin/stores/{STORE}/products",
                json={
                    "products": [
                        {"sku": "LAMP", "name": "Lamp", "inventory_level": 10},
                        {
                            "sku": "SHIRT",
                            "name": "Shirt",
                            "variants": [
                                {"sku": "SHIRT-S", "inventory_level": 4},
                                {"sku": "SHIRT-M", "inventory_level": 6},
                                {"sku": "SHIRT-L", "inventory_level": 8},
                            ],
                        },
                    ]
                },
            ).json()["created"]
            v2 = BigcommerceApi(client_id="app", store_hash=STORE, access_token=TOKEN)
            v3 = OAuthConnection("app", STORE, TOKEN, host=host, api_path="/stores/{}/v3/{}")
            ids = {
                "lamp": seeded[0]["id"],
                "shirt": seeded[1]["id"],
                "shirt_variants": seeded[1]["variant_ids"],
            }
            yield World(v2, v3, admin, ids)
            for connection in (v2.connection, v3):
                # The client keeps its last response (and so its socket) for debugging:
                # let go of it, or the server's shutdown waits for that connection.
                connection._last_response = None
                connection._session.close()
    finally:
        sandbox.close()


def test_variants_by_sku(world: World) -> None:
    answer = world.v3.get("catalog/variants", sku="SHIRT-M")
    assert [v["sku"] for v in answer["data"]] == ["SHIRT-M"]
    assert answer["meta"]["pagination"]["total"] == 1
    assert world.v3.get("catalog/variants", sku="NO-SUCH")["data"] == []
    several = world.v3.get("catalog/variants", **{"sku:in": "SHIRT-S,SHIRT-L,GHOST"})
    assert sorted(v["sku"] for v in several["data"]) == ["SHIRT-L", "SHIRT-S"]
    assert world.v3.rate_limit["requests_quota"] == 150  # the headers the client reads


def test_products_by_id(world: World) -> None:
    product = world.v3.get("catalog/products", world.ids["shirt"], include="variants")["data"]
    assert (product["id"], product["sku"], product["inventory_tracking"]) == (
        world.ids["shirt"],
        "SHIRT",
        "variant",
    )
    assert [v["id"] for v in product["variants"]] == world.ids["shirt_variants"]
    listed = world.v3.get("catalog/products", **{"id:in": str(world.ids["lamp"])})["data"]
    assert [p["sku"] for p in listed] == ["LAMP"]
    with pytest.raises(ClientRequestException, match="404"):
        world.v3.get("catalog/products", 999999)


def test_order_statuses(world: World) -> None:
    statuses = {s.id: s.name for s in world.v2.OrderStatuses.all()}
    assert len(statuses) == 15
    assert (statuses[0], statuses[5], statuses[11]) == (
        "Incomplete",
        "Cancelled",
        "Awaiting Fulfillment",
    )
    assert world.v2.OrderStatuses.get(11).name == "Awaiting Fulfillment"


def test_orders_list_get_lines_and_status_update(world: World) -> None:
    first = world.order(("LAMP", 2), ("SHIRT-S", 1))
    second = world.order(("SHIRT-M", 3))
    assert world.stock() == {"LAMP": 8, "SHIRT-S": 3, "SHIRT-M": 3, "SHIRT-L": 8}
    listed = world.v2.Orders.all(sort="date_modified:asc", min_date_modified="2000-01-01")
    assert [o.id for o in listed] == [first, second]
    assert [o.id for o in world.v2.Orders.all(limit=1, page=2)] == [second]
    assert "id" not in world.v2.Orders.all(limit=1, page=3)  # 204: past the end
    assert [o.id for o in world.v2.Orders.iterall()] == [first, second]
    assert world.v2.Orders.count() == 2
    order = world.v2.Orders.get(first)
    assert (order.status_id, order.status) == (11, "Awaiting Fulfillment")
    lines = order.products()
    assert sorted((line.sku, line.quantity) for line in lines) == [("LAMP", 2), ("SHIRT-S", 1)]
    order.update(status_id=2)
    assert world.v2.Orders.get(first).status == "Shipped"
    world.v2.Orders.get(second).update(status_id=5)  # cancelled: the stock comes back
    assert world.stock()["SHIRT-M"] == 6
    with pytest.raises(ClientRequestException, match="422"):
        order.update(status_id=99)


def test_inventory_adjustments(world: World) -> None:
    lamp, (small, *_rest) = world.ids["lamp"], world.ids["shirt_variants"]
    done = world.v3.put(
        "inventory/adjustments/absolute",
        {
            "reason": "count",
            "items": [
                {"location_id": 1, "product_id": lamp, "quantity": 25},
                {"location_id": 1, "variant_id": small, "quantity": 9},
            ],
        },
    )
    assert done["transaction_id"]
    world.v3.post(
        "inventory/adjustments/relative",
        {"reason": "sold", "items": [{"location_id": 1, "sku": "SHIRT-L", "quantity": -3}]},
    )
    assert world.stock() == {"LAMP": 25, "SHIRT-S": 9, "SHIRT-M": 6, "SHIRT-L": 5}
    with pytest.raises(ClientRequestException, match="422"):  # the lamp is tracked by product
        world.v3.put(
            "inventory/adjustments/absolute",
            {
                "reason": "count",
                "items": [
                    {"location_id": 1, "sku": "SHIRT-M", "quantity": 1},
                    {"location_id": 1, "variant_id": world.ids["lamp"] + 1, "quantity": 1},
                ],
            },
        )
    assert world.stock()["SHIRT-M"] == 6  # nothing of the refused call was applied
