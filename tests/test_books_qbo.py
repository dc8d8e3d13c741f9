"""Books that balance, through the hub, the real QuickBooks connector and its sandbox over
HTTP: tax booked as tax, shipping and discounts where QuickBooks expects them, one
customer per buyer (a DisplayName collision with a vendor handled), payment method and
deposit account; then a cancel after posting (void), a partial refund (RefundReceipt,
restocked) and bad refunds, each an item error while the rest goes on. Every figure is
computed by hand in the comments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap, default_registry
from stockbridge.config import Settings
from stockbridge.connectors.qbo import KIND, make_back_office
from stockbridge.domain.books import ReversalRequest
from stockbridge.domain.model import (
    SYNC_ALL,
    OrderLine,
    PostOutcome,
    RefundLine,
    RunStatus,
    WebOrder,
    WebOrderStatus,
    WebRefund,
)
from stockbridge.retry import RetryPolicy
from tests.fakes import FakeWebStore, HubCrash
from tests.qbo_support import (
    Qbo,
    connect_store,
    make_hub,
    qbo_sandbox,  # noqa: F401  (the qbo fixture)
    unlimited,
)

D = Decimal
GIVE_UP_AT_ONCE = RetryPolicy(attempts=1, base_delay=0, sleep=lambda _s: None)


def web_with(*skus: str) -> FakeWebStore:
    web = FakeWebStore()
    for sku in skus:
        web.add_variant(sku, 0)
    return web


def sync_all(hub: Hub) -> services.RunReport:
    return services.sync(hub, None, SYNC_ALL)


def place(
    web: FakeWebStore,
    number: str,
    lines: Sequence[tuple[str, int, str]],
    *,
    shipping: str = "0",
    discount: str = "0",
    tax: str = "0",
    email: str | None = None,
    name: str | None = None,
    method: str | None = "Credit Card",
    status: WebOrderStatus = WebOrderStatus.OPEN,
    refunds: tuple[WebRefund, ...] = (),
) -> WebOrder:
    """A web order as BigCommerce reports it: line prices and shipping ex tax, the
    order's tax whole, total = lines + shipping - discount + tax."""
    order_lines = tuple(
        OrderLine(sku, qty, D(price), sku, f"{number}-{n}")
        for n, (sku, qty, price) in enumerate(lines)
    )
    subtotal = sum((li.unit_price * li.quantity for li in order_lines), D(0))
    order = WebOrder(
        web_id=number,
        number=number,
        status=status,
        modified_at=web.clock.now(),
        lines=order_lines,
        total=subtotal + D(shipping) - D(discount) + D(tax),
        shipping=D(shipping),
        discount=D(discount),
        tax=D(tax),
        customer_email=email,
        billing_name=name,
        payment_method=method,
        refunds=refunds,
    )
    web.orders[number] = order
    return order


def change(web: FakeWebStore, number: str, **fields: Any) -> None:
    web.orders[number] = replace(web.orders[number], modified_at=web.clock.now(), **fields)


def books_store(hub: Hub, qbo: Qbo, **settings: Any) -> None:
    connect_store(hub, qbo, **settings)
    services.update_books(
        hub,
        "shop",
        customer_mode="per_buyer",
        deposit_account="35",
        payment_methods={"Credit Card": "3", "PayPal": "5"},
    )


def ledger(qbo: Qbo) -> dict[str, Decimal]:
    return {k: D(str(v)) for k, v in qbo.sandbox.books.ledger().items()}


def documents(qbo: Qbo, entity: str) -> dict[str, dict[str, Any]]:
    return {str(d["DocNumber"]): d for d in qbo.sandbox.books.documents[entity]}


def test_tax_shipping_discounts_buyers_cancel_and_refunds_balance(tmp_path: Path, qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 100}, {"sku": "B", "qty": 50}, {"sku": "C", "qty": 20})
    qbo.admin.post("/admin/names", json={"kind": "vendor", "name": "Ann Lee"}).raise_for_status()
    web = web_with("A", "B", "C")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    books_store(hub, qbo)
    # O1: 2 x 10.00 + 1 x 25.00 = 45.00, shipping 5.00, discount 3.00, tax 8% of 42 = 3.36
    #     total 45 + 5 - 3 + 3.36 = 50.36
    place(
        web,
        "O1",
        [("A", 2, "10.00"), ("B", 1, "25.00")],
        shipping="5.00",
        discount="3.00",
        tax="3.36",
        email="ann@example.com",
        name="Ann Lee",
    )
    # O2: 3 x 7.50 = 22.50, shipping 4.00, tax 1.80; total 28.30; PayPal
    place(
        web,
        "O2",
        [("C", 3, "7.50")],
        shipping="4.00",
        tax="1.80",
        email="bob@example.com",
        name="Bob Stone",
        method="PayPal",
    )
    # O3: Ann again, 1 x 10.00, tax 0.80; total 10.80
    place(web, "O3", [("A", 1, "10.00")], tax="0.80", email="ANN@example.com", name="Ann Lee")

    first = sync_all(hub)

    assert first.status is RunStatus.SUCCEEDED, first
    receipts = documents(qbo, "SalesReceipt")
    assert {n: D(str(d["TotalAmt"])) for n, d in receipts.items()} == {
        "O1": D("50.36"),
        "O2": D("28.30"),
        "O3": D("10.80"),
    }  # = the web orders' totals
    assert ledger(qbo) == {
        "revenue": D("74.50"),  # (45 - 3) + 22.50 + 10 = the totals less tax and shipping
        "shipping": D("9.00"),  # 5 + 4
        "tax": D("5.96"),  # 3.36 + 1.80 + 0.80: tax payable, not revenue
        "money_in": D("89.46"),  # 50.36 + 28.30 + 10.80
    }
    customers = {c["DisplayName"]: c for c in qbo.sandbox.books.customers.values()}
    # "Ann Lee" is a vendor's name (6240): her customer gets her e-mail added; one each.
    assert sorted(customers) == ["Ann Lee (ann@example.com)", "Bob Stone"]
    ann = customers["Ann Lee (ann@example.com)"]["Id"]
    assert receipts["O1"]["CustomerRef"]["value"] == receipts["O3"]["CustomerRef"]["value"] == ann
    assert receipts["O1"]["PaymentMethodRef"] == {"value": "3"}
    assert receipts["O2"]["PaymentMethodRef"] == {"value": "5"}
    assert all(d["DepositToAccountRef"] == {"value": "35"} for d in receipts.values())
    assert [qbo.quantity(s) for s in "ABC"] == [97, 49, 17]

    # The web: O1 cancelled; O2 refunds one C (7.50 + 0.60 tax); O3 a refund of 20.00,
    # more than its 10.80; O4 (new, Bob) refunded on a line it does not have; O5 cancelled
    # before it was ever posted, with a refund.
    change(web, "O1", status=WebOrderStatus.CANCELLED)
    change(
        web,
        "O2",
        status=WebOrderStatus.FULFILLED,
        refunds=(
            WebRefund("r1", D("8.10"), D("0.60"), D("0"), (RefundLine("O2-0", 1, D("7.50")),)),
        ),
    )
    change(
        web,
        "O3",
        refunds=(
            WebRefund("r2", D("20.00"), D("0.80"), D("0"), (RefundLine("O3-0", 1, D("19.20")),)),
        ),
    )
    place(
        web,
        "O4",
        [("B", 2, "25.00")],
        tax="4.00",
        email="bob@example.com",
        name="Bob Stone",
        refunds=(WebRefund("r3", D("5.00"), D("0"), D("0"), (RefundLine("999", 1, D("5")),)),),
    )
    place(
        web,
        "O5",
        [("C", 1, "7.50")],
        status=WebOrderStatus.CANCELLED,
        refunds=(WebRefund("r4", D("7.50"), D("0"), D("0"), (RefundLine("O5-0", 1, D("7.50")),)),),
    )

    second = sync_all(hub)

    assert second.status is RunStatus.PARTIAL, second
    failed = {e.key: e.message for e in second.errors}
    assert set(failed) == {"order O3 reversal", "order O4 reversal", "order O5 reversal"}, failed
    assert "more than was paid" in failed["order O3 reversal"]
    assert "line 999 is not a line of the order" in failed["order O4 reversal"]
    assert "never posted" in failed["order O5 reversal"]
    receipts = documents(qbo, "SalesReceipt")
    assert receipts["O1"]["TotalAmt"] == 0 and receipts["O1"]["PrivateNote"].startswith("Voided")
    refunds = documents(qbo, "RefundReceipt")
    assert {n: D(str(d["TotalAmt"])) for n, d in refunds.items()} == {"O2-R1": D("8.10")}
    assert refunds["O2-R1"]["DepositToAccountRef"] == {"value": "35"}
    assert ledger(qbo) == {
        "revenue": D("75.00"),  # O1 voided; O2 22.50 - 7.50; O3 10; O4 50
        "shipping": D("4.00"),  # O2's; O1's went with the void
        "tax": D("6.00"),  # O2 1.80 - 0.60, O3 0.80, O4 4.00
        "money_in": D("85.00"),  # 28.30 - 8.10 + 10.80 + 54.00
    }
    # A: 100 - 2 - 1 + 2 (void); B: 50 - 1 + 1 (void) - 2; C: 20 - 3 + 1 (refunded)
    assert [qbo.quantity(s) for s in "ABC"] == [99, 48, 18]
    assert len(qbo.sandbox.books.customers) == 2

    hub.engine.dispose()
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)  # a new process
    # O6: Ann once more, her e-mail spelled otherwise: found by e-mail, not created again
    place(web, "O6", [("A", 1, "10.00")], email=" Ann@Example.COM", name="Ann Lee")

    third = sync_all(hub)  # nothing sent twice, refusals listed once

    assert third.status is RunStatus.SUCCEEDED, third
    assert qbo.receipts() == {"O1": 1, "O2": 1, "O3": 1, "O4": 1, "O2-R1": 1, "O6": 1}
    assert ledger(qbo)["money_in"] == D("95.00")  # 85.00 + O6's 10.00
    assert len(qbo.sandbox.books.customers) == 2
    assert documents(qbo, "SalesReceipt")["O6"]["CustomerRef"]["value"] == ann
    history = services_reversals(hub, "O2")
    assert [(r.key, r.state, r.document_ref is not None) for r in history] == [
        ("refund-r1", "done", True)
    ]


def services_reversals(hub: Hub, web_id: str) -> list[Any]:
    with hub.uow() as uow:
        return list(uow.orders.reversals(1, web_id))


def test_cancel_after_a_partial_refund_refunds_the_rest(tmp_path: Path, qbo: Qbo) -> None:
    """A voided receipt would undo the refund a second time: the rest is refunded."""
    qbo.items({"sku": "A", "qty": 10})
    web = web_with("A")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    books_store(hub, qbo)
    # 3 x 10.00 + shipping 6.00 - discount 2.00 + tax 2.72 = 36.72
    place(web, "P1", [("A", 3, "10.00")], shipping="6.00", discount="2.00", tax="2.72")
    assert sync_all(hub).status is RunStatus.SUCCEEDED
    change(
        web,
        "P1",
        refunds=(
            WebRefund("r1", D("10.80"), D("0.80"), D("0"), (RefundLine("P1-0", 1, D("10.00")),)),
        ),
    )
    assert sync_all(hub).status is RunStatus.SUCCEEDED
    change(web, "P1", status=WebOrderStatus.CANCELLED)

    report = sync_all(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    refunds = documents(qbo, "RefundReceipt")
    # The rest: 36.72 - 10.80 = 25.92 = 2 x 10.00 + 6.00 shipping + 1.92 tax - 2.00 discount
    assert {n: D(str(d["TotalAmt"])) for n, d in refunds.items()} == {
        "P1-R1": D("10.80"),
        "P1-R2": D("25.92"),
    }
    assert ledger(qbo) == {k: D("0") for k in ("revenue", "shipping", "tax", "money_in")}
    assert qbo.quantity("A") == 10
    assert documents(qbo, "SalesReceipt")["P1"]["TotalAmt"] == D("36.72")  # not voided


def test_global_tax_company_gets_tax_codes_on_every_line(tmp_path: Path, qbo: Qbo) -> None:
    qbo.items({"sku": "A", "qty": 10})
    qbo.config(tax_mode="global")
    web = web_with("A")
    hub = make_hub(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", qbo, web)
    connect_store(hub, qbo)  # no tax_code_id: QuickBooks refuses the receipt
    place(web, "G1", [("A", 1, "20.00")], shipping="5.00", tax="2.50")
    # (a connector that cannot be built fails the step; the order stays for later)
    assert sync_all(hub).status is not RunStatus.SUCCEEDED
    assert not documents(qbo, "SalesReceipt")
    with hub.uow() as uow:
        connection = uow.stores.connection(1, "back_office")
        assert connection is not None
        connection.settings = {**connection.settings, "tax_mode": "global", "tax_code_id": "3"}
        uow.commit()

    report = sync_all(hub)

    assert report.status is RunStatus.SUCCEEDED, report
    receipt = documents(qbo, "SalesReceipt")["G1"]
    assert receipt["GlobalTaxCalculation"] == "TaxExcluded"
    assert [li["SalesItemLineDetail"]["TaxCodeRef"] for li in receipt["Line"]] == [
        {"value": "3"},
        {"value": "3"},
    ]
    assert D(str(receipt["TotalAmt"])) == D("27.50")  # 20 + 5 + 2.50
    assert ledger(qbo)["tax"] == D("2.50") and ledger(qbo)["revenue"] == D("20.00")


class DiesAfterReversing:
    """The hub dies right after QuickBooks booked its reversals, before recording them."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def post_reversals(self, requests: Sequence[ReversalRequest]) -> Sequence[PostOutcome]:
        self.inner.post_reversals(requests)
        raise HubCrash("the hub died right after QuickBooks answered")

    def find_reversals(self, requests: Sequence[ReversalRequest]) -> Mapping[str, str]:
        return dict(self.inner.find_reversals(requests))


def two_posted_orders(web: FakeWebStore) -> None:
    place(web, "K1", [("A", 2, "10.00")], tax="1.60")  # 21.60
    place(web, "K2", [("A", 1, "10.00")], tax="0.80")  # 10.80


def reverse_both(web: FakeWebStore) -> None:
    change(web, "K1", status=WebOrderStatus.CANCELLED)
    change(
        web,
        "K2",
        refunds=(
            WebRefund("r9", D("10.80"), D("0.80"), D("0"), (RefundLine("K2-0", 1, D("10.00")),)),
        ),
    )


def test_reversals_once_after_the_hub_died_having_sent_them(
    tmp_path: Path, database_url: str, qbo: Qbo
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    qbo.config(request_id_replay=False)  # only the hub's own look-up prevents a double
    web = web_with("A")
    crashing = default_registry()
    crashing.register(KIND, lambda env: DiesAfterReversing(make_back_office(env)))
    hub = make_hub(tmp_path, database_url, qbo, web, registry=crashing)
    books_store(hub, qbo)
    two_posted_orders(web)
    assert sync_all(hub).status is RunStatus.SUCCEEDED
    reverse_both(web)

    died = sync_all(hub)

    assert died.status is RunStatus.FAILED and "HubCrash" in (died.error or "")
    hub.engine.dispose()
    restarted = make_hub(tmp_path, database_url, qbo, web)  # a new process, same database
    report = sync_all(restarted)

    assert report.status is RunStatus.SUCCEEDED, report
    assert qbo.receipts() == {"K1": 1, "K2": 1, "K2-R1": 1}
    voids = qbo.counters()["calls"]
    assert ledger(qbo)["money_in"] == D("0")  # K1 voided, K2 refunded whole
    assert qbo.quantity("A") == 10
    assert "salesreceipt" in voids
    restarted.engine.dispose()


def impatient_hub(tmp_path: Path, qbo: Qbo, web: FakeWebStore) -> Hub:
    registry = default_registry()
    registry.register("fake-web", lambda _env: web)
    hub = bootstrap(
        Settings(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'hub.db'}"),
        registry=registry,
        retry=GIVE_UP_AT_ONCE,
    )
    hub.initialise()
    unlimited(hub.limiters, qbo.realm)
    return hub


@pytest.mark.parametrize("lost", ["refundreceipt", "salesreceipt"], ids=["refund", "void"])
def test_reversal_whose_answer_and_look_up_were_lost_is_sent_once(
    tmp_path: Path, qbo: Qbo, lost: str
) -> None:
    qbo.items({"sku": "A", "qty": 10})
    qbo.config(request_id_replay=False)
    web = web_with("A")
    hub = impatient_hub(tmp_path, qbo, web)
    books_store(hub, qbo)
    two_posted_orders(web)
    assert sync_all(hub).status is RunStatus.SUCCEEDED
    reverse_both(web)
    # QuickBooks books the reversal but its answer is lost; so is the look-up after it.
    look_up = "query" if lost == "refundreceipt" else "salesreceipt"
    qbo.faults(
        {"path": lost, "kind": "applied_drop", "skip": 1 if lost == "salesreceipt" else 0},
        {"path": look_up, "kind": "error", "times": 1},
    )

    first = sync_all(hub)

    assert first.status is RunStatus.PARTIAL, first
    assert any("will be checked before sending again" in e.message for e in first.errors)
    second = sync_all(hub)

    assert second.status is RunStatus.SUCCEEDED, second
    assert qbo.receipts() == {"K1": 1, "K2": 1, "K2-R1": 1}
    assert ledger(qbo)["money_in"] == D("0")
    assert qbo.quantity("A") == 10
