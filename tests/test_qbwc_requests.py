"""Every qbXML / qbposXML request the hub can send, checked against the model of Intuit's
operation files (``sandbox/operations.json``); the rules the requests and the reading of
answers carry, each named: both ends of a POS time range in the shop's local time, our
receipts known by our key exactly, a failed look-up never read as "none found", a
Desktop line's Rate the unit price (not times the quantity)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from stockbridge.connectors.qbwc.connector import QbwcSetup
from stockbridge.connectors.qbwc.sandbox import DesktopCompany, PosCompany
from stockbridge.connectors.qbwc.sandbox.operations import ModelError, model, validate_document
from stockbridge.domain.books import Reversal, ReversalKind, ReversalLine, ReversalRequest
from stockbridge.domain.model import OrderLine, PostRequest, WebOrder, WebOrderStatus
from stockbridge.domain.orders import idempotency_key
from tests.qbwc_support import Shop, shop_fixture  # noqa: F401  (the shop fixture)

NOW = datetime(2026, 12, 7, 18, 30, tzinfo=UTC)
SETUPS = [
    QbwcSetup("desktop", "full_name"),
    QbwcSetup("desktop", "manufacturer_part_number"),
    QbwcSetup("pos", "alu"),
    QbwcSetup("pos", "upc"),
]


def _request(
    number: str,
    lines: tuple[OrderLine, ...],
    *,
    shipping: Decimal = Decimal(0),
    discount: Decimal = Decimal(0),
    tax: Decimal = Decimal(0),
) -> PostRequest:
    order = WebOrder(
        number,
        number,
        WebOrderStatus.OPEN,
        NOW,
        lines,
        placed_at=NOW,
        shipping=shipping,
        discount=discount,
        tax=tax,
    )
    return PostRequest(order, idempotency_key(1, number))


ORDERS = [
    _request("12", (OrderLine("A", 3, Decimal("4.50"), "Widget A"),)),
    _request(
        "120",
        (OrderLine("A", 1, Decimal("4.50")), OrderLine("B", 2, Decimal("10"))),
        shipping=Decimal("5"),
        discount=Decimal("1.50"),
        tax=Decimal("1.44"),
    ),
]
WINDOW = "QBPOSXMLMsgsRq/ItemInventoryQueryRq/TimeModifiedRangeFilter"
REFS = {"A": "80000001-1700000000", "B": "80000002-1700000001"}


def _reversal() -> ReversalRequest:
    order = ORDERS[1].order
    lines = (ReversalLine("A", 1, Decimal("4.50")), ReversalLine("B", 2, Decimal("20")))
    reversal = Reversal(
        "cancel", ReversalKind.VOID, lines, Decimal("5"), Decimal("1.44"), order.total
    )
    return ReversalRequest(order, reversal, "1-1700000000", 1, "sbr-1-120-1")


def _refund() -> ReversalRequest:
    """A refund of 1 x A (4.50) and 1.00 of an order-level amount spread on B, 2.00 of
    shipping, 0.36 of tax, 0.50 kept back."""
    order = ORDERS[1].order
    lines = (ReversalLine("A", 1, Decimal("4.50")), ReversalLine("B", 0, Decimal("1.00")))
    refund = Reversal(
        "refund-7",
        ReversalKind.REFUND,
        lines,
        Decimal("2"),
        Decimal("0.36"),
        Decimal("7.36"),
        Decimal("0.50"),
    )
    return ReversalRequest(order, refund, "1-1700000000", 2, "sbr-1-120-2")


def _documents(setup: QbwcSetup) -> list[str]:
    """One of each request the hub can send with this setup."""
    reversals = (
        [setup.return_request([_reversal()], REFS), setup.find_returns_request([_reversal()])]
        if setup.pos
        else [
            setup.reverse_request([_reversal(), _refund()], REFS),
            setup.find_returns_request([_refund()]),
        ]
    )
    return [
        *reversals,
        setup.refs_request(),
        setup.items_request(None, NOW, None, None),
        setup.items_request(NOW - timedelta(days=2), NOW, None, timedelta(hours=-6)),
        setup.items_request(NOW - timedelta(days=2), NOW, None, None),
        setup.items_request(None, NOW, "{5D8F5C3B-0000-4000-8000-000000000001}", None),
        setup.post_request(ORDERS, REFS),
        setup.find_request(ORDERS),
    ]


def _parse(document: str) -> etree._Element:
    return etree.fromstring(document.encode())


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: f"{s.flavour}-{s.sku_field}")
def test_every_request_the_hub_sends_fits_the_operation_model(setup: QbwcSetup) -> None:
    flavour = "qbposxml" if setup.pos else "qbxml"
    sent: set[str] = set()
    for document in _documents(setup):
        requests = validate_document(flavour, _parse(document))
        assert requests, document
        sent |= {str(rq.tag) for rq in requests}
    assert sent == set(model()[flavour]["requests"])  # every modelled request is sent here


@pytest.mark.parametrize(
    ("flavour", "path"),
    [
        ("qbposxml", "QBPOSXMLMsgsRq/ItemInventoryQueryRq/TimeModifiedRangeFilter/ToTimeModified"),
        (
            "qbposxml",
            "QBPOSXMLMsgsRq/ItemInventoryQueryRq/TimeModifiedRangeFilter/FromTimeModified",
        ),
        ("qbposxml", "QBPOSXMLMsgsRq/SalesReceiptAddRq/SalesReceiptAdd/SalesReceiptItemAdd/ListID"),
        ("qbposxml", "QBPOSXMLMsgsRq/SalesReceiptQueryRq/CommentsFilter/MatchStringCriterion"),
        ("qbxml", "QBXMLMsgsRq/SalesReceiptAddRq/SalesReceiptAdd/SalesReceiptLineAdd"),
        ("qbxml", "QBXMLMsgsRq/SalesReceiptAddRq/SalesReceiptAdd/SalesReceiptLineAdd/ItemRef/*"),
        ("qbxml", "QBXMLMsgsRq/CreditMemoAddRq/CreditMemoAdd/CustomerRef"),
        ("qbxml", "QBXMLMsgsRq/CreditMemoAddRq/CreditMemoAdd/CreditMemoLineAdd/ItemRef/*"),
    ],
)
def test_a_request_missing_a_required_element_fails_the_model(flavour: str, path: str) -> None:
    setup = QbwcSetup("pos", "alu") if flavour == "qbposxml" else QbwcSetup("desktop")
    for document in _documents(setup):
        root = _parse(document)
        for element in root.findall(path):
            element.getparent().remove(element)  # type: ignore[union-attr]
            with pytest.raises(ModelError, match="required element"):
                validate_document(flavour, root)
            return
    raise AssertionError(f"no request has {path}")


def test_order_values_and_lengths_are_checked_too() -> None:
    setup = QbwcSetup("desktop")
    root = _parse(setup.post_request(ORDERS[:1], REFS))
    add = root.find("QBXMLMsgsRq/SalesReceiptAddRq/SalesReceiptAdd")
    assert add is not None
    memo, ref = add.find("Memo"), add.find("RefNumber")
    assert memo is not None and ref is not None
    add.remove(memo)
    add.insert(0, memo)  # Memo before TxnDate: out of order
    with pytest.raises(ModelError, match="out of order"):
        validate_document("qbxml", root)
    root = _parse(setup.post_request(ORDERS[:1], REFS))
    found = root.find("QBXMLMsgsRq/SalesReceiptAddRq/SalesReceiptAdd/RefNumber")
    assert found is not None
    found.text = "123456789012"
    with pytest.raises(ModelError, match="longer than 11"):
        validate_document("qbxml", root)
    root = _parse(setup.post_request(ORDERS[:1], REFS))
    root[0].set("onError", "carryOn")
    with pytest.raises(ModelError, match="onError"):
        validate_document("qbxml", root)


def test_pos_time_range_has_both_ends_in_the_shops_local_time() -> None:
    setup = QbwcSetup("pos", "alu")
    since = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    root = _parse(setup.items_request(since, NOW, None, timedelta(hours=-6)))
    window = root.find("QBPOSXMLMsgsRq/ItemInventoryQueryRq/TimeModifiedRangeFilter")
    assert window is not None
    assert window.findtext("FromTimeModified") == "2026-12-07T12:00:00-06:00"
    assert window.findtext("ToTimeModified") == "2026-12-07T12:30:00-06:00"
    # Offset not known yet: wide enough whatever the shop's zone (UTC-12 .. UTC+14).
    root = _parse(setup.items_request(since, NOW, None, None))
    window = root.find("QBPOSXMLMsgsRq/ItemInventoryQueryRq/TimeModifiedRangeFilter")
    assert window is not None
    assert window.findtext("FromTimeModified") == "2026-12-07T04:00:00+00:00"
    assert window.findtext("ToTimeModified") == "2026-12-08T08:30:00+00:00"


@pytest.mark.parametrize("shop", ["pos"], indirect=True)
def test_a_pos_shop_in_utc_minus_6_has_its_in_store_changes_read(shop: Shop) -> None:
    assert isinstance(shop.company, PosCompany)
    assert shop.company.utc_offset == timedelta(hours=-6)
    wc = shop.connector()
    assert wc.session().percents[-1] == 100
    shop.settle()
    assert shop.web_stock() == {"A": 20, "B": 21, "C": 22}
    shop.company.set_quantity("C", 7)  # an in-store sale after the cursor
    shop.company.set_quantity("A", 30)  # a delivery counted in
    second = wc.session()
    assert second.percents[-1] == 100, second
    shop.settle()
    assert shop.web_stock() == {"A": 30, "B": 21, "C": 7}
    third = wc.session()  # nothing changed since: still right
    assert third.percents[-1] == 100, third
    shop.settle()
    assert shop.web_stock() == {"A": 30, "B": 21, "C": 7}


@pytest.mark.parametrize("setup", SETUPS[::2], ids=lambda s: s.flavour)
def test_our_receipts_are_known_by_our_key_exactly(setup: QbwcSetup) -> None:
    """A receipt keyed sb-1-120 is not order 12's (sb-1-12), nor is one whose memo only
    mentions the key; order 120's own is found."""
    memo_tag = "Comments" if setup.pos else "Memo"
    number_tag = "SalesReceiptNumber" if setup.pos else "RefNumber"
    root_tag, msgs_tag = ("QBPOSXML", "QBPOSXMLMsgsRs") if setup.pos else ("QBXML", "QBXMLMsgsRs")
    receipts = [
        ("T-120", "120", "Stockbridge web order 120 (sb-1-120)"),
        ("T-X", "12", "Refund for sb-1-12 (merchant's own receipt)"),
    ]
    rets = "".join(
        f"<SalesReceiptRet><TxnID>{t}</TxnID><{number_tag}>{n}</{number_tag}>"
        f"<{memo_tag}>{m}</{memo_tag}></SalesReceiptRet>"
        for t, n, m in receipts
    )
    answer = (
        f'<{root_tag}><{msgs_tag}><SalesReceiptQueryRs requestID="0" statusCode="0" '
        f'statusSeverity="Info" statusMessage="Status OK">{rets}</SalesReceiptQueryRs>'
        f"</{msgs_tag}></{root_tag}>"
    )
    assert setup.read_found(answer, ORDERS) == {"120": "T-120"}


def test_the_pos_look_up_asks_for_our_key_exactly() -> None:
    company = PosCompany()
    company.add_item("A", 5)
    company.add_item("B", 5)
    setup = QbwcSetup("pos", "alu")
    refs = setup.read_refs(company.handle(setup.refs_request()))
    company.handle(setup.post_request(ORDERS[1:], refs))  # order 120 only
    found = setup.read_found(company.handle(setup.find_request(ORDERS[:1])), ORDERS[:1])
    assert found == {}  # sb-1-12 does not find sb-1-120's receipt
    found = setup.read_found(company.handle(setup.find_request(ORDERS[1:])), ORDERS[1:])
    assert list(found) == ["120"]


def test_a_failed_look_up_is_never_read_as_none_found(shop: Shop) -> None:
    wc = shop.connector()
    wc.session()
    shop.settle()
    order = str(shop.web.order([("A", 1)])["id"])
    shop.sync()
    assert wc.session(drop_on="SalesReceiptAddRq").dropped  # applied; the answer lost
    assert shop.company.receipts_by_ref() == {order: 1}
    assert hasattr(shop.company, "query_faults")
    shop.company.query_faults.append(("3170", "The record is in use by another user."))
    failed = wc.session()  # the look-up fails: the order stays uncertain, not re-added
    assert failed.percents[-1] < 0 and "3170" in failed.last_error, failed
    assert shop.company.receipts_by_ref() == {order: 1}
    done = wc.session()
    assert done.percents[-1] == 100, done
    shop.settle()
    assert shop.company.receipts_by_ref() == {order: 1}


def test_a_desktop_line_is_rate_times_quantity_once(shop: Shop) -> None:
    """3 at 4.50 and 2 at 10.00: the receipt comes to 33.50 (not 4.50 x 3 x 3)."""
    wc = shop.connector()
    wc.session()
    shop.settle()
    body = {
        "lines": [
            {"sku": "A", "quantity": 3, "price": "4.50"},
            {"sku": "B", "quantity": 2, "price": "10.00"},
        ]
    }
    order = shop.web.call("POST", "/orders", json=body)
    shop.sync()
    wc.session()
    shop.settle()
    company = shop.company
    assert isinstance(company, DesktopCompany)
    receipts = [r for r in company.receipts if r.ref_number == str(order["id"])]
    assert len(receipts) == 1 and receipts[0].total == Decimal("33.50")
