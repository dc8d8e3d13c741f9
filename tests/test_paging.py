"""Paginators: each style's tokens, and every partner read refusing to loop when the
partner repeats a page (a clear PartnerResponseError after a few calls, not a hang)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from stockbridge.connectors.bigcommerce.client import BigCommerceStore
from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.paging import (
    Boundary,
    BoundaryPaginator,
    CursorPaginator,
    OffsetPaginator,
    PageAnswer,
    PageNumberPaginator,
    RepeatedPage,
)
from stockbridge.connectors.qbo import make_back_office
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from tests.bc_helpers import NO_WAIT
from tests.qbo_support import Qbo, qbo_sandbox  # noqa: F401  (the qbo fixture)
from tests.qbo_support import connector as qbo_connector

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


# --- the paginators ------------------------------------------------------------------


def test_page_numbers_end_at_the_page_count_or_a_short_page() -> None:
    counted = PageNumberPaginator(10, partner="p", what="things")
    asked = []
    for page in counted:
        asked.append(page)
        counted.advance(PageAnswer(10, (page,), total_pages=3, answered=page))
    assert asked == [1, 2, 3]
    short = PageNumberPaginator(10, partner="p", what="things")
    asked = []
    for page in short:
        asked.append(page)
        short.advance(PageAnswer(10 if page < 4 else 3, (page,)))
    assert asked == [1, 2, 3, 4]


def test_a_repeated_page_or_token_is_refused() -> None:
    pages = PageNumberPaginator(10, partner="p", what="things")
    pages.advance(PageAnswer(10, ("a", "b")))
    with pytest.raises(RepeatedPage, match="things: the answer for 2 repeats"):
        pages.advance(PageAnswer(10, ("a", "b")))
    wrong = PageNumberPaginator(10, partner="p", what="things")
    with pytest.raises(PartnerResponseError, match="asked for 1, the answer is for 2"):
        wrong.advance(PageAnswer(10, ("a",), answered=2))
    cursor = CursorPaginator[str, str]("t0", lambda answer: answer, partner="p", what="feed")
    cursor.advance("t1")
    cursor.advance("t2")
    with pytest.raises(RepeatedPage, match="the next page would be t1 again"):
        cursor.advance("t1")


def test_offsets_move_by_the_page_size() -> None:
    pages = OffsetPaginator(1000, start=1, partner="p", what="rows")
    asked = []
    for start in pages:
        asked.append(start)
        pages.advance(PageAnswer(1000 if start < 2001 else 5, (start,)))
    assert asked == [1, 1001, 2001]


def test_a_boundary_reopens_at_the_last_time_and_steps_through_one_instant() -> None:
    pages = BoundaryPaginator(None, 3, partner="p", what="orders")
    t1, t2 = T0, T0 + timedelta(seconds=1)
    pages.advance([(1, T0), (2, t1), (3, t2)])
    assert pages.current == Boundary(t2, 1)
    assert not pages.is_new((3, t2)) and pages.is_new((4, t2))
    pages.advance([(3, t2), (4, t2), (5, t2)])  # a whole page at one instant
    assert pages.current == Boundary(t2, 2)
    pages.advance([(6, t2)])
    assert pages.finished


def test_a_boundary_page_with_nothing_new_is_a_repeat() -> None:
    pages = BoundaryPaginator(None, 2, partner="p", what="orders")
    pages.advance([(1, T0), (2, T0 + timedelta(seconds=1))])
    with pytest.raises(RepeatedPage, match="nothing new"):
        pages.advance([(1, T0), (2, T0 + timedelta(seconds=1))])  # filter ignored


# --- every partner read, against a partner that repeats itself ------------------------


def bigcommerce(handler: Handler) -> BigCommerceStore:
    return BigCommerceStore(
        ConnectorEnv(
            settings={"store_hash": "abc", "api_url": "https://api.example"},
            vault=MemoryVault({"access_token": "t"}),
            limiters=LimiterRegistry(),
            retry=NO_WAIT,
            transport=httpx.MockTransport(handler),
        )
    )


def counting(answer: Callable[[httpx.Request], Any], calls: Counter[str]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        calls[request.url.path] += 1
        if calls[request.url.path] > 20:  # the old loops never stopped: fail, not hang
            raise AssertionError(f"still paging {request.url.path} after 20 calls")
        return httpx.Response(200, content=json.dumps(answer(request)).encode())

    return handle


def product(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "name": f"P{n}",
        "sku": f"P{n}",
        "inventory_tracking": "product",
        "date_modified": (T0 + timedelta(seconds=n)).isoformat(),
        "variants": [{"id": n, "product_id": n, "sku": f"P{n}"}],
    }


def order(n: int, moment: datetime) -> dict[str, Any]:
    return {"id": n, "status_id": 11, "date_modified": format_datetime(moment)}


def v2_orders(orders: list[tuple[int, datetime]]) -> Handler:
    """A partner that honours ``min_date_modified``, ``sort=date_modified:asc``, ``limit``
    and ``page`` like BigCommerce v2 (ties in id order; 204 past the end)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/v2/orders"):
            return httpx.Response(204)  # no lines
        params = request.url.params
        since = params.get("min_date_modified")
        chosen = sorted(
            (o for o in orders if since is None or o[1] >= datetime.fromisoformat(since)),
            key=lambda o: (o[1], o[0]),
        )
        limit, page = int(params["limit"]), int(params["page"])
        rows = chosen[(page - 1) * limit : page * limit]
        if not rows:
            return httpx.Response(204)
        return httpx.Response(200, json=[order(n, moment) for n, moment in rows])

    return handle


@pytest.mark.parametrize(
    "instants",
    [(300, 30), (250, 10), (600,), (249, 300), (100, 100, 60), (1, 250, 250, 1)],
    ids=str,
)
def test_orders_at_shared_instants_are_each_read(instants: tuple[int, ...]) -> None:
    moments = [T0 + timedelta(seconds=s) for s, count in enumerate(instants) for _ in range(count)]
    orders = list(enumerate(moments, start=1))

    pages = list(bigcommerce(v2_orders(orders)).iter_orders(None))

    seen = [int(o.web_id) for page in pages for o in page.items]
    assert sorted(seen) == [i for i, _ in orders]  # each once


def test_catalog_pages_the_partner_repeats_are_refused() -> None:
    calls: Counter[str] = Counter()

    def same_products(request: httpx.Request) -> Any:  # claims to answer the page asked
        page = int(request.url.params["page"])
        pagination = {"total": 750, "count": 250, "per_page": 250, "current_page": page}
        return {"data": [product(n) for n in range(250)], "meta": {"pagination": {
            **pagination, "total_pages": 3}}}  # fmt: skip

    with pytest.raises(RepeatedPage, match="catalog products: the answer for 2 repeats"):
        list(bigcommerce(counting(same_products, calls)).iter_catalog(None))
    assert calls["/stores/abc/v3/catalog/products"] == 2


def test_orders_from_a_partner_that_ignores_the_filter_are_refused() -> None:
    calls: Counter[str] = Counter()
    page = [order(n, T0 + timedelta(seconds=n)) for n in range(1, 251)]

    def same_orders(request: httpx.Request) -> Any:
        return page if request.url.path.endswith("/v2/orders") else []

    with pytest.raises(RepeatedPage, match="orders: a full page with nothing new"):
        list(bigcommerce(counting(same_orders, calls)).iter_orders(None))
    assert calls["/stores/abc/v2/orders"] == 2


def test_orders_at_one_instant_from_a_partner_that_ignores_the_page_are_refused() -> None:
    calls: Counter[str] = Counter()
    page = [order(n, T0) for n in range(1, 251)]

    def same_orders(request: httpx.Request) -> Any:
        return page if request.url.path.endswith("/v2/orders") else []

    with pytest.raises(RepeatedPage, match="nothing new"):
        list(bigcommerce(counting(same_orders, calls)).iter_orders(T0))
    assert calls["/stores/abc/v2/orders"] == 2


def test_order_lines_the_partner_repeats_are_refused() -> None:
    calls: Counter[str] = Counter()
    lines = [{"id": n, "order_id": 7, "sku": f"S{n}", "quantity": 1} for n in range(50)]

    def one_order(request: httpx.Request) -> Any:
        if request.url.path.endswith("/v2/orders"):
            return [order(7, T0)]
        return lines  # whatever page is asked for

    with pytest.raises(RepeatedPage, match="order 7 products: the answer for 2 repeats"):
        list(bigcommerce(counting(one_order, calls)).iter_orders(None))
    assert calls["/stores/abc/v2/orders/7/products"] == 2


def qbo_items(count: int, moment: datetime, first: int = 0) -> list[dict[str, Any]]:
    stamp = moment.isoformat()
    return [
        {"Id": str(first + n), "Name": f"I{n}", "Sku": f"I{first + n}", "Type": "Inventory",
         "QtyOnHand": 1, "Active": True, "MetaData": {"LastUpdatedTime": stamp}}
        for n in range(count)
    ]  # fmt: skip


def quickbooks(handler: Handler) -> Any:
    vault = MemoryVault(
        {
            "client_id": "c",
            "client_secret": "s",
            "refresh_token": "r",
            "access_token": "a",
            "access_expires_at": repr(time.time() + 3600),
        }
    )
    env = ConnectorEnv(
        settings={"realm_id": "9", "api_url": "https://qbo.example"},
        vault=vault,
        limiters=LimiterRegistry(),
        retry=NO_WAIT,
        transport=httpx.MockTransport(handler),
    )
    return make_back_office(env)


def test_item_queries_the_partner_repeats_are_refused() -> None:
    calls: Counter[str] = Counter()
    rows = qbo_items(1000, T0)

    def same_rows(_request: httpx.Request) -> Any:  # STARTPOSITION ignored
        return {"QueryResponse": {"Item": rows}, "time": T0.isoformat()}

    with pytest.raises(RepeatedPage, match="item query: the answer for 1001 repeats"):
        list(quickbooks(counting(same_rows, calls)).iter_items(None))
    assert calls["/v3/company/9/query"] == 2


def test_change_capture_stuck_at_one_instant_reads_everything_once() -> None:
    """CDC cannot page past 1,000 changes at one instant: the read falls back to a full
    query (as before) instead of asking for the same changes again and again."""
    calls: Counter[str] = Counter()
    since = datetime.now(UTC) - timedelta(days=1)
    moment = since + timedelta(seconds=5)

    def stuck(request: httpx.Request) -> Any:
        if request.url.path.endswith("/cdc"):
            rows = qbo_items(1000, moment)
            return {"CDCResponse": [{"QueryResponse": [{"Item": rows}]}]}
        start = int(request.url.params["query"].split("STARTPOSITION ")[1].split()[0])
        rows = qbo_items(1000 if start == 1 else 10, moment, first=start)
        return {"QueryResponse": {"Item": rows}, "time": moment.isoformat()}

    pages = list(quickbooks(counting(stuck, calls)).iter_items(since))
    assert calls["/v3/company/9/cdc"] == 2 and calls["/v3/company/9/query"] == 2
    assert len({item.sku for page in pages[2:] for item in page.items}) == 1010


def test_change_capture_pages_by_1000_against_the_sandbox(qbo: Qbo) -> None:
    qbo.items({"sku": "START", "qty": 1})
    back_office, _ = qbo_connector(qbo)
    cursor = list(back_office.iter_items(None))[-1].cursor
    assert cursor is not None
    for group, count in enumerate((900, 900, 700)):  # three instants, a second apart
        qbo.advance(1)
        qbo.items(*({"sku": f"G{group}-{n}", "qty": n} for n in range(count)))

    pages = list(back_office.iter_items(cursor))

    # re-opened at each page's newest change ("at or after": that instant comes again)
    assert [len(p.items) for p in pages] == [1000, 1000, 700]
    skus = {i.sku for p in pages for i in p.items} - {"START"}
    assert len(skus) == 2500
    assert qbo.counters()["calls"]["cdc"] == 3
