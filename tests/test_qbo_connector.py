"""The QuickBooks connector against its sandbox over HTTP: reading items (query, CDC),
posting (batch, single, refusals, faults), malformed answers and rate limits."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.qbo.client import retry_after
from stockbridge.connectors.ratelimit import LimiterRegistry
from stockbridge.domain.model import OrderLine, PostRequest, WebOrder, WebOrderStatus
from tests.qbo_support import Qbo, connector, qbo_sandbox  # noqa: F401  (the qbo fixture)


def request(number: int, *lines: tuple[str, int], **extra: object) -> PostRequest:
    order = WebOrder(
        web_id=str(number),
        number=f"W{number}",
        status=WebOrderStatus.OPEN,
        modified_at=datetime.now(UTC),
        lines=tuple(OrderLine(sku, qty, Decimal("9.99"), sku) for sku, qty in lines),
        **extra,  # type: ignore[arg-type]
    )
    return PostRequest(order, f"sb-1-{number}")


# --- reading -------------------------------------------------------------------------


def test_full_read_pages_by_1000_and_maps_items(qbo: Qbo) -> None:
    qbo.items(*({"sku": f"S{i:04d}", "qty": i, "price": "2.50"} for i in range(2100)))
    qbo.items(
        {"name": "no sku", "qty": 3},
        {"sku": "SERVICE", "type": "Service", "price": "40"},
        {"sku": "OLD", "qty": 1, "active": False},
    )
    back_office, _ = connector(qbo)

    pages = list(back_office.iter_items(None))

    assert [len(p.items) for p in pages] == [1000, 1000, 102]  # 2,103 rows, one without SKU
    assert [p.cursor is not None for p in pages] == [False, False, True]
    items = {i.sku: i for p in pages for i in p.items}
    assert items["S0042"].quantity == 42 and items["S0042"].price == Decimal("2.50")
    assert items["SERVICE"].quantity is None and items["SERVICE"].price == Decimal("40")
    assert items["OLD"].active is False
    assert qbo.counters()["calls"] == {"token": 1, "query": 3}


def test_cdc_since_a_cursor_returns_exactly_the_items_changed_after_it(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}, {"sku": "C", "qty": 3})
    qbo.advance(5)
    back_office, _ = connector(qbo)
    first = list(back_office.iter_items(None))
    cursor = first[-1].cursor
    assert cursor is not None
    qbo.advance(5)
    qbo.change("B", qty=7)
    qbo.items({"sku": "D", "qty": 4})

    pages = list(back_office.iter_items(cursor))

    assert {i.sku: i.quantity for p in pages for i in p.items} == {"B": 7, "D": 4}
    assert pages[-1].cursor is not None and pages[-1].cursor > cursor
    assert qbo.counters()["calls"]["cdc"] == 1
    # "at or after": the same second comes again (the hub de-duplicates), nothing older
    (again,) = back_office.iter_items(pages[-1].cursor)
    assert {i.sku for i in again.items} == {"B", "D"}


def test_cursor_older_than_30_days_falls_back_to_full_query(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 1}, {"sku": "B", "qty": 2})
    back_office, _ = connector(qbo)

    pages = list(back_office.iter_items(datetime.now(UTC) - timedelta(days=31)))

    assert {i.sku for p in pages for i in p.items} == {"A", "B"}
    assert "cdc" not in qbo.counters()["calls"]


def test_sandbox_refuses_cdc_beyond_30_days_like_quickbooks(qbo: Qbo) -> None:
    back_office, _ = connector(qbo)
    back_office.check()
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    answer = back_office.client.get("cdc", {"entities": "Item", "changedSince": old})
    assert answer.status == 400
    with pytest.raises(PartnerResponseError, match="30 days"):
        answer.require_ok("change data capture")


# --- posting -------------------------------------------------------------------------


def test_batch_posts_receipts_with_lines_shipping_discount_and_note(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 10}, {"sku": "B", "qty": 10})
    back_office, _ = connector(qbo, doc_prefix="WEB-")
    orders = [
        request(1, ("A", 2), shipping=Decimal("5.00"), discount=Decimal("1.50")),
        request(2, ("A", 1), ("B", 3)),
    ]

    outcomes = back_office.post_orders(orders)

    assert all(o.posted for o in outcomes), outcomes
    receipts = qbo.sandbox.books.documents["SalesReceipt"]
    assert [r["DocNumber"] for r in receipts] == ["WEB-W1", "WEB-W2"]
    assert receipts[0]["TotalAmt"] == Decimal("23.48")  # 2 x 9.99 + 5 shipping - 1.50
    assert "W1" in receipts[0]["PrivateNote"]
    assert qbo.sandbox.books.customers[receipts[0]["CustomerRef"]["value"]]["DisplayName"] == (
        "Web Store"
    )
    assert qbo.quantity("A") == 7 and qbo.quantity("B") == 7
    assert qbo.counters()["batch_sizes"] == [2]
    found = back_office.find_posted([*orders, request(3, ("A", 1))])
    assert found == {o.web_id: o.document_ref for o in outcomes}


def test_one_order_uses_the_single_endpoint_and_invoice_is_a_setting(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 10})
    back_office, _ = connector(qbo, document="invoice")

    (outcome,) = back_office.post_orders([request(1, ("A", 1))])

    assert outcome.posted
    assert len(qbo.sandbox.books.documents["Invoice"]) == 1
    assert qbo.counters()["calls"].get("invoice") == 1
    assert back_office.find_posted([request(1, ("A", 1))]) == {"1": outcome.document_ref}


@pytest.mark.parametrize("prefetch", [5000, 0], ids=["item-list-read", "looked-up-by-sku"])
def test_refusals_name_the_cause_and_never_stop_the_others(qbo: Qbo, prefetch: int) -> None:
    qbo.items({"sku": "A", "qty": 10}, {"sku": "RETIRED", "qty": 5, "name": "Old lamp"})
    back_office, _ = connector(qbo, prefetch_items=prefetch)
    qbo.change("RETIRED", active=False)
    long_number = request(9, ("A", 1))
    long_number = PostRequest(
        WebOrder("9", "X" * 22, WebOrderStatus.OPEN, datetime.now(UTC), long_number.order.lines),
        "sb-1-9",
    )

    outcomes = back_office.post_orders(
        [
            request(1, ("A", 1)),
            request(2, ("GHOST", 1), ("A", 1)),
            request(3, ("RETIRED", 1)),
            long_number,
            request(4, ("A", 2)),
        ]
    )

    by_id = {o.web_id: o for o in outcomes}
    assert by_id["1"].posted and by_id["4"].posted
    assert by_id["2"].error is not None and "GHOST" in by_id["2"].error.message
    assert by_id["3"].error is not None and "RETIRED" in by_id["3"].error.message
    assert "inactive" in by_id["3"].error.message
    assert by_id["9"].error is not None and "21" in by_id["9"].error.message
    assert set(qbo.receipts()) == {"W1", "W4"}
    # count + one page of items, or one "Sku in (...)" look-up; then the customer
    assert qbo.counters()["calls"]["query"] == (3 if prefetch else 2)


def test_partner_faults_become_per_order_errors_with_code(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 10})
    qbo.config(duplicate_doc_warning=True)
    back_office, _ = connector(qbo)
    assert back_office.post_orders([request(1, ("A", 1))])[0].posted

    # Same DocNumber under another key (another store's order W1): fault 6140.
    again = PostRequest(request(1, ("A", 1)).order, "sb-2-1")
    (outcome,) = back_office.post_orders([again, request(2, ("A", 1))])[:1]

    assert outcome.error is not None and outcome.error.code == "6140"
    assert "duplicate document number" in outcome.error.message
    assert qbo.receipts() == {"W1": 1, "W2": 1}


def test_sandbox_is_strict_about_batches_request_ids_and_minorversion(qbo: Qbo) -> None:
    back_office, _ = connector(qbo)
    client = back_office.client
    too_many = {"BatchItemRequest": [{"bId": str(i), "operation": "create"} for i in range(31)]}
    assert client.post("batch", too_many, request_id="r1", batch=True).status == 400
    assert client.post("batch", {"BatchItemRequest": []}, request_id="x" * 37).status == 400
    token = back_office.client.tokens.current()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    plain = httpx.get(
        f"{client.base}/query", params={"query": "select * from Item"}, headers=headers
    )
    assert plain.status_code == 400 and "minorversion" in plain.text
    no_auth = httpx.get(f"{client.base}/query", params={"minorversion": "75", "query": "x"})
    assert no_auth.status_code == 401 and "AuthenticationFault" in no_auth.text


@pytest.mark.parametrize("kind", ["bad_json", "empty_object"])
def test_malformed_answers_become_clear_errors(qbo: Qbo, kind: str) -> None:
    qbo.items({"sku": "A", "qty": 1})
    back_office, _ = connector(qbo)
    back_office.check()
    qbo.faults({"path": "query", "kind": kind})

    with pytest.raises(PartnerResponseError, match="unreadable QuickBooks answer") as caught:
        list(back_office.iter_items(None))
    assert caught.value.partner == "qbo"

    qbo.faults({"path": "companyinfo", "kind": kind})
    with pytest.raises(PartnerResponseError):
        back_office.check()


def test_429_waits_retry_after_then_succeeds(qbo: Qbo) -> None:
    qbo.config(rate_limits=True, per_second=3, retry_after=0.4)
    qbo.items({"sku": "A", "qty": 1})
    back_office, _ = connector(qbo)  # the client's own pacing is off: the partner throttles

    for _ in range(4):
        assert back_office.check()

    assert qbo.counters()["throttled"] >= 1


def test_client_pacing_keeps_within_the_documented_limits(qbo: Qbo) -> None:
    qbo.config(rate_limits=True)
    back_office, _ = connector(qbo, limiters=LimiterRegistry())  # documented windows

    for _ in range(12):
        back_office.check()

    assert qbo.counters()["throttled"] == 0


def test_retry_after_defaults_to_a_minute() -> None:
    assert retry_after(httpx.Response(429)) == 60.0
    assert retry_after(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0


def test_find_posted_tells_another_stores_document_with_the_same_number(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 10})
    back_office, _ = connector(qbo)
    mine = request(1, ("A", 1))
    theirs = PostRequest(mine.order, "sb-2-1")  # store 2's order W1, same company
    (posted,) = back_office.post_orders([mine])

    assert back_office.find_posted([theirs]) == {}
    assert back_office.find_posted([mine]) == {"1": posted.document_ref}
    # a note the merchant rewrote no longer names a store: taken as ours, never re-posted
    qbo.sandbox.books.documents["SalesReceipt"][0]["PrivateNote"] = "called the customer"
    assert back_office.find_posted([theirs]) == {"1": posted.document_ref}


def test_token_is_refreshed_ahead_of_expiry_without_a_401(qbo: Qbo) -> None:
    back_office, vault = connector(qbo)
    back_office.check()
    first = vault.secrets["refresh_token"]
    tokens = back_office.client.tokens
    tokens.clock = lambda: time.time() + 3600 - 60  # an hour later: a minute left

    back_office.check()

    counters = qbo.counters()
    assert counters["refreshes"] == 2 and counters["unauthorized"] == 0
    assert vault.secrets["refresh_token"] != first  # rotated and saved


@pytest.mark.parametrize("kind", ["error", "drop", "applied_drop"])
def test_transient_faults_on_a_batch_are_retried_under_the_same_request_id(
    qbo: Qbo, kind: str
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    back_office, _ = connector(qbo)
    qbo.faults(
        {"path": "batch", "kind": kind}, {"path": "query", "kind": "latency", "seconds": 0.05}
    )

    outcomes = back_office.post_orders([request(1, ("A", 1)), request(2, ("A", 2))])

    assert all(o.posted for o in outcomes)
    assert qbo.receipts() == {"W1": 1, "W2": 1}
    assert qbo.counters()["calls"]["batch"] == 2
    assert qbo.quantity("A") == 7


def test_an_item_missing_a_field_is_named_in_the_error(qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 1})
    (item,) = qbo.sandbox.books.items.values()
    del item["MetaData"]  # a partner answer without a documented field
    back_office, _ = connector(qbo)

    with pytest.raises(PartnerResponseError, match="'MetaData' missing"):
        list(back_office.iter_items(None))
