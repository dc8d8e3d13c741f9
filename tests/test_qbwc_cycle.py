"""BigCommerce sandbox <-> the simulated Web Connector and QuickBooks Desktop, over SOAP
through a running service: orders posted exactly once, stock converged, withholding
right while the Web Connector has not called, and sessions that end badly."""

from __future__ import annotations

import pytest

from stockbridge.domain.model import RunStatus
from stockbridge.services import qbwc as qbwc_service
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)


@pytest.mark.parametrize("shop", ["desktop", "pos", "desktop-mpn"], indirect=True)
def test_sessions_post_each_order_once_and_stock_converges(shop: Shop) -> None:
    wc = shop.connector()
    first = wc.session()
    assert first.auth == "", first
    assert first.calls[:3] == ["serverVersion", "clientVersion", "authenticate"]
    assert first.calls[-1] == "closeConnection"
    assert first.percents[-1] == 100, first
    shop.settle()
    assert shop.web_stock() == {"A": 20, "B": 21, "C": 22}

    order = shop.web.order([("A", 2), ("B", 1)])
    number = str(order["id"])
    report = shop.sync()  # the Web Connector has not called: nothing posted, stock withheld
    assert report.status is RunStatus.SUCCEEDED, report
    assert shop.company.receipts_by_ref() == {}
    assert shop.web_stock() == {"A": 18, "B": 20, "C": 22}

    second = wc.session()
    assert second.percents[-1] == 100, second
    shop.settle()
    assert shop.company.receipts_by_ref() == {number: 1}
    assert shop.qb_quantity("A") == 18
    assert shop.web_stock() == {"A": 18, "B": 20, "C": 22}

    wc.session()  # nothing new: nothing posted again
    shop.settle()
    assert shop.company.receipts_by_ref() == {number: 1}


@pytest.mark.parametrize("shop", ["desktop", "pos"], indirect=True)
def test_a_session_dropped_after_quickbooks_applied_posts_nothing_twice(shop: Shop) -> None:
    wc = shop.connector()
    wc.session()
    shop.settle()
    orders = [str(shop.web.order([("A", 1)])["id"]) for _ in range(3)]
    shop.sync()  # orders in; the Web Connector has not called

    dropped = wc.session(
        drop_on="SalesReceiptAddRq"
    )  # QuickBooks applied the receipts; the answer is lost
    assert dropped.dropped
    assert shop.company.receipts_by_ref() == dict.fromkeys(orders, 1)

    after = wc.session()  # the next update looks the receipts up before adding
    assert after.percents[-1] == 100, after
    shop.settle()
    assert shop.company.receipts_by_ref() == dict.fromkeys(orders, 1)
    assert shop.qb_quantity("A") == 17
    assert shop.web_stock()["A"] == 17
    wc.session()
    shop.settle()
    assert shop.company.receipts_by_ref() == dict.fromkeys(orders, 1)


def test_refused_receipt_is_named_and_its_stock_stays_withheld(shop: Shop) -> None:
    wc = shop.connector()
    wc.session()
    shop.settle()
    refused = str(shop.web.order([("B", 2)])["id"])
    posted = str(shop.web.order([("C", 1)])["id"])
    shop.company.refuse[refused] = ("3170", "The record is in use by another user.")
    shop.sync()

    wc.session()
    shop.settle()
    assert shop.company.receipts_by_ref() == {posted: 1}
    outcome = qbwc_service.qbwc_status(shop.running.hub, "shop").last_outcome or ""
    assert f"order {refused}: QuickBooks 3170" in outcome and "in use" in outcome, outcome
    assert shop.web_stock() == {"A": 20, "B": 19, "C": 21}  # B: 21 less the 2 unposted

    wc.session()  # the record is free again: posted at the next update, once
    shop.settle()
    assert shop.company.receipts_by_ref() == {posted: 1, refused: 1}


def test_quickbooks_busy_changes_nothing_and_the_next_session_does_the_work(shop: Shop) -> None:
    wc = shop.connector()
    order = str(shop.web.order([("A", 1)])["id"])
    busy = wc.session(busy=True)
    assert busy.calls[-2:] == ["connectionError", "closeConnection"]
    shop.settle()
    assert shop.company.receipts_by_ref() == {}
    done = wc.session()
    assert done.percents[-1] == 100
    shop.settle()
    assert shop.company.receipts_by_ref() == {order: 1}
