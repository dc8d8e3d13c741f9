"""The domain's rules as pure functions: the order lifecycle, the catalog merges (one
newest-wins rule) and withholding. No storage at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from stockbridge.domain.catalog import VariantState, merge_back_office_item, merge_web_variant
from stockbridge.domain.freshness import newest_wins
from stockbridge.domain.model import BackOfficeItem, OrderLine, WebOrder, WebOrderStatus, WebVariant
from stockbridge.domain.orders import OrderState, PostState, apply_web_order
from stockbridge.domain.withholding import withheld

T0 = datetime(2026, 3, 1, tzinfo=UTC)
LINES = (OrderLine("A", 2, Decimal("5")), OrderLine("B", 1, Decimal("3")))
OPEN, CANCELLED = WebOrderStatus.OPEN, WebOrderStatus.CANCELLED
PENDING, UNCERTAIN = PostState.PENDING, PostState.UNCERTAIN
POSTED, NOT_POSTABLE = PostState.POSTED, PostState.NOT_POSTABLE


def web_order(status: WebOrderStatus, at: datetime = T0) -> WebOrder:
    return WebOrder("1", "W1", status, at, LINES)


def held(status: WebOrderStatus, post_state: PostState, at: datetime = T0) -> OrderState:
    return OrderState(status, post_state, at)


def test_newest_wins_ignores_only_an_older_copy() -> None:
    assert newest_wins(T0, T0 + timedelta(seconds=1))
    assert newest_wins(T0, T0)  # the same copy again is applied (harmless)
    assert not newest_wins(T0, T0 - timedelta(microseconds=1))
    assert newest_wins(None, T0) and newest_wins(T0, None)  # nothing to compare


def test_a_new_order_takes_stock_and_waits_to_be_posted() -> None:
    change = apply_web_order(None, web_order(OPEN))
    assert change.post_state is PENDING and not change.ignored
    assert change.stock_taken == LINES and change.stock_given_back == ()
    assert change.web_stock_moved == {"A", "B"}


def test_a_new_cancelled_order_is_not_postable_and_moves_nothing() -> None:
    change = apply_web_order(None, web_order(CANCELLED))
    assert change.post_state is NOT_POSTABLE
    assert (change.stock_taken, change.stock_given_back, change.web_stock_moved) == (
        (),
        (),
        frozenset(),
    )


def test_a_stale_copy_is_ignored() -> None:
    change = apply_web_order(held(CANCELLED, NOT_POSTABLE), web_order(OPEN, T0 - timedelta(1)))
    assert change.ignored and change.post_state is NOT_POSTABLE
    assert change.stock_taken == () and change.web_stock_moved == frozenset()


@pytest.mark.parametrize(
    ("state", "new_state", "given_back"),
    [
        (PENDING, NOT_POSTABLE, LINES),  # cancelled before posting: stock comes back
        (UNCERTAIN, UNCERTAIN, LINES),  # still looked up first; stock comes back
        (POSTED, POSTED, ()),  # the back office holds it: it stays posted, keeps stock
    ],
)
def test_a_cancel_follows_the_post_state(
    state: PostState, new_state: PostState, given_back: tuple[OrderLine, ...]
) -> None:
    change = apply_web_order(held(OPEN, state), web_order(CANCELLED, T0 + timedelta(1)))
    assert change.post_state is new_state
    assert change.stock_given_back == given_back and change.stock_taken == ()
    assert change.web_stock_moved == {"A", "B"}  # the web gave its own stock back


@pytest.mark.parametrize(
    ("state", "new_state"), [(NOT_POSTABLE, PENDING), (POSTED, POSTED), (UNCERTAIN, UNCERTAIN)]
)
def test_a_revived_order_takes_stock_again(state: PostState, new_state: PostState) -> None:
    change = apply_web_order(held(CANCELLED, state), web_order(OPEN, T0 + timedelta(1)))
    assert change.post_state is new_state and change.stock_taken == LINES


def test_a_change_that_keeps_the_order_postable_moves_no_stock() -> None:
    now = T0 + timedelta(1)
    change = apply_web_order(held(OPEN, PENDING), web_order(WebOrderStatus.FULFILLED, now))
    assert change.post_state is PENDING
    assert (change.stock_taken, change.stock_given_back, change.web_stock_moved) == (
        (),
        (),
        frozenset(),
    )


def test_back_office_merge_is_newest_wins_on_its_own_clock() -> None:
    hub = VariantState("Old", Decimal("1"), True, T0, T0 + timedelta(days=9), quantity=4)
    stale = BackOfficeItem("A", "New", Decimal("2"), 9, False, T0 - timedelta(1))
    assert merge_back_office_item(hub, stale) is None
    # a web change later than the report does not make the report stale
    newer = BackOfficeItem("A", None, None, None, False, T0 + timedelta(1))
    merged = merge_back_office_item(hub, newer)
    assert merged == VariantState(
        "Old", Decimal("1"), False, T0 + timedelta(1), T0 + timedelta(days=9), quantity=4
    )  # unreported name/price and a non-stock item's quantity stay as they were


@pytest.mark.parametrize(("web_is_master", "name"), [(True, "Web"), (False, "Hub")])
def test_web_merge_takes_name_and_price_only_where_the_web_is_master(
    web_is_master: bool, name: str
) -> None:
    hub = VariantState("Hub", Decimal("1"), web_modified_at=T0, quantity=5)
    seen = WebVariant("A", "ref", "Web", Decimal("2"), None, T0 + timedelta(1))
    merged = merge_web_variant(hub, seen, web_is_master=web_is_master)
    assert merged is not None
    assert (merged.name, merged.price) == (name, Decimal("2") if web_is_master else Decimal("1"))
    assert merged.quantity is None  # the web's own figure, untracked here
    assert merge_web_variant(hub, seen, web_is_master=True) is not None
    stale = WebVariant("A", "ref", "Web", Decimal("2"), 3, T0 - timedelta(1))
    assert merge_web_variant(hub, stale, web_is_master=True) is None


def test_web_merge_fills_in_what_the_hub_does_not_have() -> None:
    merged = merge_web_variant(
        VariantState(), WebVariant("A", "ref", "Web", Decimal("2"), 7), web_is_master=False
    )
    assert merged is not None and (merged.name, merged.price, merged.quantity) == (
        "Web",
        Decimal("2"),
        7,
    )


def test_withholding_counts_orders_the_back_office_has_not_accounted_for() -> None:
    read_began = T0
    orders = [
        OrderState(OPEN, PENDING, T0, None, (OrderLine("A", 1, Decimal("1")),)),
        OrderState(OPEN, UNCERTAIN, T0, None, (OrderLine("A", 2, Decimal("1")),)),
        OrderState(OPEN, POSTED, T0, T0 + timedelta(1), (OrderLine("A", 4, Decimal("1")),)),
        OrderState(OPEN, POSTED, T0, T0 - timedelta(1), (OrderLine("A", 8, Decimal("1")),)),
        OrderState(CANCELLED, PENDING, T0, None, (OrderLine("A", 16, Decimal("1")),)),
        OrderState(OPEN, NOT_POSTABLE, T0, None, (OrderLine("B", 32, Decimal("1")),)),
    ]
    assert withheld(orders, read_began) == {"A": 1 + 2 + 4}
    assert withheld(orders, None) == {"A": 1 + 2 + 4 + 8}  # no complete read yet
