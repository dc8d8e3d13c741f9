"""What the BigCommerce connector brings for the books, read from its sandbox over HTTP
(``GET /v2/orders``, ``/v2/orders/{id}/products``, ``/v3/orders/{id}/payment_actions/
refunds``): prices and shipping ex tax, the order's tax, discount, buyer, payment method,
status and refunds; refunds are read only for orders that have some."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx

from stockbridge import services
from stockbridge.bootstrap import bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.domain.model import SYNC_ALL, RefundLine, RunStatus, WebOrderStatus
from stockbridge.retry import RetryPolicy
from tests.bc_helpers import SandboxStore
from tests.qbo_support import Qbo, qbo_sandbox, unlimited  # noqa: F401  (the qbo fixture)

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


def test_bigcommerce_to_quickbooks_tax_and_a_refund(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo
) -> None:
    """The whole chain over HTTP: a BigCommerce order with tax, shipping and a discount
    becomes a receipt whose total is the order's, with its tax as tax; its partial refund
    a RefundReceipt for exactly the refunded line and tax, restocked."""
    bc_store.seed([{"sku": "A", "inventory_level": 10}])
    qbo.items({"sku": "A", "qty": 10})
    hub = bootstrap(
        Settings(home=tmp_path / "home", lease_seconds=30),
        registry=default_registry(),
        retry=RetryPolicy(attempts=3, base_delay=0, sleep=lambda _s: None),
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    services.add_store(hub, "shop")
    services.connect_partner(
        hub,
        "shop",
        role="web",
        kind="bigcommerce",
        settings={"store_hash": bc_store.hash, "api_url": bc_store.server.url},
        secrets={"access_token": bc_store.token},
    )
    services.connect_partner(
        hub, "shop", role="back_office", kind="qbo", settings=qbo.settings(), secrets=qbo.secrets()
    )
    services.update_books(hub, "shop", deposit_account="35", status_after_post=9)
    body = {
        "status_id": 11,
        "lines": [{"sku": "A", "quantity": 3, "price": "12.00", "tax": "0.96"}],
        "shipping": "6.00",
        "discount": "2.00",
    }
    placed = bc_store.call("POST", "/orders", json=body)
    number = str(placed["id"])

    first = services.sync(hub, None, SYNC_ALL)

    assert first.status is RunStatus.SUCCEEDED, first
    (receipt,) = qbo.sandbox.books.documents["SalesReceipt"]
    # 3 x 12 + 6 - 2 + 3 x 0.96 = 42.88; tax 2.88 as tax, revenue 36 - 2 = 34
    assert D(str(receipt["TotalAmt"])) == D("42.88") == D(placed["total_inc_tax"])
    assert receipt["TxnTaxDetail"]["TotalTax"] == D("2.88")
    assert bc_store.call("GET", "/counters")["calls"]  # the store was asked
    written_back = httpx.get(
        f"{bc_store.server.url}/stores/{bc_store.hash}/v2/orders/{number}",
        headers={"X-Auth-Token": bc_store.token, "Accept": "application/json"},
    ).json()
    assert written_back["status_id"] == 9  # the status write-back the store turned on
    bc_store.call(
        "POST",
        f"/orders/{number}/refunds",
        json={
            "items": [
                {"item_type": "PRODUCT", "item_id": int(number) * 1000, "quantity": 1,
                 "requested_amount": "12.00"}
            ],
            "total_tax": "0.96",
        },
    )  # fmt: skip

    second = services.sync(hub, None, SYNC_ALL)

    assert second.status is RunStatus.SUCCEEDED, second
    (refund,) = qbo.sandbox.books.documents["RefundReceipt"]
    assert (refund["DocNumber"], D(str(refund["TotalAmt"]))) == (f"{number}-R1", D("12.96"))
    assert qbo.quantity("A") == 10 - 3 + 1
    totals = qbo.sandbox.books.ledger()
    assert (totals["revenue"], totals["tax"], totals["money_in"]) == (
        D("22.00"),
        D("1.92"),
        D("29.92"),
    )  # 34 - 12; 2.88 - 0.96; 42.88 - 12.96
