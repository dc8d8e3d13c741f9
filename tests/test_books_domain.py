"""``domain.books.plan_reversals``: what a posted order's cancel and refunds become, and
which refunds are refused (with the reason). Figures by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from stockbridge.domain.books import (
    CANCEL_KEY,
    ReversalKind,
    ReversalLine,
    plan_reversals,
    revenue,
)
from stockbridge.domain.model import (
    CancelAs,
    OrderLine,
    RefundLine,
    WebOrder,
    WebOrderStatus,
    WebRefund,
)

D = Decimal
T = datetime(2026, 1, 1, tzinfo=UTC)


def order(
    status: WebOrderStatus = WebOrderStatus.OPEN, refunds: tuple[WebRefund, ...] = ()
) -> WebOrder:
    # 2 x 10.00 + 1 x 25.00 = 45; shipping 5; discount 3; tax 3.36; total 50.36
    return WebOrder(
        "1", "N1", status, T,
        (OrderLine("A", 2, D("10.00"), "a", "L1"), OrderLine("B", 1, D("25.00"), "b", "L2")),
        total=D("50.36"), shipping=D("5.00"), discount=D("3.00"), tax=D("3.36"),
        refunds=refunds,
    )  # fmt: skip


def refund(
    rid: str, total: str, tax: str, *lines: tuple[str, int, str], ship: str = "0"
) -> WebRefund:
    parts = tuple(RefundLine(li, q, D(a)) for li, q, a in lines)
    return WebRefund(rid, D(total), D(tax), D(ship), parts)


def test_revenue_is_total_less_tax_and_shipping() -> None:
    assert revenue(order()) == D("42.00")  # 50.36 - 3.36 - 5.00 = 45 - 3


def test_nothing_to_reverse_for_an_open_order() -> None:
    assert plan_reversals(order(), posted=True, recorded=()).reversals == ()


def test_cancel_after_posting_voids_and_restocks_everything() -> None:
    plan = plan_reversals(order(WebOrderStatus.CANCELLED), posted=True, recorded=())
    (void,) = plan.reversals
    assert (void.key, void.kind, void.total) == (CANCEL_KEY, ReversalKind.VOID, D("50.36"))
    assert [(li.sku, li.quantity) for li in void.restock] == [("A", 2), ("B", 1)]


def test_cancel_before_posting_reverses_nothing() -> None:
    assert plan_reversals(order(WebOrderStatus.CANCELLED), posted=False, recorded=()) == (
        plan_reversals(order(), posted=False, recorded=())
    )


def test_cancel_as_refund_receipt_refunds_the_whole_order() -> None:
    plan = plan_reversals(
        order(WebOrderStatus.CANCELLED), posted=True, recorded=(), cancel_as=CancelAs.REFUND_RECEIPT
    )
    (whole,) = plan.reversals
    assert whole.kind is ReversalKind.REFUND
    # lines 45 + shipping 5 + tax 3.36 - discount 3 = 50.36
    assert (whole.total, whole.shipping, whole.tax, whole.discount) == (
        D("50.36"),
        D("5.00"),
        D("3.36"),
        D("3.00"),
    )


def test_partial_refund_then_cancel_refunds_only_the_rest() -> None:
    first = refund("r1", "10.80", "0.80", ("L1", 1, "10.00"))
    plan = plan_reversals(order(refunds=(first,)), posted=True, recorded=())
    (done,) = plan.reversals
    assert done.lines == (ReversalLine("A", 1, D("10.00"), "a", "L1"),) and done.total == D("10.80")
    cancelled = order(WebOrderStatus.CANCELLED, refunds=(first,))

    rest = plan_reversals(cancelled, posted=True, recorded=[done])

    (cancel,) = rest.reversals
    assert cancel.kind is ReversalKind.REFUND  # never a void over a refund
    # 50.36 - 10.80 = 39.56 = A 1 x 10 + B 25 + shipping 5 + tax 2.56 - discount 3
    assert cancel.total == D("39.56") and cancel.tax == D("2.56") and cancel.discount == D("3.00")
    assert [(li.sku, li.quantity, li.amount) for li in cancel.lines] == [
        ("A", 1, D("10.00")),
        ("B", 1, D("25.00")),
    ]


def test_a_refund_is_planned_once() -> None:
    first = refund("r1", "10.80", "0.80", ("L1", 1, "10.00"))
    (done,) = plan_reversals(order(refunds=(first,)), posted=True, recorded=()).reversals
    assert plan_reversals(order(refunds=(first,)), posted=True, recorded=[done]).reversals == ()


def test_bad_refunds_are_refused_with_the_reason() -> None:
    cases = {
        "more than was paid": refund("r1", "60.00", "0", ("L1", 2, "60.00")),
        "is not a line of the order": refund("r2", "5.00", "0", ("L9", 1, "5.00")),
        "the order line has 2": refund("r3", "30.00", "0", ("L1", 3, "30.00")),
        "come to": refund("r4", "12.00", "0.80", ("L1", 1, "10.00")),
        "refunds nothing": refund("r5", "0", "0"),
    }
    for reason, bad in cases.items():
        plan = plan_reversals(order(refunds=(bad,)), posted=True, recorded=())
        assert plan.reversals == (), reason
        (refused,) = plan.refused
        assert reason in refused.message, (reason, refused.message)
        again = plan_reversals(
            order(refunds=(bad,)), posted=True, recorded=(), refused_keys=[refused.key]
        )
        assert again.refused == (), reason  # refused once, not again on every copy


def test_refunds_beyond_the_total_across_refunds_are_refused() -> None:
    one = refund("r1", "30.00", "0", ("L2", 1, "25.00"), ship="5.00")
    two = refund("r2", "25.00", "0", ("L1", 2, "20.00"), ship="5.00")
    plan = plan_reversals(order(refunds=(one, two)), posted=True, recorded=())
    assert [r.key for r in plan.reversals] == ["refund-r1"]
    assert "more than was paid" in plan.refused[0].message  # 30 + 25 > 50.36


def by_quantity(line: str, quantity: int) -> RefundLine:
    return RefundLine(line, quantity, None)  # BigCommerce's requested_amount: null


def test_refund_by_quantity_takes_the_line_price_and_the_rest_as_discount() -> None:
    # A 1 unit (10.00) refunded by quantity: 9.00 + 0.72 tax paid back, the coupon's share
    # (1.00) kept back by the store -> line 10.00, discount 1.00, tax 0.72, total 9.72
    kept = WebRefund("r1", D("9.72"), D("0.72"), lines=(by_quantity("L1", 1),))
    (done,) = plan_reversals(order(refunds=(kept,)), posted=True, recorded=()).reversals
    assert (done.lines, done.discount, done.tax, done.total) == (
        (ReversalLine("A", 1, D("10.00"), "a", "L1"),),
        D("1.00"),
        D("0.72"),
        D("9.72"),
    )
    too_much = WebRefund("r2", D("12.00"), D("0.80"), lines=(by_quantity("L1", 1),))
    plan = plan_reversals(order(refunds=(too_much,)), posted=True, recorded=())
    assert plan.reversals == ()
    assert "11.20 is left for the returned lines" in plan.refused[0].message
    assert "worth 10.00" in plan.refused[0].message


def test_order_level_amount_is_spread_over_the_lines_to_the_cent() -> None:
    # 1.00 over A 20.00 and B 25.00 (of 45): 0.444 -> 0.44, 0.555 -> 0.56
    refund = WebRefund("r1", D("1.00"), order_amount=D("1.00"))
    (done,) = plan_reversals(order(refunds=(refund,)), posted=True, recorded=()).reversals
    assert [(li.sku, li.quantity, li.amount) for li in done.lines] == [
        ("A", 0, D("0.44")),
        ("B", 0, D("0.56")),
    ]
    assert done.restock == ()


def test_tax_items_and_unknown_kinds() -> None:
    tax_only = WebRefund("r1", D("0.50"), D("0.50"), tax_items=D("0.50"))
    (done,) = plan_reversals(order(refunds=(tax_only,)), posted=True, recorded=()).reversals
    assert (done.lines, done.tax, done.total) == ((), D("0.50"), D("0.50"))
    cases = {
        "more than the 0.20 of tax": WebRefund("r2", D("0.50"), D("0.20"), tax_items=D("0.50")),
        "items of kind STORE_CREDIT": WebRefund("r3", D("1.00"), unbookable=("STORE_CREDIT",)),
        "a negative tax": WebRefund("r4", D("1.00"), D("-0.10"), shipping=D("1.10")),
    }
    for reason, bad in cases.items():
        plan = plan_reversals(order(refunds=(bad,)), posted=True, recorded=())
        assert plan.reversals == () and reason in plan.refused[0].message, (reason, plan)


def test_returns_are_counted_per_line_across_refunds() -> None:
    one = WebRefund("r1", D("10.80"), D("0.80"), lines=(by_quantity("L1", 1),))
    two = WebRefund("r2", D("10.80"), D("0.80"), lines=(by_quantity("L1", 1),))
    three = WebRefund("r3", D("10.80"), D("0.80"), lines=(by_quantity("L1", 1),))
    plan = plan_reversals(order(refunds=(one, two, three)), posted=True, recorded=())
    assert [r.key for r in plan.reversals] == ["refund-r1", "refund-r2"]
    assert "the order line has 2 and 2 were returned before" in plan.refused[0].message
