"""qbXML for QuickBooks Desktop: the requests the hub sends through the Web Connector and
the answers it reads back (Intuit's qbXML On-Screen Reference; docs/facts-qbwc.md).

Pure functions over strings and domain values; lxml parses without entities, DTDs or
network access. Elements are written in the order the qbXML schema's sequences require.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from lxml import etree

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.domain.model import BackOfficeItem, ItemError, PostRequest

__all__ = [
    "QBXML_VERSION",
    "REF_NUMBER_MAX",
    "ChargeItems",
    "InventoryPage",
    "ReceiptFound",
    "add_receipts",
    "carries_key",
    "company_time",
    "find_receipts",
    "inventory_query",
    "item_refs_query",
    "memo_for",
    "offset_of",
    "parse_inventory",
    "parse_receipt_adds",
    "parse_receipt_query",
    "ref_number",
    "status_message",
    "time_window",
]

QBXML_VERSION = "13.0"
#: SalesReceiptAdd/RefNumber is at most 11 characters (qbXML reference, STRTYPE 11).
REF_NUMBER_MAX = 11
MEMO_PREFIX = "Stockbridge web order"
PARTNER = "quickbooks-desktop"
SKU_FIELDS = ("full_name", "name", "manufacturer_part_number")

#: What the status codes the merchant meets most mean for them (qbXML status codes).
_HINTS = {
    "3140": "an item, customer or account the receipt names does not exist in QuickBooks "
    "(add it there, or correct the product's SKU)",
    "3170": "QuickBooks could not save it because the record is in use; it is tried again "
    "at the next update",
    "3175": "the record is in use in QuickBooks; it is tried again at the next update",
    "3176": "the record is in use in QuickBooks; it is tried again at the next update",
    "3180": "QuickBooks refused to save the transaction",
    "3200": "the record changed in QuickBooks meanwhile (edit sequence out of date); it is "
    "read again at the next update",
    "3070": "a value is longer than QuickBooks allows",
}

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=False
)


def status_message(code: str, message: str) -> str:
    """A qbXML status as the merchant reads it: QuickBooks' words and what they mean."""
    hint = _HINTS.get(code)
    return f"QuickBooks {code}: {message}" + (f" — {hint}" if hint else "")


def ref_number(order_number: str) -> str:
    """The receipt's RefNumber: the web order number (its last 11 characters when longer;
    the memo tells ours apart)."""
    return order_number[-REF_NUMBER_MAX:]


def memo_for(request: PostRequest) -> str:
    return f"{MEMO_PREFIX} {request.order.number} ({request.idempotency_key})"


def carries_key(memo: str, key: str) -> bool:
    """Whether a receipt's Memo (POS: Comments) is ours for exactly ``key``: it ends with
    "(key)", as ``memo_for`` writes it (``sb-1-12`` is not ``sb-1-120``)."""
    return memo.rstrip().endswith(f"({key})")


def _document(
    version: str = QBXML_VERSION, on_error: str = "continueOnError"
) -> tuple[etree._Element, etree._Element]:
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq", onError=on_error)
    return root, msgs


def _text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    element.text = value
    return element


def _serialise(root: etree._Element) -> str:
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{QBXML_VERSION}"?>\n{body}'


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


@dataclass(frozen=True)
class ChargeItems:
    """The company's items a receipt's other lines name (settings of the connection):
    an Other Charge item for shipping, a Discount item, and a Sales Tax item the web
    order's tax is booked to (so tax reaches the books as tax, not as revenue)."""

    shipping: str = "Shipping"
    discount: str = "Discount"
    sales_tax: str = "Sales Tax"
    #: The customer a credit memo names (qbXML requires one; the web's buyers are not
    #: QuickBooks customers).
    customer: str = "Web Customer"


def add_receipts(
    requests: Sequence[PostRequest],
    *,
    sku_field: str,
    refs: dict[str, str] | None = None,
    charges: ChargeItems | None = None,
) -> str:
    """One message set: a SalesReceiptAddRq per order, requestID = its index. With
    ``sku_field`` manufacturer_part_number, ``refs`` maps each SKU to the item's ListID.
    Lines: each web line (Quantity x Rate, the unit price before tax), then shipping, the
    discount (a negative amount) and the order's tax, each on its item; the receipt
    comes to the web order's total."""
    names = charges or ChargeItems()
    root, msgs = _document()
    for index, request in enumerate(requests):
        order = request.order
        rq = etree.SubElement(msgs, "SalesReceiptAddRq", requestID=str(index))
        add = etree.SubElement(rq, "SalesReceiptAdd")
        placed = order.placed_at or order.modified_at
        _text(add, "TxnDate", placed.astimezone(UTC).date().isoformat())
        _text(add, "RefNumber", ref_number(order.number))
        _text(add, "Memo", memo_for(request))
        for line in order.lines:
            row = etree.SubElement(add, "SalesReceiptLineAdd")
            item = etree.SubElement(row, "ItemRef")
            if sku_field == "manufacturer_part_number":
                _text(item, "ListID", (refs or {}).get(line.sku, ""))
            else:
                _text(item, "FullName", line.sku)
            if line.name:
                _text(row, "Desc", line.name[:4095])
            _text(row, "Quantity", str(line.quantity))
            _text(row, "Rate", _money(line.unit_price))
        for name, desc, amount in (
            (names.shipping, "Shipping", order.shipping),
            (names.discount, "Discount", -order.discount),
            (names.sales_tax, "Sales tax", order.tax),
        ):
            if amount:
                row = etree.SubElement(add, "SalesReceiptLineAdd")
                _text(etree.SubElement(row, "ItemRef"), "FullName", name)
                _text(row, "Desc", desc)
                _text(row, "Amount", _money(amount))
    return _serialise(root)


def find_receipts(requests: Sequence[PostRequest]) -> str:
    """One SalesReceiptQueryRq naming every order's RefNumber (read-only)."""
    root, msgs = _document(on_error="stopOnError")
    rq = etree.SubElement(msgs, "SalesReceiptQueryRq", requestID="find")
    for ref in dict.fromkeys(ref_number(r.order.number) for r in requests):
        _text(rq, "RefNumber", ref)
    for element in ("TxnID", "RefNumber", "Memo"):
        _text(rq, "IncludeRetElement", element)
    return _serialise(root)


#: The widest UTC offsets in use (UTC-12:00 .. UTC+14:00): a read whose company offset is
#: not known yet widens its window by this much on each side, so it misses nothing
#: whether QuickBooks honours the offset we send or reads the time as its local time.
WIDEST_OFFSET = timedelta(hours=14)


def company_time(moment: datetime, utc_offset: timedelta | None) -> str:
    """A moment as QuickBooks reads it: the company's local time with its offset (the
    hub keeps UTC); in UTC with +00:00 while the offset is not known."""
    zone = timezone(utc_offset) if utc_offset is not None else UTC
    return moment.astimezone(zone).isoformat(timespec="seconds")


def time_window(since: datetime, until: datetime, utc_offset: timedelta | None) -> tuple[str, str]:
    """(from, to) of a modified-time range filter, both ends, in the company's time."""
    if utc_offset is None:
        since, until = since - WIDEST_OFFSET, until + WIDEST_OFFSET
    return company_time(since, utc_offset), company_time(until, utc_offset)


def inventory_query(
    *,
    since: datetime | None,
    until: datetime,
    max_returned: int,
    iterator_id: str | None,
    utc_offset: timedelta | None = None,
) -> str:
    """ItemInventoryQueryRq: a new iterator (modified from ``since`` to ``until``) or the
    next page of ``iterator_id``."""
    root, msgs = _document(on_error="stopOnError")
    if iterator_id is None:
        rq = etree.SubElement(msgs, "ItemInventoryQueryRq", requestID="items", iterator="Start")
        _text(rq, "MaxReturned", str(max_returned))
        _text(rq, "ActiveStatus", "All")
        if since is not None:
            start, end = time_window(since, until, utc_offset)
            _text(rq, "FromModifiedDate", start)
            _text(rq, "ToModifiedDate", end)
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


def item_refs_query() -> str:
    """Every inventory item's ListID and ManufacturerPartNumber (posting by part number
    needs the ListID; the part number is no reference qbXML accepts)."""
    root, msgs = _document(on_error="stopOnError")
    rq = etree.SubElement(msgs, "ItemInventoryQueryRq", requestID="refs")
    _text(rq, "ActiveStatus", "All")
    for element in ("ListID", "ManufacturerPartNumber", "TimeModified"):
        _text(rq, "IncludeRetElement", element)
    return _serialise(root)


# -- answers -------------------------------------------------------------------------


def _parse(answer: str) -> etree._Element:
    try:
        root = etree.fromstring(answer.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PartnerResponseError(
            f"QuickBooks' answer is not XML: {exc}", partner=PARTNER, code="malformed"
        ) from None
    if root.tag != "QBXML":
        raise PartnerResponseError(
            f"QuickBooks' answer is not qbXML (root {root.tag!r})",
            partner=PARTNER,
            code="malformed",
        )
    msgs = root.find("QBXMLMsgsRs")
    if msgs is None:
        raise PartnerResponseError(
            "QuickBooks' answer has no QBXMLMsgsRs", partner=PARTNER, code="malformed"
        )
    return msgs


@dataclass(frozen=True)
class _Status:
    code: str
    severity: str
    message: str

    @property
    def error(self) -> bool:
        return self.severity.lower() == "error"


def _status(rs: etree._Element) -> _Status:
    code = rs.get("statusCode")
    if code is None:
        raise PartnerResponseError(
            f"{rs.tag!s} has no statusCode", partner=PARTNER, code="malformed"
        )
    return _Status(code, rs.get("statusSeverity", ""), rs.get("statusMessage", ""))


def parse_receipt_adds(answer: str, web_ids: Sequence[str]) -> dict[str, str | ItemError]:
    """web order id -> TxnID (posted) or ItemError (refused, in QuickBooks' words);
    ``web_ids`` in the order of the requests (requestID = the index). Orders without a
    response (a stopOnError set stopped early) are absent."""
    msgs = _parse(answer)
    outcome: dict[str, str | ItemError] = {}
    for rs in msgs.iterfind("SalesReceiptAddRs"):
        try:
            index = int(rs.get("requestID", ""))
            if index < 0:
                raise IndexError(index)
            web_id = web_ids[index]
        except (ValueError, IndexError):
            raise PartnerResponseError(
                f"a SalesReceiptAddRs answers an unknown requestID {rs.get('requestID')!r}",
                partner=PARTNER,
                code="malformed",
            ) from None
        status = _status(rs)
        txn = rs.findtext("SalesReceiptRet/TxnID")
        if not status.error and txn:
            outcome[web_id] = txn
        else:
            outcome[web_id] = ItemError(
                web_id, status_message(status.code, status.message or "refused"), status.code
            )
    return outcome


@dataclass(frozen=True)
class ReceiptFound:
    txn_id: str
    ref_number: str
    memo: str


def parse_receipt_query(answer: str) -> list[ReceiptFound]:
    return parse_found(answer, "SalesReceiptQueryRs", "SalesReceiptRet")


def parse_found(answer: str, rs_tag: str, ret_tag: str) -> list[ReceiptFound]:
    """The transactions a query (``rs_tag``) found, each a ``ret_tag``; status 1 (no
    match) is none found, any other error status raises."""
    rs = _parse(answer).find(rs_tag)
    if rs is None:
        raise PartnerResponseError(f"no {rs_tag}", partner=PARTNER, code="malformed")
    status = _status(rs)
    if status.code == "1":  # no match: not an error
        return []
    if status.error:
        raise PartnerResponseError(
            status_message(status.code, status.message), partner=PARTNER, code=status.code
        )
    return [
        ReceiptFound(
            ret.findtext("TxnID") or "", ret.findtext("RefNumber") or "", ret.findtext("Memo") or ""
        )
        for ret in rs.iterfind(ret_tag)
    ]


@dataclass(frozen=True)
class InventoryPage:
    items: list[BackOfficeItem]
    iterator_id: str | None
    remaining: int
    newest: datetime | None
    #: ListID by the SKU field (for posting by ManufacturerPartNumber).
    list_ids: dict[str, str]
    #: The company's UTC offset as its answer's times carry it (None: no time with one).
    utc_offset: timedelta | None = None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PartnerResponseError(
            f"bad TimeModified {value!r}", partner=PARTNER, code="malformed"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _decimal(value: str | None, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise PartnerResponseError(
            f"bad {field} {value!r}", partner=PARTNER, code="malformed"
        ) from None


def parse_inventory(answer: str, *, sku_field: str) -> InventoryPage:
    msgs = _parse(answer)
    rs = msgs.find("ItemInventoryQueryRs")
    if rs is None:
        raise PartnerResponseError("no ItemInventoryQueryRs", partner=PARTNER, code="malformed")
    status = _status(rs)
    if status.error:
        raise PartnerResponseError(
            status_message(status.code, status.message), partner=PARTNER, code=status.code
        )
    try:
        remaining = int(rs.get("iteratorRemainingCount", "0"))
    except ValueError:
        raise PartnerResponseError(
            "bad iteratorRemainingCount", partner=PARTNER, code="malformed"
        ) from None
    items: list[BackOfficeItem] = []
    list_ids: dict[str, str] = {}
    newest: datetime | None = None
    for ret in rs.iterfind("ItemInventoryRet"):
        tag = {"full_name": "FullName", "name": "Name"}.get(sku_field, "ManufacturerPartNumber")
        sku = (ret.findtext(tag) or "").strip()
        modified = _time(ret.findtext("TimeModified"))
        if modified is not None and (newest is None or modified > newest):
            newest = modified
        if not sku:
            continue  # an item without the mapped field is not one the web sells
        list_id = ret.findtext("ListID") or ""
        list_ids[sku] = list_id
        quantity = _decimal(ret.findtext("QuantityOnHand"), "QuantityOnHand")
        items.append(
            BackOfficeItem(
                sku=sku,
                name=ret.findtext("SalesDesc") or ret.findtext("FullName"),
                price=_decimal(ret.findtext("SalesPrice"), "SalesPrice"),
                quantity=None if quantity is None else int(quantity),
                active=(ret.findtext("IsActive") or "true").lower() == "true",
                modified_at=modified,
                partner_id=list_id or None,
            )
        )
    return InventoryPage(items, rs.get("iteratorID"), remaining, newest, list_ids, offset_of(rs))


def offset_of(rs: etree._Element) -> timedelta | None:
    """The UTC offset the answer's first TimeModified carries, if any."""
    for text in rs.iterfind("*/TimeModified"):
        try:
            moment = datetime.fromisoformat(text.text or "")
        except ValueError:
            continue
        if moment.tzinfo is not None:
            return moment.utcoffset()
    return None
