"""The month-end check (``stockbridge books reconcile``, ``GET /api/v1/stores/{store}/
books/reconcile``) against the BigCommerce and QuickBooks sandboxes over HTTP: nothing to
report when the books agree; each kind of difference planted in the sandboxes found with
its cause; the partners read in their paged list calls (two each), nothing written; bad
dates refused (exit 2, 422)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge import accounts, services
from stockbridge.bootstrap import Hub
from stockbridge.cli import build_app
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox
from stockbridge.domain.model import SYNC_ALL, RunStatus
from stockbridge.sandbox_server import ServerThread
from stockbridge.web.app import create_app
from tests.bc_helpers import SandboxStore, new_store
from tests.books_support import add_bc_qbo_store, bc_qbo_hub, by_number
from tests.dashboard_helpers import log_in
from tests.qbo_support import Qbo, qbo_sandbox  # noqa: F401  (the qbo fixture)
from tests.test_bigcommerce_app import RecordingQueue

D = Decimal
TODAY = datetime.now(UTC).date()
PASSWORD = "correct horse battery"
PERIOD = ["--from", str(TODAY - timedelta(days=1)), "--to", str(TODAY + timedelta(days=1))]


def place(bc: SandboxStore, *lines: tuple[str, int, str, str], shipping: str = "0") -> str:
    body = {
        "lines": [{"sku": s, "quantity": q, "price": p, "tax": t} for s, q, p, t in lines],
        "shipping": shipping,
    }
    return str(bc.call("POST", "/orders", json=body)["id"])


def refund(bc: SandboxStore, order: str, *items: dict[str, Any], **money: str) -> str:
    made = bc.call("POST", f"/orders/{order}/refunds", json={"items": list(items), **money})
    return str(made["data"]["id"])


def check(hub: Hub, *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        build_app(lambda: hub), ["books", "reconcile", "--store", "shop", *PERIOD, "--json"]
    )
    assert result.exit_code in (0, 3), result.output
    return result.exit_code, json.loads(result.stdout)


def calls(bc: SandboxStore, qbo: Qbo) -> dict[str, int]:
    counted: dict[str, int] = {}
    for path, n in bc.counters()["calls"].items():
        counted[f"bc {path}"] = n
    for path, n in qbo.counters()["calls"].items():
        counted[f"qbo {path}"] = n
    return counted


@contextmanager
def served(hub: Hub) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The API (an operator's token) and the dashboard (a merchant logged in)."""
    accounts.add_user(hub, "ann", PASSWORD, stores=["shop"])
    server = ServerThread(create_app(hub, RecordingQueue())).start()
    token = services.create_token(hub, None, operator=True)
    try:
        with (
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api,
            httpx.Client(base_url=server.url, timeout=30) as browser,
        ):
            log_in(browser, "ann", PASSWORD)
            yield api, browser
    finally:
        server.stop()


@pytest.fixture(name="books")
def books_env(
    tmp_path: Path, bc_store: SandboxStore, qbo: Qbo
) -> Iterator[tuple[Hub, SandboxStore, Qbo]]:
    bc_store.seed([{"sku": s, "inventory_level": 50} for s in ("A", "B", "GHOST")])
    qbo.items({"sku": "A", "qty": 100}, {"sku": "B", "qty": 100})
    hub = bc_qbo_hub(tmp_path, bc_store, qbo)
    yield hub, bc_store, qbo
    hub.engine.dispose()


def agreeing_books(hub: Hub, bc: SandboxStore) -> dict[str, str]:
    """o1 21.60 refunded one unit (10.80); o2 35.00; o3 10.00 cancelled (voided)."""
    o1 = place(bc, ("A", 2, "10.00", "0.80"))
    o2 = place(bc, ("B", 1, "30.00", "0"), shipping="5.00")
    o3 = place(bc, ("A", 1, "10.00", "0"))
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    r1 = refund(bc, o1, {"item_type": "PRODUCT", "item_id": int(o1) * 1000, "quantity": 1})
    bc.call("PUT", f"/orders/{o3}", json={"status_id": 5})
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.SUCCEEDED
    return {"o1": o1, "o2": o2, "o3": o3, "r1": r1}


def test_books_that_agree_report_nothing_and_are_read_in_paged_calls(
    books: tuple[Hub, SandboxStore, Qbo],
) -> None:
    hub, bc, qbo = books
    agreeing_books(hub, bc)
    before = calls(bc, qbo)
    documents = {e: len(d) for e, d in qbo.sandbox.books.documents.items()}

    code, found = check(hub)

    assert code == 0 and found["agrees"] is True and found["differences"] == []
    (day,) = found["days"]
    assert (day["orders"], D(day["orders_total"])) == (3, D("66.60"))  # 21.60 + 35 + 10
    assert (day["refunds"], D(day["refunds_total"]), day["cancellations"]) == (1, D("10.8"), 1)
    assert (day["receipts"], D(day["receipts_total"])) == (2, D("56.60"))  # o3 is voided
    assert (day["refund_receipts"], D(day["refund_receipts_total"]), day["voids"]) == (
        1,
        D("10.80"),
        1,
    )
    after = calls(bc, qbo)
    used = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # one page of orders, one of refunds, one query per QuickBooks entity; no per-order
    # call, nothing written
    assert {k: n for k, n in used.items() if "token" not in k} == {
        "bc requests": 2,
        "bc GET /v2/orders": 1,
        "bc GET /v3/orders/payment_actions/refunds": 1,
        "qbo query": 2,
    }, used
    assert {e: len(d) for e, d in qbo.sandbox.books.documents.items()} == documents


def test_each_kind_of_difference_is_found_with_its_cause(
    books: tuple[Hub, SandboxStore, Qbo], bc_sandbox: tuple[BigCommerceSandbox, ServerThread]
) -> None:
    hub, bc, qbo = books
    ids = agreeing_books(hub, bc)
    o1, o2 = ids["o1"], ids["o2"]
    ghost = place(bc, ("GHOST", 1, "5.00", "0"))  # QuickBooks has no item GHOST
    o6 = place(bc, ("A", 1, "10.00", "0"))
    r2 = refund(
        bc, o1, {"item_type": "SHIPPING", "item_id": 1, "amount": 1}, total_amount="3.00"
    )  # its parts do not add up
    assert services.sync(hub, None, SYNC_ALL).status is RunStatus.PARTIAL
    o4 = place(bc, ("B", 1, "30.00", "0"))  # not synced yet
    r3 = refund(bc, o1, {"item_type": "PRODUCT", "item_id": int(o1) * 1000, "amount": 2})
    bc.call("PUT", f"/orders/{o6}", json={"status_id": 5})  # cancelled, not synced yet
    by_number(qbo, "SalesReceipt")[o2]["TotalAmt"] = D("34.00")  # edited in QuickBooks
    customer = by_number(qbo, "SalesReceipt")[o2]["CustomerRef"]
    item_a = qbo.sandbox.books.item_by_sku("A")
    assert item_a is not None
    qbo.sandbox.books.create(
        "SalesReceipt",
        {
            "DocNumber": "HAND-1",
            "CustomerRef": customer,
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": D("5"),
                    "SalesItemLineDetail": {"ItemRef": {"value": item_a["Id"]}, "Qty": 1},
                }
            ],
        },
    )  # typed by hand
    other = new_store(*bc_sandbox)
    other.seed([{"sku": "A", "inventory_level": 5}])
    add_bc_qbo_store(hub, other, qbo, "other")
    theirs = place(other, ("A", 1, "7.00", "0"))
    assert services.sync(hub, "other", SYNC_ALL).status is RunStatus.SUCCEEDED
    refunds = qbo.sandbox.books.documents["RefundReceipt"]
    refunds.remove(by_number(qbo, "RefundReceipt")[f"{o1}-R1"])  # deleted in QuickBooks

    code, found = check(hub)

    assert code == 3 and found["agrees"] is False
    got = {(d["what"], d["ref"]): (d["cause"], d["detail"]) for d in found["differences"]}
    assert {k: cause for k, (cause, _detail) in got.items()} == {
        ("order", o4): "not posted yet",
        ("order", ghost): "refused",
        ("order", o2): "amount differs",
        ("document", "HAND-1"): "booked by hand or by another store",
        ("document", theirs): "booked by hand or by another store",
        ("cancellation", o6): "missing reversal",
        ("refund", f"{ids['r1']} (order {o1})"): "missing reversal",
        ("refund", f"{r2} (order {o1})"): "refused",
        ("refund", f"{r3} (order {o1})"): "not posted yet",
    }, got
    assert "GHOST" in got[("order", ghost)][1]
    assert "34.00, the web order 35.00" in got[("order", o2)][1]
    assert "by hand" in got[("document", "HAND-1")][1]
    assert "another store" in got[("document", theirs)][1]
    assert "come to 1.00, but it paid back 3.00" in got[("refund", f"{r2} (order {o1})")][1]
    assert "has not read" in got[("refund", f"{r3} (order {o1})")][1]

    text = CliRunner().invoke(
        build_app(lambda: hub), ["books", "reconcile", "--store", "shop", *PERIOD]
    )
    assert text.exit_code == 3 and "9 difference(s)" in text.output
    with served(hub) as (_api, browser):
        page = browser.get("/stores/shop/books", params={"start": PERIOD[1], "end": PERIOD[3]})
    assert page.status_code == 200 and "9 difference(s)" in page.text
    assert page.text.count("<td>missing reversal</td>") == 2
    assert page.text.count("<td>booked by hand or by another store</td>") == 2


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [
        ("2026-13-01", "2026-12-31", "is not a date"),
        ("2026-12-31", "2026-12-01", "is after"),
        ("2024-01-01", "2026-12-31", "longer than 366 days"),
        ("yesterday", "2026-12-31", "is not a date"),
    ],
)
def test_bad_dates_exit_2_and_answer_422(
    books: tuple[Hub, SandboxStore, Qbo], start: str, end: str, why: str
) -> None:
    hub, bc, _qbo = books
    before = bc.counters()["calls"]
    cli = CliRunner().invoke(
        build_app(lambda: hub),
        ["books", "reconcile", "--store", "shop", "--from", start, "--to", end],
    )
    assert cli.exit_code == 2 and why in cli.output, cli.output

    with served(hub) as (api, browser):
        answer = api.get("/api/v1/stores/shop/books/reconcile", params={"from": start, "to": end})
        unknown = api.get(
            "/api/v1/stores/nowhere/books/reconcile",
            params={"from": "2026-12-01", "to": "2026-12-02"},
        )
        fine = api.get(
            "/api/v1/stores/shop/books/reconcile", params={"from": str(TODAY), "to": str(TODAY)}
        )
        page = browser.get("/stores/shop/books", params={"start": start, "end": end})
        agreeing = browser.get("/stores/shop/books")  # this month so far
    assert page.status_code == 422 and why in page.text
    assert agreeing.status_code == 200 and "The books agree" in agreeing.text
    assert answer.status_code == 422 and why in answer.text, answer.text
    assert unknown.status_code == 404
    assert fine.status_code == 200 and fine.json()["agrees"] is True
    assert bc.counters()["calls"] != before  # the good requests read the store
    assert date.fromisoformat(fine.json()["from"]) == TODAY


def test_a_partner_that_cannot_answer_exits_1_and_answers_502(
    books: tuple[Hub, SandboxStore, Qbo],
) -> None:
    hub, _bc, qbo = books
    qbo.faults({"path": "query", "kind": "error", "times": 20})
    cli = CliRunner().invoke(
        build_app(lambda: hub), ["books", "reconcile", "--store", "shop", *PERIOD]
    )
    assert cli.exit_code == 1 and "could not read the partners" in cli.output, cli.output
    with served(hub) as (api, _browser):
        answer = api.get(
            "/api/v1/stores/shop/books/reconcile", params={"from": PERIOD[1], "to": PERIOD[3]}
        )
    assert answer.status_code == 502 and "could not read the partners" in answer.text


def test_a_busy_period_is_read_page_by_page(books: tuple[Hub, SandboxStore, Qbo]) -> None:
    """260 web orders (two pages of 250 at most) and 1,001 receipts typed by hand (two
    queries of 1,000 at most): three list calls on the web, three queries in the books."""
    hub, bc, qbo = books
    for _ in range(260):
        place(bc, ("A", 1, "1.00", "0"))
    customer = qbo.sandbox.books.add_customer("Walk-in")["Id"]
    item = qbo.sandbox.books.item_by_sku("B")
    assert item is not None
    for n in range(1001):
        qbo.sandbox.books.create(
            "SalesReceipt",
            {
                "DocNumber": f"H{n}",
                "CustomerRef": {"value": customer},
                "Line": [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Amount": D("2"),
                        "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1},
                    }
                ],
            },
        )
    before = calls(bc, qbo)

    code, found = check(hub)

    after = calls(bc, qbo)
    used = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert {k: n for k, n in used.items() if k != "bc requests"} == {
        "bc GET /v2/orders": 2,
        "bc GET /v3/orders/payment_actions/refunds": 1,
        "qbo query": 3,
    }, used
    causes = [d["cause"] for d in found["differences"]]
    assert code == 3 and len(causes) == 260 + 1001
    assert causes.count("not posted yet") == 260
    (day,) = found["days"]
    assert (day["orders"], day["receipts"], D(day["receipts_total"])) == (260, 1001, D("2002"))
