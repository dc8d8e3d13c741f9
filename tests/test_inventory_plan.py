"""inventory-out's decision row by row (``domain/inventory.plan_push_rows``) and the reason
a dry run shows for it (``push_reason``): survivors of the mutation tool (issue 26)."""

from __future__ import annotations

from stockbridge.domain.inventory import PUSH_REASONS, StockRow, plan_push_rows, push_reason
from stockbridge.domain.model import DEFAULT_LOCATION, InventorySource
from stockbridge.domain.web_catalog import ABSENT_REF


def row(stock_id: int, sku: str, qty: int, **kwargs: object) -> StockRow:
    return StockRow(
        stock_id,
        sku,
        DEFAULT_LOCATION,
        InventorySource.BACK_OFFICE,
        False,
        qty,
        None,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_sku_the_web_lacks_is_not_planned_and_the_rows_after_it_still_are() -> None:
    """Rule: a row the web store does not have (not created, refused, unconfirmed) is
    never planned, so never recorded as sent; every other row is planned as before."""
    rows = [
        row(1, "A", 5, partner_ref="product:1"),
        row(2, "ABSENT", 7, partner_ref=ABSENT_REF),
        row(3, "C", 9, partner_ref="product:3"),
        row(4, "D", 4, partner_ref=None, last_sent=4),  # sent already: nothing to do
    ]
    planned = [(p.update.sku, p.update.quantity) for p in plan_push_rows(rows, {})]
    assert planned == [("A", 5), ("C", 9)]


def test_the_reason_is_withheld_orders_from_one_unit_withheld() -> None:
    one = row(1, "A", 5, partner_ref="product:1")
    assert push_reason(one, 1) == PUSH_REASONS[1] == "withheld orders"
    assert push_reason(one, 0) == PUSH_REASONS[2]
    assert push_reason(one._replace(active=False), 1) == PUSH_REASONS[3]
    assert push_reason(one._replace(hub_managed=True), 1) == PUSH_REASONS[0]


def test_the_planned_update_carries_the_rows_web_reference() -> None:
    """The push addresses the web's product or variant by the reference the hub holds,
    not by SKU (a SKU alone is ambiguous where a product's variants share one)."""
    planned = list(plan_push_rows([row(1, "A", 5, partner_ref="variant:11:1")], {}))
    assert [p.update.partner_ref for p in planned] == ["variant:11:1"]


def test_withholding_is_planned_at_the_default_location_only() -> None:
    """Web orders take stock at the default location: a warehouse row withholds nothing,
    in its target and in the withheld figure a dry run shows."""
    warehouse = row(1, "A", 5, partner_ref="product:1")._replace(location="warehouse")
    default = row(2, "A", 5, partner_ref="product:1")
    planned = list(plan_push_rows([warehouse, default], {"A": 3}))
    assert [(p.row.location, p.update.quantity, p.withheld) for p in planned] == [
        ("warehouse", 5, 0),
        (DEFAULT_LOCATION, 2, 3),
    ]


def test_an_inactive_item_is_planned_at_zero_when_the_store_says_zero() -> None:
    """Rule (the store's ``inactive: zero``): an item the back office made inactive shows
    0 on the web; without the setting it keeps its quantity."""
    inactive = row(1, "A", 5, partner_ref="product:1", active=False)
    zeroed = list(plan_push_rows([inactive], {}, zero_inactive=True))
    kept = list(plan_push_rows([inactive], {}, zero_inactive=False))
    assert [p.update.quantity for p in zeroed] == [0]
    assert [p.update.quantity for p in kept] == [5]
