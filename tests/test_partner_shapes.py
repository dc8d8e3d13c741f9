"""The BigCommerce sandbox's answers hold the shape of BigCommerce's documented examples
(issue 26): the fixtures in tests/fixtures/partners/bigcommerce/ are the example answers
of BigCommerce's API reference, each with its source. For every field the sandbox sends,
the documented example has that field with the same JSON type (a number stays a number,
money in v2 stays a string, null stays null); and the sandbox sends every field the
connector reads (the fields of its models in connectors/bigcommerce/mapping.py). A
sandbox kinder than the partner (a string where BigCommerce sends a number, a value where
it sends null, a field it never sends) fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from stockbridge.connectors.bigcommerce import mapping
from tests.bc_helpers import SandboxStore

FIXTURES = Path(__file__).parent / "fixtures" / "partners" / "bigcommerce"


def documented(name: str) -> dict[str, Any]:
    """The documented example answer, plus the fields its schema documents that the
    example happens to leave out (``schema_only``, each with a value of its type)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert data["source"].startswith("https://developer.bigcommerce.com/")
    extra = {k: v for k, v in data.get("schema_only", {}).items() if not k.startswith("_")}
    example: dict[str, Any] = {**data["example"], **extra}
    return example


def kind(value: Any) -> str:
    """A JSON value's type as a client parses it (integers and decimals are numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def differences(answer: Any, example: Any, path: str = "") -> list[str]:
    """Where ``answer`` (the sandbox's) is not shaped like ``example`` (the partner's):
    a field the partner does not send, or one of another type; objects and the first item
    of arrays compared field by field."""
    if kind(answer) != kind(example):
        return [f"{path or '.'}: {kind(answer)} where BigCommerce sends {kind(example)}"]
    found: list[str] = []
    if isinstance(answer, dict):
        for key, value in answer.items():
            if key not in example:
                found.append(f"{path}.{key}: a field BigCommerce does not send")
            else:
                found += differences(value, example[key], f"{path}.{key}")
    elif isinstance(answer, list) and answer and example:
        found += differences(answer[0], example[0], f"{path}[0]")
    return found


def read_fields(model: type[BaseModel]) -> set[str]:
    """The JSON names the connector's model reads (aliases where it has them)."""
    return {f.alias or name for name, f in model.model_fields.items()}


def api(bc: SandboxStore, path: str, **params: Any) -> Any:
    with httpx.Client(base_url=f"{bc.server.url}/stores/{bc.hash}") as client:
        response = client.get(path, params=params, headers={"X-Auth-Token": bc.token})
    response.raise_for_status()
    return response.json()


@pytest.fixture
def shop(bc_store: SandboxStore) -> tuple[SandboxStore, int, int]:
    created = bc_store.seed(
        [{"name": "Kettle", "sku": "KETTLE", "tracking": "product", "inventory_level": 4}]
    )
    order = bc_store.order([("KETTLE", 1)])
    return bc_store, created[0]["id"], int(order["id"])


def test_a_product_is_shaped_as_bigcommerce_documents_it(
    shop: tuple[SandboxStore, int, int],
) -> None:
    bc, product_id, _ = shop
    answer = api(bc, f"/v3/catalog/products/{product_id}")["data"]
    assert differences(answer, documented("product")) == []
    missing = read_fields(mapping.Product) - set(answer) - {"variants"}  # variants: on include
    assert missing == set()


def test_a_variant_is_shaped_as_bigcommerce_documents_it(
    shop: tuple[SandboxStore, int, int],
) -> None:
    bc, _, _ = shop
    listed = api(bc, "/v3/catalog/products", include="variants")["data"]
    variant = listed[0]["variants"][0]
    assert differences(variant, documented("variant")) == []
    assert read_fields(mapping.Variant) - set(variant) == set()


def test_an_order_and_its_lines_are_shaped_as_bigcommerce_documents_them(
    shop: tuple[SandboxStore, int, int],
) -> None:
    bc, _, order_id = shop
    order = api(bc, f"/v2/orders/{order_id}")
    assert differences(order, documented("order")) == []
    lines = api(bc, f"/v2/orders/{order_id}/products")
    assert differences(lines[0], documented("order_product")) == []


def test_the_comparison_finds_a_kinder_answer() -> None:
    """The check itself: a number sent as a string, a value where BigCommerce sends null,
    and a field BigCommerce never sends are each reported."""
    product, order = documented("product"), documented("order")
    assert product["price"] == 7.95 and order["external_source"] is None
    assert differences({"price": "7.95", "stock": 3}, product) == [
        ".price: string where BigCommerce sends number",
        ".stock: a field BigCommerce does not send",
    ]
    assert differences({"external_source": "POS"}, order) == [
        ".external_source: string where BigCommerce sends null"
    ]
