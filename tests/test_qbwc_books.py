"""The books on QuickBooks Desktop and Point of Sale, hand-computed: a web order of
2 x A at 12.50 and 1 x B at 8.00 (33.00), 3.00 off, 5.00 shipping and 2.40 tax (8% of
30.00) comes to 37.40 in QuickBooks as on the web; the tax is booked as tax."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from stockbridge import services
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, PosCompany
from stockbridge.db.models import OrderReversal
from stockbridge.domain.runs import changed_nothing
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


@pytest.mark.parametrize("shop", ["desktop"], indirect=True)
def test_a_desktop_partial_refund_is_one_credit_memo_of_exactly_the_refund(shop: Shop) -> None:
    """1 x A back (12.50), 2.00 of shipping, 1.50 refunded on the order without items
    (spread on A 25.00 and B 8.00 in proportion: 1.14 and 0.36), 0.50 of tax, and 15.50
    paid back: 1.00 of A's price kept back (the order's discount) is the credit memo's
    discount. 12.50 + 1.14 + 0.36 + 2.00 - 1.00 + 0.50 = 15.50. QuickBooks applies it
    and the answer is lost: the next sessions find it by our key, never add it again."""
    number = _post(shop)
    company = shop.company
    assert isinstance(company, DesktopCompany)
    assert shop.qb_quantity("A") == 18
    refund = {
        "items": [
            {"item_type": "PRODUCT", "item_id": int(number) * 1000, "quantity": 1},
            {"item_type": "SHIPPING", "item_id": 1, "amount": "2.00"},
            {"item_type": "ORDER", "item_id": int(number), "amount": "1.50"},
        ],
        "total_amount": "15.50",
        "total_tax": "0.50",
    }
    shop.web.call("POST", f"/orders/{number}/refunds", json=refund)
    shop.sync()  # the hub learns of the refund: a reversal is due
    shop.settle()
    assert shop.connector().session(drop_on="CreditMemoAddRq").dropped
    assert len(company.credit_memos) == 1  # QuickBooks applied it; the answer never came
    for _ in range(2):
        assert shop.connector().session().percents[-1] == 100
        shop.settle()
    (memo,) = company.credit_memos
    assert memo.lines == [
        ("A", Decimal(1), Decimal("12.50")),
        ("A", None, Decimal("1.14")),
        ("B", None, Decimal("0.36")),
    ]
    assert memo.charges == {
        "Shipping": Decimal("2.00"),
        "Discount": Decimal("-1.00"),
        "Sales Tax": Decimal("0.50"),
    }
    assert memo.total == Decimal("15.50")
    assert memo.ref_number == number and memo.customer == "Web Customer"
    assert shop.qb_quantity("A") == 19 and shop.qb_quantity("B") == 20
    (receipt,) = [r for r in company.receipts if r.ref_number == number]
    assert not receipt.voided


@pytest.mark.parametrize("shop", ["desktop", "pos"], indirect=True)
def test_the_items_a_session_changed_are_counted_on_the_run_it_queues(shop: Shop) -> None:
    """An in-store sale read by a session: the run queued after the last item page says
    so (read, changed) instead of "changed nothing"."""
    wc = shop.connector()
    wc.session()
    shop.settle()
    before = max(r.id for r in services.run_history(shop.running.hub, "shop"))
    company = shop.company
    company.set_quantity(shop.names["A"], 17)  # sold in the shop
    assert wc.session().percents[-1] == 100
    shop.settle()
    runs = [r for r in services.run_history(shop.running.hub, "shop") if r.id > before]
    entries = [r.progress["inventory-in"] for r in runs if "inventory-in" in r.progress]
    assert sum(int(e.get("changed", 0)) for e in entries) == 1  # A: 20 -> 17
    assert sum(int(e.get("read", 0)) for e in entries) >= 1
    assert not all(changed_nothing(r.progress) for r in runs)
    assert shop.web_stock()["A"] == 17


@pytest.mark.parametrize("shop", ["pos"], indirect=True)
def test_a_pos_item_return_with_an_order_level_amount_is_one_return_receipt(
    shop: Shop,
) -> None:
    """2 x A back (25.00) and 1.55 refunded on the order without items: 26.55 paid back.
    The return receipt gives A back at (25.00 + 1.55) / 2 = 13.275, rounded up to 13.28
    (26.56), and its discount takes back the cent: 26.56 - 0.01 = 26.55."""
    number = _post(shop)
    company = shop.company
    assert isinstance(company, PosCompany)
    assert shop.qb_quantity("A") == 18
    refund = {
        "items": [
            {"item_type": "PRODUCT", "item_id": int(number) * 1000, "quantity": 2},
            {"item_type": "ORDER", "item_id": int(number), "amount": "1.55"},
        ],
        "total_amount": "26.55",
        "total_tax": "0",
    }
    shop.web.call("POST", f"/orders/{number}/refunds", json=refund)
    shop.sync()
    shop.settle()
    assert shop.connector().session().percents[-1] == 100
    shop.settle()
    (returned,) = [r for r in company.receipts if r.kind == "Return"]
    assert f"order {number} (" in returned.comments
    assert (returned.subtotal, returned.discount, returned.total) == (
        Decimal("26.56"),
        Decimal("0.01"),
        Decimal("26.55"),
    )
    assert shop.qb_quantity("A") == 20 and shop.qb_quantity("B") == 20


@pytest.mark.parametrize("shop", ["pos"], indirect=True)
def test_a_pos_refund_of_money_alone_is_named_to_be_recorded_by_hand(shop: Shop) -> None:
    number = _post(shop)
    company = shop.company
    assert isinstance(company, PosCompany)
    refund = {"items": [{"item_type": "ORDER", "item_id": int(number), "amount": "4.00"}]}
    shop.web.call("POST", f"/orders/{number}/refunds", json=refund)
    shop.sync()
    shop.settle()
    assert shop.connector().session().percents[-1] == 100
    shop.settle()
    assert [r.kind for r in company.receipts] == ["Sales"]  # nothing booked
    with shop.running.hub.uow() as uow:
        (error,) = uow.session.scalars(select(OrderReversal.last_error)).all()
    assert error is not None
    assert "money paid back without any item returned" in error
    assert "record the payout in Point of Sale by hand" in error
