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
