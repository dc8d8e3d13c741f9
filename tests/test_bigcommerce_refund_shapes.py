"""Refunds exactly as BigCommerce documents them: the sandbox answers in the shape of
BigCommerce's own example (kept with its source in tests/fixtures/bigcommerce/), the
connector reads that example as a refund bound to the quantity (no amount of its own),
and such a refund reaches QuickBooks as a RefundReceipt for the line at its price and the
tax BigCommerce computed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from stockbridge import services
from stockbridge.connectors.bigcommerce import mapping
from stockbridge.domain.model import SYNC_ALL, RefundLine, RunStatus
from tests.bc_helpers import SandboxStore
from tests.books_support import bc_qbo_hub, by_number, ledger, summary
from tests.qbo_support import Qbo, qbo_sandbox  # noqa: F401  (the qbo fixture)

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures" / "bigcommerce"


def documented(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    assert loaded["source"].startswith("https://")
    return loaded


def shape(value: Any) -> Any:
    """A JSON value's shape: its fields, nulls and kinds (a number is a number)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    assert isinstance(value, dict)
    return {key: shape(item) for key, item in sorted(value.items())}


def v3(bc_store: SandboxStore, path: str, **params: Any) -> Any:
    answer = httpx.get(
        f"{bc_store.server.url}/stores/{bc_store.hash}/v3{path}",
        params=params,
        headers={"X-Auth-Token": bc_store.token, "Accept": "application/json"},
    )
    answer.raise_for_status()
    return answer.json()


def order_45_plus_5(bc_store: SandboxStore) -> dict[str, Any]:
    """An order like the one behind BigCommerce's example: one line at 45.00 + 5.00 tax."""
    bc_store.seed([{"sku": "A", "inventory_level": 10}])
    return dict(
        bc_store.call(
            "POST",
            "/orders",
            json={"lines": [{"sku": "A", "quantity": 2, "price": "45.00", "tax": "5.00"}]},
        )
    )


def test_sandbox_refund_by_quantity_has_the_documented_shape(bc_store: SandboxStore) -> None:
    example = documented("refund_get_example.json")["example"]
    placed = order_45_plus_5(bc_store)
    line = placed["id"] * 1000
    bc_store.call(
        "POST",
        f"/orders/{placed['id']}/refunds",
        json={
            "items": [{"item_type": "PRODUCT", "item_id": line, "quantity": 1}],
            "reason": "Customer requires a refund.",
        },
    )

    per_order = v3(bc_store, f"/orders/{placed['id']}/payment_actions/refunds")
    everything = v3(bc_store, "/orders/payment_actions/refunds", **{"order_id:in": placed["id"]})

    (refund,) = per_order["data"]
    assert shape(refund) == shape(example["data"])  # same fields, same nulls, same kinds
    assert refund["items"] == [
        {"item_type": "PRODUCT", "item_id": line, "quantity": 1, "requested_amount": None}
    ]
    assert (refund["total_amount"], refund["total_tax"]) == (50, 5)  # as BigCommerce computes
    assert refund["payments"][0]["amount"] == 50
    assert everything["data"] == [refund]
    assert everything["meta"]["pagination"]["total"] == 1


def test_sandbox_amount_bound_items_have_the_documented_item_fields(
    bc_store: SandboxStore,
) -> None:
    example = documented("refund_get_example.json")["example"]["data"]
    requests = documented("refund_requests_examples.json")["examples"]
    placed = order_45_plus_5(bc_store)
    kinds = {
        "SHIPPING": requests["Amount"][0],
        "ORDER": requests["Tax Exempt (Order Level)"][0],
    }
    for item in kinds.values():
        bc_store.call("POST", f"/orders/{placed['id']}/refunds", json={"items": [item]})

    refunds = v3(bc_store, f"/orders/{placed['id']}/payment_actions/refunds")["data"]

    assert [r["items"][0]["item_type"] for r in refunds] == list(kinds)
    for refund in refunds:
        (item,) = refund["items"]
        assert sorted(item) == sorted(example["items"][0])  # the same four fields
        assert item["quantity"] is None  # "only populated for item_type PRODUCT"
        assert shape(item["requested_amount"]) == "number"
        assert shape({**refund, "items": []}) == shape({**example, "items": []})
    assert [r["total_amount"] for r in refunds] == [10, 1]


def test_the_documented_example_reads_as_a_quantity_bound_refund() -> None:
    data = documented("refund_get_example.json")["example"]["data"]
    raw = json.loads(json.dumps(data), parse_float=Decimal)

    refund = mapping.to_web_refund(mapping.parse(mapping.V3Refund, raw, "refund"))

    assert refund.lines == (RefundLine("87", 1, None),)  # no amount of its own
    assert (refund.total, refund.tax, refund.shipping) == (D(50), D(5), D(0))


def test_a_refund_by_quantity_is_booked_at_the_line_price_with_bigcommerce_tax(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo
) -> None:
    """Issue 25: this refund was refused ("its lines, shipping and tax come to 0.82 ...")."""
    qbo.items({"sku": "A", "qty": 10})
    hub = bc_qbo_hub(tmp_path, bc_store, qbo)
    placed = order_45_plus_5(bc_store)  # 2 x 45.00 + 2 x 5.00 tax = 100.00
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    bc_store.call(
        "POST",
        f"/orders/{placed['id']}/refunds",
        json={"items": [{"item_type": "PRODUCT", "item_id": placed["id"] * 1000, "quantity": 1}]},
    )

    report = services.sync(hub, None, SYNC_ALL)

    assert report.status is RunStatus.SUCCEEDED, report
    refund = by_number(qbo, "RefundReceipt")[f"{placed['id']}-R1"]
    assert summary(qbo, refund) == ([("A", 1, D("45.00"), None)], D("5"), D("50"))
    assert qbo.quantity("A") == 10 - 2 + 1
    assert ledger(qbo) == {
        "revenue": D("45.00"),  # 90 - 45
        "shipping": D("0"),
        "tax": D("5.00"),  # 10 - 5
        "money_in": D("50.00"),  # 100 - 50
    }
