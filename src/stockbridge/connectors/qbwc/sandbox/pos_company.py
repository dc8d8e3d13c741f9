"""A simulated QuickBooks Point of Sale company answering qbposXML strictly, like
``company.DesktopCompany`` does qbXML: a document it cannot parse is refused whole, a
request it can read but not carry out gets its statusCode. POS numbers its own sales
receipts (``SalesReceiptNumber``); items carry ItemNumber (assigned by POS), ALU and UPC
and are named on receipt lines by ListID.

Supported (every request checked against ``operations.json`` first):
ItemInventoryQueryRq (iterators, MaxReturned, TimeModifiedRangeFilter, IncludeRetElement),
SalesReceiptAddRq (SalesReceiptItemAdd by ListID; stock goes down, or back up for a
SalesReceiptType Return), SalesReceiptQueryRq (CommentsFilter, IncludeRetElement).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from lxml import etree

from stockbridge.connectors.qbwc.sandbox.answers import set_status as _status
from stockbridge.connectors.qbwc.sandbox.company import ParseFailure
from stockbridge.connectors.qbwc.sandbox.operations import ModelError, validate_document

__all__ = ["PosCompany"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_ORDER_IN_COMMENTS = re.compile(r"web order (\S+)")


@dataclass
class PosItem:
    list_id: str
    item_number: int
    alu: str
    upc: str
    desc: str
    quantity: Decimal
    price: Decimal
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class PosReceipt:
    txn_id: str
    number: int
    comments: str
    subtotal: Decimal = Decimal("0")
    discount: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    #: "Sales", or "Return" (its items come back on hand).
    kind: str = "Sales"

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount + self.tax + self.shipping


class PosCompany:
    """One Point of Sale company file. Thread-safe."""

    #: The qbXMLMajorVers the Web Connector reports for POS.
    qbxml_major = 3

    def __init__(self, utc_offset: timedelta = timedelta(hours=-6)) -> None:
        #: The shop's time zone (a US shop by default): POS answers its times in local
        #: time with this offset, and reads a time sent without an offset as local time.
        self.utc_offset = utc_offset
        #: The store's sales tax rate: POS computes a receipt's tax itself, on its items
        #: after the receipt's discount (shipping untaxed).
        self.tax_rate = Decimal("0")
        self._lock = threading.Lock()
        self.items: dict[str, PosItem] = {}
        self.receipts: list[PosReceipt] = []
        self._iterators: dict[str, list[PosItem]] = {}
        self._clock = datetime.now(UTC).replace(microsecond=0)
        self.refuse: dict[str, tuple[str, str]] = {}
        self.documents_by_request: Counter[str] = Counter()

    def tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def add_item(self, alu: str, quantity: int, price: str = "9.99", upc: str = "") -> PosItem:
        with self._lock:
            n = len(self.items) + 1
            item = PosItem(
                f"-{8_000_000_000_000_000_000 + n}",
                n,
                alu,
                upc,
                alu,
                Decimal(quantity),
                Decimal(price),
                self.tick(),
            )
            self.items[item.list_id] = item
            return item

    def _local(self, moment: datetime) -> str:
        """A time as POS answers it: the shop's local time with its offset."""
        return moment.astimezone(timezone(self.utc_offset)).isoformat(timespec="seconds")

    def set_quantity(self, alu: str, quantity: int) -> None:
        """A change made in the shop (an in-store sale, a count): TimeModified moves."""
        with self._lock:
            item = next(i for i in self.items.values() if i.alu == alu)
            item.quantity = Decimal(quantity)
            item.modified = self.tick()

    def quantity(self, alu: str) -> int:
        with self._lock:
            return int(next(i.quantity for i in self.items.values() if i.alu == alu))

    def receipts_by_ref(self) -> dict[str, int]:
        """Receipts per web order number named in their Comments (the test's view)."""
        with self._lock:
            counts: dict[str, int] = {}
            for receipt in self.receipts:
                found = _ORDER_IN_COMMENTS.search(receipt.comments)
                key = found.group(1) if found else ""
                counts[key] = counts.get(key, 0) + 1
            return counts

    def handle(self, document: str) -> str:
        with self._lock:
            msgs, on_error = self._read(document)
            if msgs:
                self.documents_by_request[str(msgs[0].tag)] += 1
            out = etree.Element("QBPOSXML")
            parent = etree.SubElement(out, "QBPOSXMLMsgsRs")
            for rq in msgs:
                rs = etree.SubElement(parent, str(rq.tag)[:-2] + "Rs")
                if rq.get("requestID") is not None:
                    rs.set("requestID", rq.get("requestID", ""))
                if rq.tag == "ItemInventoryQueryRq":
                    self._items(rq, rs)
                elif rq.tag == "SalesReceiptAddRq":
                    self._add(rq[0], rs)
                else:
                    self._query(rq, rs)
                if on_error == "stopOnError" and rs.get("statusSeverity") == "Error":
                    break
            return '<?xml version="1.0" ?>\n' + etree.tostring(out, encoding="unicode")

    def _read(self, document: str) -> tuple[list[etree._Element], str]:
        try:
            root = etree.fromstring(document.encode("utf-8"), _PARSER)
        except etree.XMLSyntaxError as exc:
            raise ParseFailure(f"not well-formed: {exc.msg}") from None
        if root.getroottree().docinfo.doctype:
            raise ParseFailure("a DTD is not allowed")
        pi = root.getprevious()
        while pi is not None and not (
            isinstance(pi, etree._ProcessingInstruction) and pi.target == "qbposxml"
        ):
            pi = pi.getprevious()
        if pi is None:
            raise ParseFailure("the <?qbposxml version?> instruction is missing")
        try:
            requests = validate_document("qbposxml", root)
        except ModelError as exc:
            raise ParseFailure(str(exc)) from None
        on_error = str(root[0].get("onError"))
        for rq in requests:
            if rq.get("iterator") == "Continue" and not rq.get("iteratorID"):
                raise ParseFailure("iterator Continue needs an iteratorID")
        return requests, on_error

    def _items(self, rq: etree._Element, rs: etree._Element) -> None:
        limit = int(rq.findtext("MaxReturned") or "0") or None
        wanted = [e.text for e in rq.findall("IncludeRetElement")]
        if rq.get("iterator") == "Continue":
            iterator_id = rq.get("iteratorID", "")
            pending = self._iterators.get(iterator_id)
            if pending is None:
                return _status(rs, "3120", "Error", f"The iterator {iterator_id} is not valid")
        else:
            window = []
            for tag in ("FromTimeModified", "ToTimeModified"):
                text = rq.findtext(f"TimeModifiedRangeFilter/{tag}")
                if text:
                    try:
                        moment = datetime.fromisoformat(text)
                    except ValueError:
                        return _status(rs, "3020", "Error", f'Invalid date "{text}"')
                    zone = timezone(self.utc_offset)
                    window.append(moment if moment.tzinfo else moment.replace(tzinfo=zone))
            since, until = (window[0], window[1]) if window else (None, None)
            pending = sorted(
                (
                    i
                    for i in self.items.values()
                    if since is None or (until is not None and since <= i.modified <= until)
                ),
                key=lambda i: i.item_number,
            )
            iterator_id = "{" + str(uuid.uuid4()).upper() + "}" if rq.get("iterator") else ""
        page = pending[:limit] if limit else pending
        if iterator_id:
            self._iterators[iterator_id] = pending[len(page) :]
            rs.set("iteratorRemainingCount", str(len(pending) - len(page)))
            rs.set("iteratorID", iterator_id)
        if not page:
            return _status(rs, "1", "Info", "A query request did not find a matching object")
        _status(rs, "0", "Info", "Status OK")
        for item in page:
            ret = etree.SubElement(rs, "ItemInventoryRet")
            for tag, value in (
                ("ListID", item.list_id),
                ("ALU", item.alu),
                ("Desc1", item.desc),
                ("ItemNumber", str(item.item_number)),
                ("Price1", f"{item.price:.2f}"),
                ("QuantityOnHand", f"{item.quantity}"),
                ("TimeModified", self._local(item.modified)),
                ("UPC", item.upc),
            ):
                if (not wanted or tag in wanted) and value:
                    etree.SubElement(ret, tag).text = value
        return None

    def _add(self, add: etree._Element, rs: etree._Element) -> None:
        comments = add.findtext("Comments") or ""
        if len(comments) > 2000:
            return _status(rs, "3070", "Error", 'The string in the field "Comments" is too long.')
        found = _ORDER_IN_COMMENTS.search(comments)
        if found and found.group(1) in self.refuse:
            code, message = self.refuse.pop(found.group(1))
            return _status(rs, code, "Error", message)
        lines: list[tuple[PosItem, Decimal, Decimal]] = []
        for line in add.iterfind("SalesReceiptItemAdd"):
            list_id = line.findtext("ListID") or ""
            item = self.items.get(list_id)
            if item is None:
                return _status(
                    rs, "3140", "Error", f'There is an invalid reference to item "{list_id}".'
                )
            try:
                qty = Decimal(line.findtext("Qty") or "1")
                price = Decimal(line.findtext("Price") or str(item.price))
            except InvalidOperation:
                return _status(rs, "3020", "Error", "Qty or Price is not a number")
            lines.append((item, qty, price))
        kind = add.findtext("SalesReceiptType") or "Sales"
        sign = 1 if kind == "Return" else -1
        for item, qty, _price in lines:
            item.quantity += sign * qty
            item.modified = self.tick()
        cent = Decimal("0.01")
        subtotal = sum((q * p for _i, q, p in lines), Decimal("0")).quantize(cent)
        discount = Decimal(add.findtext("Discount") or "0")
        shipping = Decimal(add.findtext("ShippingInformation/Shipping") or "0")
        tax = ((subtotal - discount) * self.tax_rate).quantize(cent)
        receipt = PosReceipt(
            f"-{9_000_000_000 + len(self.receipts)}",
            len(self.receipts) + 1,
            comments,
            subtotal,
            discount,
            tax,
            shipping,
            kind,
        )
        self.receipts.append(receipt)
        _status(rs, "0", "Info", "Status OK")
        ret = etree.SubElement(rs, "SalesReceiptRet")
        etree.SubElement(ret, "TxnID").text = receipt.txn_id
        etree.SubElement(ret, "SalesReceiptNumber").text = str(receipt.number)
        if comments:
            etree.SubElement(ret, "Comments").text = comments
        return None

    def _query(self, rq: etree._Element, rs: etree._Element) -> None:
        found = list(self.receipts)
        for flt in rq.findall("CommentsFilter"):
            how, text = flt.findtext("MatchStringCriterion"), flt.findtext("Comments") or ""
            found = [r for r in found if _matches(how or "Equal", text, r.comments)]
        if not found:
            return _status(rs, "1", "Info", "A query request did not find a matching object")
        _status(rs, "0", "Info", "Status OK")
        for receipt in found:
            ret = etree.SubElement(rs, "SalesReceiptRet")
            etree.SubElement(ret, "TxnID").text = receipt.txn_id
            etree.SubElement(ret, "SalesReceiptNumber").text = str(receipt.number)
            etree.SubElement(ret, "Comments").text = receipt.comments
        return None


def _matches(how: str, text: str, value: str) -> bool:
    if how == "Equal":
        return value == text
    if how == "StartsWith":
        return value.startswith(text)
    if how == "EndsWith":
        return value.endswith(text)
    return text in value
