"""qbposXML for QuickBooks Point of Sale, the same operations as ``qbxml`` for Desktop
(docs/facts-qbwc.md): sales receipts, their look-up, inventory items through an iterator.

POS numbers its own receipts, so the web order number and our reference travel in the
receipt's ``Comments`` (2,000 characters) and the look-up filters on it. POS lines name
items by ListID only: the connector reads the ListIDs of the mapped SKU field (ALU by
default, ItemNumber or UPC) once per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from lxml import etree

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.qbwc.qbxml import (
    InventoryPage,
    ReceiptFound,
    memo_for,
    offset_of,
    status_message,
    time_window,
)
from stockbridge.domain.books import ReversalRequest
from stockbridge.domain.model import BackOfficeItem, ItemError, PostRequest

__all__ = [
    "QBPOSXML_VERSION",
    "SKU_FIELDS",
    "add_receipts",
    "add_returns",
    "find_receipts",
    "inventory_query",
    "item_refs_query",
    "parse_inventory",
    "parse_receipt_adds",
    "parse_receipt_query",
    "returnable",
]

QBPOSXML_VERSION = "3.0"
PARTNER = "quickbooks-pos"
#: setting -> the ItemInventoryRet element that carries the SKU
SKU_FIELDS = {"alu": "ALU", "item_number": "ItemNumber", "upc": "UPC"}
CENT = Decimal("0.01")

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _document(on_error: str = "continueOnError") -> tuple[etree._Element, etree._Element]:
    root = etree.Element("QBPOSXML")
    return root, etree.SubElement(root, "QBPOSXMLMsgsRq", onError=on_error)


def _text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = value
    return element


def _serialise(root: etree._Element) -> str:
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0"?>\n<?qbposxml version="{QBPOSXML_VERSION}"?>\n{body}'


def add_receipts(requests: Sequence[PostRequest], *, refs: dict[str, str]) -> str:
    """A SalesReceiptAddRq per order (requestID = its index); ``refs``: SKU -> ListID.
    Money as POS books it: the lines at their unit price before tax, the order's discount
    as the receipt's Discount, shipping in ShippingInformation; the tax POS computes
    itself from the items' tax codes and the store's tax location (no qbposXML element
    carries a tax amount)."""
    root, msgs = _document()
    for index, request in enumerate(requests):
        order = request.order
        rq = etree.SubElement(msgs, "SalesReceiptAddRq", requestID=str(index))
        add = etree.SubElement(rq, "SalesReceiptAdd")
        _text(add, "Comments", memo_for(request)[:2000])
        if order.discount:
            _text(add, "Discount", f"{order.discount:.2f}")
        _text(add, "SalesReceiptType", "Sales")
        placed = order.placed_at or order.modified_at
        _text(add, "TxnDate", placed.astimezone(UTC).date().isoformat())
        if order.shipping:
            shipping = etree.SubElement(add, "ShippingInformation")
            _text(shipping, "Shipping", f"{order.shipping:.2f}")
        for line in order.lines:
            item = etree.SubElement(add, "SalesReceiptItemAdd")
            _text(item, "ListID", refs[line.sku])
            _text(item, "Price", f"{line.unit_price:.2f}")
            _text(item, "Qty", str(line.quantity))
    return _serialise(root)


RETURN_PREFIX = "Stockbridge return for order"


def add_returns(requests: Sequence[ReversalRequest], *, refs: dict[str, str]) -> str:
    """A return receipt (SalesReceiptType Return) per reversal of a posted order: the
    quantities given back at the price they were sold at, its discount (less what it
    pays back on no returned item, ``money_only``) and shipping;
    POS puts the items back on hand and computes the tax as on the sale. Comments carry
    our key, as on sales receipts, so a lost answer is looked up, never re-sent."""
    root, msgs = _document()
    for index, request in enumerate(requests):
        reversal = request.reversal
        rq = etree.SubElement(msgs, "SalesReceiptAddRq", requestID=str(index))
        add = etree.SubElement(rq, "SalesReceiptAdd")
        _text(add, "Comments", f"{RETURN_PREFIX} {request.order.number} ({request.key})")
        prices, discount = return_prices(request)
        if discount:
            _text(add, "Discount", f"{discount:.2f}")
        _text(add, "SalesReceiptType", "Return")
        _text(add, "TxnDate", datetime.now(UTC).date().isoformat())
        if reversal.shipping:
            shipping = etree.SubElement(add, "ShippingInformation")
            _text(shipping, "Shipping", f"{reversal.shipping:.2f}")
        for sku, quantity, price in prices:
            item = etree.SubElement(add, "SalesReceiptItemAdd")
            _text(item, "ListID", refs[sku])
            _text(item, "Price", f"{price:.2f}")
            _text(item, "Qty", str(quantity))
    return _serialise(root)


def money_only(request: ReversalRequest) -> Decimal:
    """What a refund pays back on no returned item (an order-level amount spread over
    the lines, a line's partial amount without a quantity)."""
    return sum((li.amount for li in request.reversal.lines if li.quantity <= 0), Decimal(0))


def return_prices(request: ReversalRequest) -> tuple[list[tuple[str, int, Decimal]], Decimal]:
    """The returned lines (SKU, quantity, unit price) and the discount of a return
    receipt that comes to exactly what the refund pays back for items. Money paid back
    on no returned item (``money_only``) is taken from the discount kept back; beyond
    that it raises the returned lines' prices (in proportion to their amounts, each
    unit price rounded up to the cent) and the discount takes back the rounding."""
    reversal = request.reversal
    returned = [li for li in reversal.lines if li.quantity > 0]
    extra = money_only(request)
    if extra <= reversal.discount:
        prices = [(li.sku, li.quantity, li.amount / li.quantity) for li in returned]
        return prices, reversal.discount - extra
    worth = sum((li.amount for li in returned), Decimal(0))
    cents = int(((extra - reversal.discount) / CENT).to_integral_value())
    shares = [int(cents * li.amount / worth) if worth else 0 for li in returned]
    shares[-1] += cents - sum(shares)
    prices = [
        (
            li.sku,
            li.quantity,
            ((li.amount + share * CENT) / li.quantity).quantize(CENT, ROUND_CEILING),
        )
        for li, share in zip(returned, shares, strict=True)
    ]
    items = sum((unit * quantity for _s, quantity, unit in prices), Decimal(0))
    target = worth + extra - reversal.discount
    return prices, items - target


def returnable(request: ReversalRequest, refs: dict[str, str]) -> str | None:
    """Why a reversal cannot be a POS return receipt (None: it can)."""
    returned = [line for line in request.reversal.lines if line.quantity > 0]
    if not returned:
        return (
            f"refund of order {request.order.number}: money paid back without any item "
            "returned; a Point of Sale return receipt needs returned items and Stockbridge "
            "books no other kind of refund there: record the payout in Point of Sale by hand"
        )
    missing = [line.sku for line in returned if line.sku not in refs]
    if missing:
        return f"no Point of Sale item for {', '.join(missing)}"
    return None


def find_receipts(requests: Sequence[PostRequest]) -> str:
    """A SalesReceiptQueryRq per order, filtered on Comments ending with "(its key)"
    (as ``memo_for`` writes it): ``sb-1-12`` never finds ``sb-1-120``."""
    root, msgs = _document(on_error="continueOnError")
    for index, request in enumerate(requests):
        rq = etree.SubElement(msgs, "SalesReceiptQueryRq", requestID=str(index))
        comments = etree.SubElement(rq, "CommentsFilter")
        _text(comments, "MatchStringCriterion", "EndsWith")
        _text(comments, "Comments", f"({request.idempotency_key})")
        for element in ("TxnID", "SalesReceiptNumber", "Comments"):
            _text(rq, "IncludeRetElement", element)
    return _serialise(root)


def inventory_query(
    *,
    since: datetime | None,
    until: datetime,
    max_returned: int,
    iterator_id: str | None,
    utc_offset: timedelta | None = None,
) -> str:
    """ItemInventoryQueryRq: a new iterator or the next page of ``iterator_id``. The
    range filter carries both ends (qbposXML 3.0 requires FromTimeModified AND
    ToTimeModified), in the shop's local time with its offset."""
    root, msgs = _document(on_error="stopOnError")
    if iterator_id is None:
        rq = etree.SubElement(msgs, "ItemInventoryQueryRq", requestID="items", iterator="Start")
        _text(rq, "MaxReturned", str(max_returned))
        if since is not None:
            start, end = time_window(since, until, utc_offset)
            window = etree.SubElement(rq, "TimeModifiedRangeFilter")
            _text(window, "FromTimeModified", start)
            _text(window, "ToTimeModified", end)
    else:
        rq = etree.SubElement(
            msgs,
            "ItemInventoryQueryRq",
            requestID="items",
            iterator="Continue",
            iteratorID=iterator_id,
        )
        _text(rq, "MaxReturned", str(max_returned))
    return _serialise(root)


def item_refs_query(sku_field: str) -> str:
    root, msgs = _document(on_error="stopOnError")
    rq = etree.SubElement(msgs, "ItemInventoryQueryRq", requestID="refs")
    for element in ("ListID", SKU_FIELDS[sku_field]):
        _text(rq, "IncludeRetElement", element)
    return _serialise(root)


def _parse(answer: str) -> etree._Element:
    try:
        root = etree.fromstring(answer.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PartnerResponseError(
            f"Point of Sale's answer is not XML: {exc}", partner=PARTNER, code="malformed"
        ) from None
    msgs = root.find("QBPOSXMLMsgsRs") if root.tag == "QBPOSXML" else None
    if msgs is None:
        raise PartnerResponseError(
            "Point of Sale's answer is not qbposXML", partner=PARTNER, code="malformed"
        )
    return msgs


def _status(rs: etree._Element) -> tuple[str, bool, str]:
    code = rs.get("statusCode")
    if code is None:
        raise PartnerResponseError(
            f"{rs.tag!s} has no statusCode", partner=PARTNER, code="malformed"
        )
    return code, rs.get("statusSeverity", "").lower() == "error", rs.get("statusMessage", "")


def _index(rs: etree._Element, size: int) -> int:
    try:
        index = int(rs.get("requestID", ""))
    except ValueError:
        index = -1
    if not 0 <= index < size:
        raise PartnerResponseError(
            f"{rs.tag!s} answers an unknown requestID {rs.get('requestID')!r}",
            partner=PARTNER,
            code="malformed",
        )
    return index


def parse_receipt_adds(answer: str, web_ids: Sequence[str]) -> dict[str, str | ItemError]:
    """As ``qbxml.parse_receipt_adds``: web order id -> TxnID or ItemError."""
    outcome: dict[str, str | ItemError] = {}
    for rs in _parse(answer).iterfind("SalesReceiptAddRs"):
        web_id = web_ids[_index(rs, len(web_ids))]
        code, error, message = _status(rs)
        txn = rs.findtext("SalesReceiptRet/TxnID")
        if not error and txn:
            outcome[web_id] = txn
        else:
            outcome[web_id] = ItemError(web_id, status_message(code, message or "refused"), code)
    return outcome


def parse_receipt_query(answer: str) -> list[ReceiptFound]:
    found: list[ReceiptFound] = []
    for rs in _parse(answer).iterfind("SalesReceiptQueryRs"):
        code, error, message = _status(rs)
        if code == "1":
            continue
        if error:
            raise PartnerResponseError(status_message(code, message), partner=PARTNER, code=code)
        for ret in rs.iterfind("SalesReceiptRet"):
            found.append(
                ReceiptFound(
                    ret.findtext("TxnID") or "",
                    ret.findtext("SalesReceiptNumber") or "",
                    ret.findtext("Comments") or "",
                )
            )
    return found


def parse_inventory(answer: str, *, sku_field: str) -> InventoryPage:
    rs = _parse(answer).find("ItemInventoryQueryRs")
    if rs is None:
        raise PartnerResponseError("no ItemInventoryQueryRs", partner=PARTNER, code="malformed")
    code, error, message = _status(rs)
    if error:
        raise PartnerResponseError(status_message(code, message), partner=PARTNER, code=code)
    try:
        remaining = int(rs.get("iteratorRemainingCount", "0"))
        items: list[BackOfficeItem] = []
        list_ids: dict[str, str] = {}
        newest: datetime | None = None
        for ret in rs.iterfind("ItemInventoryRet"):
            text = ret.findtext("TimeModified")
            modified = None
            if text:
                modified = datetime.fromisoformat(text)
                modified = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
                newest = modified if newest is None or modified > newest else newest
            sku = (ret.findtext(SKU_FIELDS[sku_field]) or "").strip()
            if not sku:
                continue
            list_id = ret.findtext("ListID") or ""
            list_ids[sku] = list_id
            quantity = ret.findtext("QuantityOnHand")
            price = ret.findtext("Price1")
            items.append(
                BackOfficeItem(
                    sku=sku,
                    name=ret.findtext("Desc1"),
                    price=None if not price else _decimal(price),
                    quantity=None if not quantity else int(_decimal(quantity)),
                    modified_at=modified,
                    partner_id=list_id or None,
                )
            )
    except ValueError as exc:
        raise PartnerResponseError(
            f"bad ItemInventoryRet: {exc}", partner=PARTNER, code="malformed"
        ) from None
    return InventoryPage(items, rs.get("iteratorID"), remaining, newest, list_ids, offset_of(rs))


def _decimal(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
