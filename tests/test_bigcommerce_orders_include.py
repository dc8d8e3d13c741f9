"""Orders-in reads an order's lines in the order list (``include=consignments.line_items``,
``consignment_structure=object``): 250 orders with their lines a call, shipping, pickup and
digital consignments alike, and ``/v2/orders/{id}/products`` only where the list could not
bring them (a consignment cut at 50 lines, lines that do not add up to ``items_total``).

The sandbox is held to BigCommerce's documented answer, kept in
``partner_examples/bigcommerce_order_consignments.json`` with its sources.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.bc_helpers import SandboxStore

EXAMPLE = json.loads(
    (Path(__file__).parent / "partner_examples" / "bigcommerce_order_consignments.json").read_text()
)
LIST_CALL = "GET /v2/orders"
LINES_CALL = "GET /v2/orders/{id}/products"
#: In the orderProducts schema (reference/orders.v2.oas2.yml), not in its example answer.
SCHEMA_ONLY_PRODUCT_FIELDS = {"variant_id": 0}


def _same_kind(actual: Any, documented: Any) -> bool:
    if documented is None:
        return True  # documented as null: any value
    if isinstance(documented, bool) or isinstance(actual, bool):
        return type(actual) is type(documented)
    if isinstance(documented, int | float):
        return isinstance(actual, int | float)
    return isinstance(actual, type(documented))


def conforms(actual: Any, documented: Any, where: str = "$") -> list[str]:
    """Where ``actual`` leaves the documented shape: a field the documentation does not
    have, or a value of another JSON type (lists compared element by element with the
    documented first element)."""
    if not _same_kind(actual, documented):
        return [f"{where}: {type(actual).__name__}, documented {type(documented).__name__}"]
    problems: list[str] = []
    if isinstance(documented, dict):
        for key, value in actual.items():
            if key not in documented:
                problems.append(f"{where}.{key}: not documented")
            else:
                problems += conforms(value, documented[key], f"{where}.{key}")
    elif isinstance(documented, list) and documented:
        for n, item in enumerate(actual):
            problems += conforms(item, documented[0], f"{where}[{n}]")
    return problems


def _list(store: SandboxStore, **params: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{store.server.url}/stores/{store.hash}/v2/orders",
        params={"sort": "date_modified:asc", "limit": "250", **params},
        headers={"X-Auth-Token": store.token, "Accept": "application/json"},
    )
    response.raise_for_status()
    return list(response.json())


def _documented_with_lines() -> dict[str, Any]:
    """The documented consignments with ``line_items`` as the order products (what
    ``consignments.line_items`` puts there), and the order with its consignments."""
    product = {**EXAMPLE["order_product"], **SCHEMA_ONLY_PRODUCT_FIELDS}
    examples = EXAMPLE["consignments"]
    shipping = examples["order with shipping consignments"]["shipping"][0]
    pickup = examples["order with pickup consignments"]["pickups"][0]
    download = examples["order with digital consignments"]["downloads"][0]
    warning = {"__warning__": EXAMPLE["warning"]}
    return {
        "pickups": [{**pickup, **warning, "line_items": [product]}],
        "shipping": [{**shipping, **warning, "line_items": [product]}],
        # the example shows one link object; the schema says an array of order products
        "downloads": [{**download, **warning, "line_items": [product]}],
        "email": {"gift_certificates": []},
    }


def test_the_sandbox_answers_the_include_as_bigcommerce_documents(bc_store: SandboxStore) -> None:
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 500}])
    for fulfilment in ("shipping", "pickup", "digital"):
        bc_store.call(
            "POST",
            "/orders",
            json={"lines": [{"sku": "A", "quantity": 2}], "fulfilment": fulfilment},
        )
    big = bc_store.call(
        "POST",
        "/orders",
        json={"lines": [{"sku": "A", "quantity": 1}] * 60, "fulfilment": "pickup"},
    )
    documented_order = {**EXAMPLE["order"], "consignments": _documented_with_lines()}

    with_lines = _list(bc_store, include="consignments.line_items", consignment_structure="object")
    assert [conforms(order, documented_order) for order in with_lines] == [[]] * 4
    kinds = [
        next(k for k in ("shipping", "pickups", "downloads") if order["consignments"][k])
        for order in with_lines
    ]
    assert kinds == ["shipping", "pickups", "downloads", "pickups"]
    for order, kind in zip(with_lines[:3], kinds, strict=False):
        included = [li for c in order["consignments"][kind] for li in c["line_items"]]
        assert order["items_total"] == sum(li["quantity"] for li in included) == 2
    cut = with_lines[3]["consignments"]["pickups"][0]
    assert len(cut["line_items"]) == 50 and cut["__warning__"] == EXAMPLE["warning"]
    assert with_lines[3]["id"] == big["id"]

    # include=consignments: the documented example as it stands (line items are links)
    shipping_example = EXAMPLE["consignments"]["order with shipping consignments"]
    documented_links = {**EXAMPLE["order"], "consignments": shipping_example}
    links_only = _list(bc_store, include="consignments", consignment_structure="object")
    assert conforms(links_only[0], documented_links) == []
    assert links_only[0]["consignments"]["shipping"][0]["line_items"][0].keys() == {
        "url",
        "resource",
    }
    # no include: the sub-resources are named, not included
    plain = _list(bc_store)
    assert conforms(plain[0], EXAMPLE["order"]) == []
    assert plain[0]["products"]["resource"] == f"/orders/{plain[0]['id']}/products"


def test_a_thousand_new_orders_cost_four_list_calls_and_no_order_call(
    bc_store: SandboxStore,
) -> None:
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 99_999}])
    bc_store.seed([{"name": "B", "sku": "B", "tracking": "product", "inventory_level": 99_999}])
    placed: dict[str, list[tuple[str, int]]] = {}
    with bc_store.admin as admin:  # one client: a new one per call costs a TLS context
        for n in range(1000):
            lines = [("A", 1 + n % 3)] + ([("B", 2)] if n % 2 else [])
            fulfilment = ("shipping", "pickup", "digital")[n % 3]
            body = {
                "lines": [{"sku": s, "quantity": q} for s, q in lines],
                "fulfilment": fulfilment,
            }
            placed[str(admin.post("/orders", json=body).raise_for_status().json()["id"])] = lines
    before = bc_store.counters()["calls"]

    pages = list(bc_store.connector().iter_orders(None))

    calls = bc_store.counters()["calls"]
    read = {o.web_id: [(li.sku, li.quantity) for li in o.lines] for p in pages for o in p.items}
    assert read == placed  # every order once, with each of its lines
    assert calls[LIST_CALL] - before.get(LIST_CALL, 0) <= 5
    assert calls.get(LINES_CALL, 0) == 0


class EmptiesShippingLines(httpx.BaseTransport):
    """Real HTTP to the sandbox, but every shipping consignment's ``line_items`` comes back
    empty (a store answering as in https://github.com/bigcommerce/dev-docs/issues/2052)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not request.url.path.endswith("/v2/orders") or response.status_code != 200:
            return response
        response.read()
        orders = response.json()
        for order in orders:
            for consignment in order["consignments"]["shipping"]:
                consignment["line_items"] = []
        return httpx.Response(200, json=orders)


def _lines_calls_for(
    bc_store: SandboxStore, seed: Callable[[], dict[str, str]], **connect: Any
) -> tuple[dict[str, int], int]:
    wanted = seed()
    orders = [o for p in bc_store.connector(**connect).iter_orders(None) for o in p.items]
    counts = {o.web_id: sum(li.quantity for li in o.lines) for o in orders}
    assert counts == {k: int(v) for k, v in wanted.items()}
    return counts, bc_store.counters()["calls"].get(LINES_CALL, 0)


def test_lines_past_the_included_fifty_are_read_from_the_order_only(
    bc_store: SandboxStore,
) -> None:
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 9_999}])

    def seed() -> dict[str, str]:
        big = bc_store.order([(f"L{i}", 1) for i in range(120)])  # 3 pages of 50 lines
        small = [bc_store.order([("A", 2)]) for _ in range(5)]
        return {str(big["id"]): "120", **{str(o["id"]): "2" for o in small}}

    _, lines_calls = _lines_calls_for(bc_store, seed)
    assert lines_calls == 3


def test_lines_that_do_not_add_up_to_the_order_are_read_from_the_order(
    bc_store: SandboxStore,
) -> None:
    bc_store.seed([{"name": "A", "sku": "A", "tracking": "product", "inventory_level": 9_999}])

    def seed() -> dict[str, str]:
        shipped = [bc_store.order([("A", 3)]) for _ in range(2)]
        picked = bc_store.call(
            "POST", "/orders", json={"lines": [{"sku": "A", "quantity": 4}], "fulfilment": "pickup"}
        )
        return {**{str(o["id"]): "3" for o in shipped}, str(picked["id"]): "4"}

    _, lines_calls = _lines_calls_for(bc_store, seed, transport=EmptiesShippingLines())
    assert lines_calls == 2  # the two shipped orders; the pickup's lines came with the list


def test_the_sandbox_refuses_an_unknown_fulfilment_and_places_nothing(
    bc_store: SandboxStore,
) -> None:
    with bc_store.admin as admin:
        answer = admin.post(
            "/orders", json={"lines": [{"sku": "A", "quantity": 1}], "fulfilment": "drone"}
        )
    assert answer.status_code == 422
    assert "fulfilment must be one of shipping, pickup, digital" in answer.text
    assert bc_store.counters()["calls"].get("GET /v2/orders") is None
    orders = httpx.get(
        f"{bc_store.server.url}/stores/{bc_store.hash}/v2/orders",
        headers={"X-Auth-Token": bc_store.token},
    )
    assert orders.status_code == 204  # no order placed
