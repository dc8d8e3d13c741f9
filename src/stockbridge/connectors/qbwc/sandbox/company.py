"""A simulated QuickBooks Desktop company answering qbXML as the qbXML On-Screen
Reference describes it (docs/facts-qbwc.md), strictly: an unknown request, element or
attribute, a missing required element or a value too long fails like QuickBooks does —
a document it cannot parse is refused whole (an HRESULT for the Web Connector to report),
a request it can read but not carry out gets its statusCode.

Supported (every request checked against ``operations.json`` first): TxnVoidRq of a
sales receipt (its items back on hand), ItemInventoryQueryRq (iterators: Start /
Continue, MaxReturned, ActiveStatus, From/ToModifiedDate, IncludeRetElement),
SalesReceiptAddRq (lines by ItemRef FullName or ListID; stock goes down; other-charge,
discount and sales-tax items add their Amount) and SalesReceiptQueryRq (by RefNumber,
IncludeRetElement), CreditMemoAddRq and CreditMemoQueryRq (``credit_memos``). Written
from the reference, not from the hub's client.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from lxml import etree

from stockbridge.connectors.qbwc.sandbox.answers import answer_found
from stockbridge.connectors.qbwc.sandbox.answers import set_status as _status
from stockbridge.connectors.qbwc.sandbox.credit_memos import (
    CreditMemo,
    add_credit_memo,
    query_credit_memos,
)
from stockbridge.connectors.qbwc.sandbox.operations import ModelError, validate_document

__all__ = ["DesktopCompany", "ParseFailure"]

#: What QuickBooks reports (as HRESULT) for a request document it cannot parse.
PARSE_HRESULT = "0x80040400"
PARSE_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class ParseFailure(Exception):
    """The request document is not valid qbXML: refused whole (nothing applied)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.hresult = PARSE_HRESULT
        self.message = f"{PARSE_MESSAGE} ({detail})"


@dataclass
class Item:
    list_id: str
    name: str
    quantity: Decimal
    price: Decimal
    part_number: str = ""
    active: bool = True
    modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    edit_sequence: int = 1


@dataclass
class Receipt:
    txn_id: str
    ref_number: str
    memo: str
    lines: list[tuple[str, Decimal]]
    #: What the receipt comes to: each line's Amount (Quantity x Rate when no Amount).
    total: Decimal = Decimal("0")
    #: The lines of items that are no inventory (shipping, discount, sales tax): name ->
    #: amount.
    charges: dict[str, Decimal] = field(default_factory=dict)
    #: How many TxnVoid requests named it (voided once, it stays voided).
    voids: int = 0

    @property
    def voided(self) -> bool:
        return self.voids > 0


class DesktopCompany:
    """One company file. Thread-safe; every request document is applied under a lock."""

    #: The qbXMLMajorVers the Web Connector reports (QuickBooks Desktop 2014 and later).
    qbxml_major = 13

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[str, Item] = {}
        self.receipts: list[Receipt] = []
        self.credit_memos: list[CreditMemo] = []
        #: The company's customers (a credit memo must name one).
        self.customers: set[str] = {"Web Customer"}
        self._iterators: dict[str, list[Item]] = {}
        self._clock = datetime.now(UTC).replace(microsecond=0)
        #: Faults for the next SalesReceiptAdd of these RefNumbers: statusCode, message.
        self.refuse: dict[str, tuple[str, str]] = {}
        #: Items that are no inventory (never in an ItemInventoryQuery): name -> type.
        #: A company set up for web sales has these (their names are settings).
        self.other_items: dict[str, str] = {
            "Shipping": "ItemOtherCharge",
            "Discount": "ItemDiscount",
            "Sales Tax": "ItemSalesTax",
        }
        #: Faults for the next SalesReceiptQuery requests, in turn: statusCode, message.
        self.query_faults: list[tuple[str, str]] = []
        self.documents = 0
        #: Request documents answered, by the first request they carry.
        self.documents_by_request: Counter[str] = Counter()

    # -- the test's side --------------------------------------------------------------

    def tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def add_item(
        self, name: str, quantity: int, price: str = "9.99", part_number: str = ""
    ) -> Item:
        with self._lock:
            item = Item(
                f"{len(self.items) + 1:X}0000-{1_700_000_000 + len(self.items)}",
                name,
                Decimal(quantity),
                Decimal(price),
                part_number,
                modified=self.tick(),
            )
            self.items[item.list_id] = item
            return item

    def set_quantity(self, name: str, quantity: int) -> None:
        with self._lock:
            item = self._by_name(name)
            assert item is not None, name
            item.quantity = Decimal(quantity)
            item.modified = self.tick()
            item.edit_sequence += 1

    def quantity(self, name: str) -> int:
        with self._lock:
            item = self._by_name(name)
            assert item is not None, name
            return int(item.quantity)

    def receipts_by_ref(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for receipt in self.receipts:
                counts[receipt.ref_number] = counts.get(receipt.ref_number, 0) + 1
            return counts

    def item_named(self, name: str) -> Item | None:
        return self._by_name(name)

    def _by_name(self, name: str) -> Item | None:
        return next((i for i in self.items.values() if i.name == name), None)

    # -- qbXML ------------------------------------------------------------------------

    def handle(self, document: str) -> str:
        """Answer one qbXML request document; raises ParseFailure (nothing applied)."""
        with self._lock:
            self.documents += 1
            msgs, on_error = self._read(document)
            if msgs:
                self.documents_by_request[str(msgs[0].tag)] += 1
            out = etree.Element("QBXML")
            rs_parent = etree.SubElement(out, "QBXMLMsgsRs")
            for rq in msgs:
                rs = self._one(rq)
                rs_parent.append(rs)
                if on_error == "stopOnError" and rs.get("statusSeverity") == "Error":
                    break
            body = etree.tostring(out, encoding="unicode")
            return f'<?xml version="1.0" ?>\n{body}'

    def _read(self, document: str) -> tuple[list[etree._Element], str]:
        try:
            root = etree.fromstring(document.encode("utf-8"), _PARSER)
        except etree.XMLSyntaxError as exc:
            raise ParseFailure(f"not well-formed: {exc.msg}") from None
        tree = root.getroottree()
        if tree.docinfo.doctype:
            raise ParseFailure("a DTD is not allowed")
        pis = [n for n in _before(root) if isinstance(n, etree._ProcessingInstruction)]
        if not any(pi.target == "qbxml" and "version=" in (pi.text or "") for pi in pis):
            raise ParseFailure("the <?qbxml version?> instruction is missing")
        try:
            requests = validate_document("qbxml", root)
        except ModelError as exc:
            raise ParseFailure(str(exc)) from None
        for rq in requests:
            self._validate(rq)
        return requests, str(root[0].get("onError"))

    def _validate(self, rq: etree._Element) -> None:
        """What the operation model cannot say: an iterator's Continue names its id; a
        line names its item."""
        if rq.get("iterator") == "Continue" and not rq.get("iteratorID"):
            raise ParseFailure("iterator Continue needs an iteratorID")
        for path in ("SalesReceiptAdd/SalesReceiptLineAdd", "CreditMemoAdd/CreditMemoLineAdd"):
            for ref in rq.iterfind(f"{path}/ItemRef"):
                if [c.tag for c in ref] not in (["ListID"], ["FullName"]):
                    raise ParseFailure(f"{path}/ItemRef needs ListID or FullName")

    def _one(self, rq: etree._Element) -> etree._Element:
        rs = etree.Element(str(rq.tag)[:-2] + "Rs")
        if rq.get("requestID") is not None:
            rs.set("requestID", rq.get("requestID", ""))
        if rq.tag == "ItemInventoryQueryRq":
            self._items(rq, rs)
        elif rq.tag == "SalesReceiptAddRq":
            self._add(rq[0], rs)
        elif rq.tag == "TxnVoidRq":
            self._void(rq, rs)
        elif rq.tag == "CreditMemoAddRq":
            add_credit_memo(self, rq[0], rs)
        elif rq.tag == "CreditMemoQueryRq":
            query_credit_memos(self, rq, rs)
        else:
            self._query_receipts(rq, rs)
        return rs

    def _void(self, rq: etree._Element, rs: etree._Element) -> None:
        """Void a sales receipt: its amounts go to zero and its items back on hand; a
        receipt voided already stays as it is."""
        txn_id = rq.findtext("TxnID") or ""
        receipt = next((r for r in self.receipts if r.txn_id == txn_id), None)
        if receipt is None:
            return _status(
                rs, "3120", "Error", f'Object "{txn_id}" specified in the request cannot be found.'
            )
        if not receipt.voided:
            for name, quantity in receipt.lines:
                item = self._by_name(name)
                if item is not None:
                    item.quantity += quantity
                    item.modified = self.tick()
                    item.edit_sequence += 1
        receipt.voids += 1
        _status(rs, "0", "Info", "Status OK")
        etree.SubElement(rs, "TxnVoidType").text = "SalesReceipt"
        etree.SubElement(rs, "TxnID").text = txn_id
        return None

    def _items(self, rq: etree._Element, rs: etree._Element) -> None:
        try:
            limit = int(rq.findtext("MaxReturned") or "0") or None
        except ValueError:
            return _status(rs, "3020", "Error", "MaxReturned is not a number")
        wanted = [e.text for e in rq.findall("IncludeRetElement")]
        if rq.get("iterator") == "Continue":
            iterator_id = rq.get("iteratorID", "")
            pending = self._iterators.get(iterator_id)
            if pending is None:
                return _status(rs, "3120", "Error", f"The iterator {iterator_id} is not valid")
        else:
            since_text = rq.findtext("FromModifiedDate")
            since = None
            if since_text:
                try:
                    since = datetime.fromisoformat(since_text)
                except ValueError:
                    return _status(
                        rs,
                        "3020",
                        "Error",
                        f'There was an error when converting the date value "{since_text}"',
                    )
                if since.tzinfo is None:
                    since = since.replace(tzinfo=UTC)
            active = rq.findtext("ActiveStatus") or "ActiveOnly"
            pending = sorted(
                (
                    i
                    for i in self.items.values()
                    if (since is None or i.modified >= since)
                    and (active == "All" or (i.active == (active == "ActiveOnly")))
                ),
                key=lambda i: i.list_id,
            )
            iterator_id = (
                "{" + str(uuid.uuid4()).upper() + "}" if rq.get("iterator") == "Start" else ""
            )
        page = pending[:limit] if limit else pending
        rest = pending[len(page) :]
        if iterator_id:
            self._iterators[iterator_id] = rest
            rs.set("iteratorRemainingCount", str(len(rest)))
            rs.set("iteratorID", iterator_id)
        if not page:
            return _status(
                rs, "1", "Info", "A query request did not find a matching object in QuickBooks"
            )
        _status(rs, "0", "Info", "Status OK")
        for item in page:
            ret = etree.SubElement(rs, "ItemInventoryRet")
            values = [
                ("ListID", item.list_id),
                ("TimeModified", item.modified.isoformat()),
                ("EditSequence", str(item.edit_sequence)),
                ("Name", item.name),
                ("FullName", item.name),
                ("IsActive", "true" if item.active else "false"),
                ("ManufacturerPartNumber", item.part_number),
                ("SalesDesc", item.name),
                ("SalesPrice", f"{item.price:.2f}"),
                ("QuantityOnHand", f"{item.quantity}"),
            ]
            for tag, value in values:
                if (not wanted or tag in wanted) and value != "":
                    etree.SubElement(ret, tag).text = value
        return None

    def _add(self, add: etree._Element, rs: etree._Element) -> None:
        ref = add.findtext("RefNumber") or ""
        memo = add.findtext("Memo") or ""
        if len(ref) > 11:
            return _status(
                rs, "3070", "Error", f'The string "{ref}" in the field "RefNumber" is too long.'
            )
        if len(memo) > 4095:
            return _status(rs, "3070", "Error", 'The string in the field "Memo" is too long.')
        if ref in self.refuse:
            code, message = self.refuse.pop(ref)
            return _status(rs, code, "Error", message)
        lines: list[tuple[Item, Decimal, Decimal]] = []
        charges: dict[str, Decimal] = {}
        for line in add.iterfind("SalesReceiptLineAdd"):
            item_ref = line.find("ItemRef")
            assert item_ref is not None
            key = item_ref[0].text or ""
            item = self.items.get(key) if item_ref[0].tag == "ListID" else self._by_name(key)
            if item is None and item_ref[0].tag == "FullName" and key in self.other_items:
                try:
                    amount = Decimal(line.findtext("Amount") or "0")
                except InvalidOperation:
                    return _status(rs, "3020", "Error", "There was an error converting Amount")
                charges[key] = charges.get(key, Decimal("0")) + amount
                continue
            if item is None:
                return _status(
                    rs,
                    "3140",
                    "Error",
                    f'There is an invalid reference to QuickBooks Item "{key}" in the '
                    "SalesReceipt line.",
                )
            try:
                quantity = Decimal(line.findtext("Quantity") or "1")
                rate = Decimal(line.findtext("Rate") or "0")
                amount_text = line.findtext("Amount")
                amount = Decimal(amount_text) if amount_text else (quantity * rate)
            except InvalidOperation:
                return _status(rs, "3020", "Error", "There was an error when converting a number")
            lines.append((item, quantity, amount.quantize(Decimal("0.01"))))
        txn = f"{len(self.receipts) + 1:X}-{1_700_000_000 + len(self.receipts)}"
        for item, quantity, _rate in lines:
            item.quantity -= quantity
            item.modified = self.tick()
            item.edit_sequence += 1
        total = sum((a for _i, _q, a in lines), Decimal("0")) + sum(charges.values(), Decimal(0))
        self.receipts.append(
            Receipt(txn, ref, memo, [(i.name, q) for i, q, _a in lines], total, charges)
        )
        _status(rs, "0", "Info", "Status OK")
        ret = etree.SubElement(rs, "SalesReceiptRet")
        etree.SubElement(ret, "TxnID").text = txn
        etree.SubElement(ret, "RefNumber").text = ref
        if memo:
            etree.SubElement(ret, "Memo").text = memo
        return None

    def _query_receipts(self, rq: etree._Element, rs: etree._Element) -> None:
        if self.query_faults:
            code, message = self.query_faults.pop(0)
            return _status(rs, code, "Error", message)
        refs = {e.text or "" for e in rq.findall("RefNumber")}
        found = [r for r in self.receipts if not refs or r.ref_number in refs]
        return answer_found(rs, found, "SalesReceiptRet")


def _before(root: etree._Element) -> list[object]:
    nodes: list[object] = []
    node = root.getprevious()
    while node is not None:
        nodes.append(node)
        node = node.getprevious()
    return nodes
