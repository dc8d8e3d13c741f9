"""A period's sales and refunds for the month-end check, in BigCommerce's list calls:
``GET /v2/orders?min_date_created=&max_date_created=`` (250 a page) and ``GET
/v3/orders/payment_actions/refunds?created:min=&created:max=`` (every refund of the
store, 250 a page): two paged reads, never a call per order."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from stockbridge.connectors.bigcommerce import mapping
from stockbridge.connectors.paging import PageAnswer, PageNumberPaginator
from stockbridge.domain.model import WebOrderStatus
from stockbridge.domain.reconcile import WebPeriod, WebRefundSeen, WebSale

if TYPE_CHECKING:
    from stockbridge.connectors.bigcommerce.client import BigCommerceStore

__all__ = ["PAGE", "read_period"]

PAGE = 250
PARTNER = "bigcommerce"


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end, time(23, 59, 59), tzinfo=UTC),
    )


def read_period(store: BigCommerceStore, start: date, end: date) -> WebPeriod:
    low, high = _bounds(start, end)
    sales: list[WebSale] = []
    pages = PageNumberPaginator(PAGE, partner=PARTNER, what="orders of the period")
    for page in pages:
        params: dict[str, Any] = {
            "min_date_created": low.isoformat(),
            "max_date_created": high.isoformat(),
            "limit": PAGE,
            "page": page,
        }
        orders = store._v2_list("/v2/orders", params, mapping.V2Order, "order", "orders")
        for order in orders:
            status = mapping.STATUS[order.status_id]
            if status is WebOrderStatus.INCOMPLETE or order.date_created is None:
                continue
            sales.append(
                WebSale(
                    str(order.id),
                    str(order.id),
                    order.date_created.date(),
                    order.total_inc_tax,
                    cancelled=not status.postable,
                )
            )
        pages.advance(PageAnswer(len(orders), tuple(order.id for order in orders)))
    refunds: list[WebRefundSeen] = []
    pages = PageNumberPaginator(PAGE, partner=PARTNER, what="refunds of the period")
    for page in pages:
        params = {
            "created:min": low.isoformat(),
            "created:max": high.isoformat(),
            "limit": PAGE,
            "page": page,
        }
        data, pagination = store._v3_page(
            "/v3/orders/payment_actions/refunds", params, "refunds of the period"
        )
        rows = [mapping.parse(mapping.V3Refund, item, "refund") for item in data]
        for refund in rows:
            day = (refund.created or high).date()
            refunds.append(
                WebRefundSeen(str(refund.id), str(refund.order_id), day, refund.total_amount)
            )
        pages.advance(
            PageAnswer(
                len(rows),
                tuple(r.id for r in rows),
                total_pages=pagination.total_pages,
                answered=pagination.current_page,
            )
        )
    return WebPeriod(tuple(sales), tuple(refunds))
