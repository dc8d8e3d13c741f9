"""BigCommerce sandbox <-> the simulated Web Connector and QuickBooks Desktop, over SOAP
through a running service: orders posted exactly once, stock converged, withholding
right while the Web Connector has not called, and sessions that end badly."""

from __future__ import annotations

from stockbridge.domain.model import RunStatus
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)


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
    assert shop.company.quantity("A") == 18
    assert shop.web_stock() == {"A": 18, "B": 20, "C": 22}

    wc.session()  # nothing new: nothing posted again
    shop.settle()
    assert shop.company.receipts_by_ref() == {number: 1}
