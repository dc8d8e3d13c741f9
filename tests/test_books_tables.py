"""Books to the cent, BigCommerce to QuickBooks Online over HTTP, on each tax kind of
company (AST, US tax codes, global): tables of web order -> receipt (lines, tax, total)
and web refund -> refund receipt, every figure worked out by hand below.

Orders (BigCommerce sandbox: prices ex tax, tax per unit):
- W: A 3 x 20.00 (tax 1.60 each), B 1 x 30.00 (tax 2.40), shipping 10.00 (tax 0.80),
  handling 2.00, coupon 9.00. Tax 4.80 + 2.40 + 0.80 = 8.00; total 90 + 10 + 2 - 9 + 8
  = 101.00; revenue 101 - 8 - 12 = 81 = 90 - 9.
- E: a tax-exempt buyer, free shipping: A 1 x 20.00, no tax; total 20.00.
- G: two tax rates (A 2 x 20.00 at 5% = 1.00 each, B 30.00 at 8% = 2.40), an automatic
  discount of 5.00, paid 10.00 by gift certificate and 5.00 by store credit (ways of
  paying, not discounts). Total 70 - 5 + 4.40 = 69.40; revenue 65.

Refunds of W, one each, as BigCommerce records them:
- R1 A by quantity (1): BigCommerce computes 20.00 + 1.60 tax = 21.60.
- R2 5.00 off B by amount (no unit back), tax 0.40: 5.40.
- R3 shipping 10.00 + handling 2.00 by amount, tax 0.80: 12.80.
- R4 1.00 at the order level (tax exempt): spread over A (60/90 -> 0.67) and B (0.33).
- R5 A by quantity (1), the coupon's share kept back: 19.60 of which tax 1.60, so the
  line (20.00) is booked with a discount of 20.00 - 18.00 = 2.00.
- R6 A by quantity (2) for 4.00: refused, only 1 of A's 3 is left (R1, R5 took 2).
- R7 shipping 1.00 by amount but 3.00 paid back: refused, the parts do not add up.
Then W is cancelled: the rest is refunded once. Left: 101 - 60.40 = 40.60 = A 1 unit
(60 - 20 - 0.67 - 20 = 19.33) + B 1 unit (30 - 5 - 0.33 = 24.67) + tax (8 - 4.40 = 3.60)
- discount 7.00 (the coupon's 9.00 less R5's 2.00).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stockbridge import services
from stockbridge.domain.model import SYNC_ALL, RunStatus
from tests.bc_helpers import SandboxStore
from tests.books_support import Line, bc_qbo_hub, by_number, ledger, summary
from tests.qbo_support import Qbo, qbo_sandbox  # noqa: F401  (the qbo fixture)

D = Decimal

MODES: dict[str, dict[str, Any]] = {
    "ast": {},
    "us_codes": {"tax_mode": "us_codes", "tax_code_id": "2"},
    "global": {"tax_mode": "global", "tax_code_id": "3"},
}


def code(mode: str, taxed: bool) -> str | None:
    """The tax code each sales line carries on this kind of company."""
    return {"ast": None, "us_codes": "TAX" if taxed else "NON", "global": "3"}[mode]


def receipts_expected(mode: str) -> dict[str, tuple[list[Line], Decimal, Decimal]]:
    t, n = code(mode, True), code(mode, False)
    return {
        "W": (
            [
                ("A", 3, D("60.00"), t),
                ("B", 1, D("30.00"), t),
                ("shipping", 0, D("12.00"), t),  # shipping 10 + handling 2
                ("discount", 0, D("9.00"), None),  # the coupon
            ],
            D("8.00"),
            D("101.00"),
        ),
        "E": ([("A", 1, D("20.00"), n)], D("0"), D("20.00")),
        "G": (
            [("A", 2, D("40.00"), t), ("B", 1, D("30.00"), t), ("discount", 0, D("5.00"), None)],
            D("4.40"),
            D("69.40"),
        ),
    }


def refunds_expected(mode: str) -> list[tuple[list[Line], Decimal, Decimal]]:
    t, n = code(mode, True), code(mode, False)
    return [
        ([("A", 1, D("20.00"), t)], D("1.60"), D("21.60")),  # R1
        ([("B", 0, D("5.00"), t)], D("0.40"), D("5.40")),  # R2
        ([("shipping", 0, D("12.00"), t)], D("0.80"), D("12.80")),  # R3
        ([("A", 0, D("0.67"), n), ("B", 0, D("0.33"), n)], D("0"), D("1.00")),  # R4
        ([("A", 1, D("20.00"), t), ("discount", 0, D("2.00"), None)], D("1.60"), D("19.60")),
    ]


CANCEL_REST = ("A", 1, D("19.33")), ("B", 1, D("24.67"))


def place(bc_store: SandboxStore, **body: Any) -> str:
    return str(bc_store.call("POST", "/orders", json={"status_id": 11, **body})["id"])


def refund(bc_store: SandboxStore, order: str, *items: dict[str, Any], **money: str) -> None:
    bc_store.call("POST", f"/orders/{order}/refunds", json={"items": list(items), **money})


@pytest.mark.parametrize("mode", list(MODES))
def test_orders_refunds_and_a_cancel_to_the_cent(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo, mode: str
) -> None:
    bc_store.seed([{"sku": "A", "inventory_level": 50}, {"sku": "B", "inventory_level": 50}])
    qbo.items({"sku": "A", "qty": 100}, {"sku": "B", "qty": 100})
    if mode != "ast":
        qbo.config(tax_mode=mode)
    hub = bc_qbo_hub(tmp_path, bc_store, qbo, **MODES[mode])
    w = place(
        bc_store,
        lines=[
            {"sku": "A", "quantity": 3, "price": "20.00", "tax": "1.60"},
            {"sku": "B", "quantity": 1, "price": "30.00", "tax": "2.40"},
        ],
        shipping="10.00",
        shipping_tax="0.80",
        handling="2.00",
        coupon_discount="9.00",
    )
    e = place(bc_store, lines=[{"sku": "A", "quantity": 1, "price": "20.00"}])
    g = place(
        bc_store,
        lines=[
            {"sku": "A", "quantity": 2, "price": "20.00", "tax": "1.00"},
            {"sku": "B", "quantity": 1, "price": "30.00", "tax": "2.40"},
        ],
        discount="5.00",
        gift_certificate_amount="10.00",
        store_credit_amount="5.00",
    )

    first = services.sync(hub, None, SYNC_ALL)

    assert first.status is RunStatus.SUCCEEDED, first
    receipts = by_number(qbo, "SalesReceipt")
    names = {w: "W", e: "E", g: "G"}
    assert {names[n]: summary(qbo, d) for n, d in receipts.items()} == receipts_expected(mode)
    assert ledger(qbo) == {
        "revenue": D("166.00"),  # 81 + 20 + 65: each total less its tax and shipping
        "shipping": D("12.00"),
        "tax": D("12.40"),  # 8 + 0 + 4.40
        "money_in": D("190.40"),  # 101 + 20 + 69.40: what the buyers paid
    }
    if mode == "us_codes":
        assert receipts[w]["TxnTaxDetail"]["TxnTaxCodeRef"] == {"value": "2"}
        assert "TxnTaxCodeRef" not in receipts[e]["TxnTaxDetail"]

    line_a, line_b = int(w) * 1000, int(w) * 1000 + 1
    refund(bc_store, w, {"item_type": "PRODUCT", "item_id": line_a, "quantity": 1})  # R1
    refund(bc_store, w, {"item_type": "PRODUCT", "item_id": line_b, "amount": 5}, total_tax="0.40")
    refund(
        bc_store,
        w,
        {"item_type": "SHIPPING", "item_id": 1, "amount": 10},
        {"item_type": "HANDLING", "item_id": 1, "amount": 2},
        total_tax="0.80",
    )  # R3
    refund(bc_store, w, {"item_type": "ORDER", "item_id": int(w), "amount": 1})  # R4
    refund(
        bc_store,
        w,
        {"item_type": "PRODUCT", "item_id": line_a, "quantity": 1},
        total_amount="19.60",
        total_tax="1.60",
    )  # R5
    refund(
        bc_store,
        w,
        {"item_type": "PRODUCT", "item_id": line_a, "quantity": 2},
        total_amount="4.00",
        total_tax="0",
    )  # R6
    refund(
        bc_store,
        w,
        {"item_type": "SHIPPING", "item_id": 1, "amount": 1},
        total_amount="3.00",
        total_tax="0",
    )  # R7

    second = services.sync(hub, None, SYNC_ALL)

    assert second.status is RunStatus.PARTIAL, second
    refused = " | ".join(e.message for e in second.errors)
    assert len(second.errors) == 2, refused
    assert "returns 2 of SKU A, but the order line has 3 and 2 were returned before" in refused
    assert "come to 1.00, but it paid back 3.00" in refused
    made = qbo.sandbox.books.documents["RefundReceipt"]
    assert [summary(qbo, d) for d in made] == refunds_expected(mode)
    assert [qbo.quantity("A"), qbo.quantity("B")] == [100 - 6 + 2, 100 - 2]

    bc_store.call("PUT", f"/orders/{w}", json={"status_id": 5})
    third = services.sync(hub, None, SYNC_ALL)

    made = qbo.sandbox.books.documents["RefundReceipt"]
    assert len(made) == 6, third
    t = code(mode, True)
    assert summary(qbo, made[-1]) == (
        [*((sku, q, a, t) for sku, q, a in CANCEL_REST), ("discount", 0, D("7.00"), None)],
        D("3.60"),
        D("40.60"),
    )
    assert ledger(qbo) == {
        "revenue": D("85.00"),  # W's 81 all given back: E 20 + G 65
        "shipping": D("0.00"),
        "tax": D("4.40"),  # G's
        "money_in": D("89.40"),  # 20 + 69.40: every cent of W refunded once
    }
    # each unit of W returned once: A 3 (R1, R5, the cancel), B 1 (the cancel)
    assert [qbo.quantity("A"), qbo.quantity("B")] == [100 - 3, 100 - 1]
    refunds = {n: c for n, c in qbo.receipts().items() if n.startswith(f"{w}-R")}
    # one each; the refused R6 and R7 keep their numbers and book nothing
    assert refunds == {f"{w}-R{n}": 1 for n in (1, 2, 3, 4, 5, 8)}


def test_tax_inclusive_prices_are_booked_to_the_cent(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo
) -> None:
    """Prices that include 20% VAT: 10.00 is reported 8.3333 + 1.6667 tax. Three on one
    line: 24.9999 + 5.0001 = 30.00 -> a line of 25.00 and tax 5.00. One each on three
    lines: 3 x 8.33 = 24.99 + tax 5.00 leaves a cent, which goes on the largest line.
    A unit refunded by quantity: 8.3333 + 1.6667 -> 8.33 + 1.67 = 10.00."""
    bc_store.seed([{"sku": s, "inventory_level": 50} for s in ("A", "B", "C")])
    qbo.items(*({"sku": s, "qty": 100} for s in ("A", "B", "C")))
    hub = bc_qbo_hub(tmp_path, bc_store, qbo)
    vat = {"price": "8.3333", "tax": "1.6667"}
    one = place(bc_store, lines=[{"sku": "A", "quantity": 3, **vat}])
    three = place(bc_store, lines=[{"sku": s, "quantity": 1, **vat} for s in ("A", "B", "C")])

    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED

    receipts = by_number(qbo, "SalesReceipt")
    assert summary(qbo, receipts[one]) == ([("A", 3, D("25.00"), None)], D("5.00"), D("30.00"))
    assert summary(qbo, receipts[three]) == (
        [("A", 1, D("8.34"), None), ("B", 1, D("8.33"), None), ("C", 1, D("8.33"), None)],
        D("5.00"),
        D("30.00"),
    )
    refund(bc_store, one, {"item_type": "PRODUCT", "item_id": int(one) * 1000, "quantity": 1})
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    (back,) = qbo.sandbox.books.documents["RefundReceipt"]
    assert summary(qbo, back) == ([("A", 1, D("8.33"), None)], D("1.67"), D("10.00"))
    assert ledger(qbo)["money_in"] == D("50.00")  # 30 + 30 - 10
