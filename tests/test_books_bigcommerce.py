"""What the BigCommerce connector brings for the books, read from its sandbox over HTTP
(``GET /v2/orders``, ``/v2/orders/{id}/products``, ``/v3/orders/{id}/payment_actions/
refunds``): prices and shipping ex tax, the order's tax, discount, buyer, payment method,
status and refunds; refunds are read only for orders that have some."""

from __future__ import annotations

from decimal import Decimal

from stockbridge.domain.model import RefundLine, WebOrderStatus
from tests.bc_helpers import SandboxStore

D = Decimal


def test_order_money_buyer_and_refunds(bc_store: SandboxStore) -> None:
    bc_store.seed([{"sku": "A", "inventory_level": 10}, {"sku": "B", "inventory_level": 10}])
    body = {
        "status_id": 11,
        "lines": [
            {"sku": "A", "quantity": 2, "price": "10.00", "tax": "0.80"},
            {"sku": "B", "quantity": 1, "price": "25.00", "tax": "2.00"},
        ],
        "shipping": "5.00",
        "shipping_tax": "0.40",
        "discount": "3.00",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "payment_method": "PayPal",
    }
    paid = bc_store.call("POST", "/orders", json=body)
    untouched = bc_store.call("POST", "/orders", json={**body, "email": "bob@example.com"})
    line_a = paid["id"] * 1000
    bc_store.call(
        "POST",
        f"/orders/{paid['id']}/refunds",
        json={
            "items": [
                {"item_type": "PRODUCT", "item_id": line_a, "quantity": 1, "requested_amount": 10},
                {"item_type": "SHIPPING", "item_id": paid["id"], "requested_amount": 5},
            ],
            "total_tax": "1.20",
        },
    )
    connector = bc_store.connector()

    orders = {o.web_id: o for page in connector.iter_orders(None) for o in page.items}

    order = orders[str(paid["id"])]
    # lines 20 + 25 = 45 ex tax; tax 1.60 + 2.00 + 0.40 = 4.00; 45 + 5 - 3 + 4 = 51
    assert [(li.sku, li.quantity, li.unit_price) for li in order.lines] == [
        ("A", 2, D("10.0000")),
        ("B", 1, D("25.0000")),
    ]
    assert (order.shipping, order.discount, order.tax, order.total) == (
        D("5.0000"),
        D("3.0000"),
        D("4.0000"),
        D("51.0000"),
    )
    assert order.total == sum(li.unit_price * li.quantity for li in order.lines) + (
        order.shipping - order.discount + order.tax
    )
    assert (order.customer_email, order.billing_name, order.payment_method) == (
        "ann@example.com",
        "Ann Lee",
        "PayPal",
    )
    assert order.status is WebOrderStatus.FULFILLED  # 14, Partially Refunded
    (refund,) = order.refunds
    assert (refund.total, refund.tax, refund.shipping) == (D("16.2"), D("1.2"), D("5"))
    assert refund.lines == (RefundLine(str(line_a), 1, D("10")),)
    assert orders[str(untouched["id"])].refunds == ()
    calls = bc_store.counters()["calls"]
    refund_calls = sum(n for path, n in calls.items() if "refunds" in path)
    assert refund_calls == 1, calls  # only the order that has refunds
