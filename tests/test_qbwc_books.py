"""The books on QuickBooks Desktop and Point of Sale, hand-computed: a web order of
2 x A at 12.50 and 1 x B at 8.00 (33.00), 3.00 off, 5.00 shipping and 2.40 tax (8% of
30.00) comes to 37.40 in QuickBooks as on the web; the tax is booked as tax."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stockbridge.connectors.qbwc.sandbox import DesktopCompany, PosCompany
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)

ORDER = {
    "lines": [
        {"sku": "A", "quantity": 2, "price": "12.50", "tax": "1.00"},
        {"sku": "B", "quantity": 1, "price": "8.00", "tax": "0.40"},
    ],
    "discount": "3.00",
    "shipping": "5.00",
}


def _post(shop: Shop) -> str:
    wc = shop.connector()
    wc.session()
    shop.settle()
    number = str(shop.web.call("POST", "/orders", json=ORDER)["id"])
    shop.sync()
    assert wc.session().percents[-1] == 100
    shop.settle()
    return number


@pytest.mark.parametrize("shop", ["desktop"], indirect=True)
def test_a_desktop_receipt_carries_tax_shipping_and_discount_and_the_web_total(
    shop: Shop,
) -> None:
    number = _post(shop)
    company = shop.company
    assert isinstance(company, DesktopCompany)
    (receipt,) = [r for r in company.receipts if r.ref_number == number]
    assert receipt.charges == {
        "Shipping": Decimal("5.00"),
        "Discount": Decimal("-3.00"),
        "Sales Tax": Decimal("2.40"),
    }
    assert receipt.total == Decimal("37.40")  # 25.00 + 8.00 + 5.00 - 3.00 + 2.40
    assert receipt.lines == [("A", Decimal(2)), ("B", Decimal(1))]


@pytest.mark.parametrize("shop", ["pos"], indirect=True)
def test_a_pos_receipt_has_the_discount_and_shipping_and_pos_computes_the_tax(
    shop: Shop,
) -> None:
    company = shop.company
    assert isinstance(company, PosCompany)
    company.tax_rate = Decimal("0.08")  # the shop's rate, as on the web
    number = _post(shop)
    (receipt,) = [r for r in company.receipts if f"web order {number} " in r.comments]
    assert (receipt.subtotal, receipt.discount, receipt.shipping) == (
        Decimal("33.00"),
        Decimal("3.00"),
        Decimal("5.00"),
    )
    assert receipt.tax == Decimal("2.40")  # 8% of 30.00, as POS computes it
    assert receipt.total == Decimal("37.40")


@pytest.mark.parametrize("shop", ["desktop", "pos"], indirect=True)
def test_an_order_cancelled_after_posting_is_reversed_once(shop: Shop) -> None:
    """Desktop voids the receipt; POS books a return receipt. Even when the answer is
    lost, its items come back on hand in QuickBooks once, however many sessions follow."""
    wc = shop.connector()
    wc.session()
    shop.settle()
    number = str(shop.web.order([("A", 2), ("B", 1)])["id"])
    shop.sync()
    wc.session()
    shop.settle()
    assert shop.qb_quantity("A") == 18
    shop.web.call("PUT", f"/orders/{number}", json={"status_id": 5})  # cancelled
    shop.sync()  # the hub learns of it: a reversal is due
    company = shop.company
    # QuickBooks applies the reversal and the session drops before the answer comes back.
    reversing = "TxnVoidRq" if isinstance(company, DesktopCompany) else "SalesReceiptAddRq"
    assert wc.session(drop_on=reversing).dropped
    assert shop.qb_quantity("A") == 20
    for _ in range(2):  # the next sessions find it done (POS) or void again (no effect)
        assert wc.session().percents[-1] == 100
        shop.settle()
    assert shop.qb_quantity("A") == 20 and shop.qb_quantity("B") == 21
    if isinstance(company, DesktopCompany):
        (receipt,) = [r for r in company.receipts if r.ref_number == number]
        assert receipt.voided and receipt.voids <= 2
    else:
        returns = [r for r in company.receipts if r.kind == "Return"]
        assert len(returns) == 1 and f"order {number} (" in returns[0].comments
        assert returns[0].subtotal == Decimal("30.00")  # 2 x 10.00 + 1 x 10.00
    assert shop.web_stock() == {"A": 20, "B": 21, "C": 22}
