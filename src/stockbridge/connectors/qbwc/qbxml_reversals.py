"""qbXML for reversing a posted web order on QuickBooks Desktop (docs/facts-qbwc.md):
a cancellation voids the sales receipt (TxnVoidRq); a refund becomes a credit memo
(CreditMemoAddRq) for exactly the refunded lines, shipping, discount and tax.

A credit memo carries our key in its Memo and the web order number as its RefNumber, so
one whose answer was lost is found by a CreditMemoQueryRq on that RefNumber (the Memo
telling ours apart, exactly) before it is ever sent again. A void is idempotent and is
simply sent again.

The money paid back is not booked here: qbXML pays a credit memo back with
ARRefundCreditCardAdd (or a check), which must name the credit memo's TxnID and its
customer; the merchant gives that refund from the credit memo in QuickBooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from lxml import etree

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.qbwc.qbxml import (
    PARTNER,
    ChargeItems,
    ReceiptFound,
    _document,
    _money,
    _parse,
    _serialise,
    _status,
    _text,
    carries_key,
    parse_found,
    ref_number,
    status_message,
)
from stockbridge.domain.books import ReversalKind, ReversalRequest
from stockbridge.domain.model import ItemError

__all__ = [
    "REFUND_PREFIX",
    "credit_memo_memo",
    "find_credit_memos",
    "found_credit_memos",
    "parse_credit_memo_query",
    "parse_reversals",
    "reverse",
]

REFUND_PREFIX = "Stockbridge refund for web order"
#: What a money-only line (an order-level amount spread over the lines) says.
MONEY_ONLY = "refunded without the item returned"


def credit_memo_memo(request: ReversalRequest) -> str:
    return f"{REFUND_PREFIX} {request.order.number} ({request.key})"


def _credit_memo(
    msgs: etree._Element,
    index: int,
    request: ReversalRequest,
    sku_field: str,
    refs: dict[str, str],
    charges: ChargeItems,
) -> None:
    reversal = request.reversal
    rq = etree.SubElement(msgs, "CreditMemoAddRq", requestID=str(index))
    add = etree.SubElement(rq, "CreditMemoAdd")
    _text(etree.SubElement(add, "CustomerRef"), "FullName", charges.customer)
    _text(add, "TxnDate", datetime.now(UTC).date().isoformat())
    _text(add, "RefNumber", ref_number(request.order.number))
    _text(add, "Memo", credit_memo_memo(request))
    for line in reversal.lines:
        row = etree.SubElement(add, "CreditMemoLineAdd")
        item = etree.SubElement(row, "ItemRef")
        if sku_field == "manufacturer_part_number":
            _text(item, "ListID", refs.get(line.sku, ""))
        else:
            _text(item, "FullName", line.sku)
        if line.quantity > 0:
            if line.name:
                _text(row, "Desc", line.name[:4095])
            _text(row, "Quantity", str(line.quantity))
        else:
            _text(row, "Desc", f"{line.name or line.sku}: {MONEY_ONLY}"[:4095])
        _text(row, "Amount", _money(line.amount))
    for name, desc, amount in (
        (charges.shipping, "Shipping", reversal.shipping),
        (charges.discount, "Discount", -reversal.discount),
        (charges.sales_tax, "Sales tax", reversal.tax),
    ):
        if amount:
            row = etree.SubElement(add, "CreditMemoLineAdd")
            _text(etree.SubElement(row, "ItemRef"), "FullName", name)
            _text(row, "Desc", desc)
            _text(row, "Amount", _money(amount))


def reverse(
    requests: Sequence[ReversalRequest],
    *,
    sku_field: str,
    refs: dict[str, str] | None = None,
    charges: ChargeItems | None = None,
) -> str:
    """One message set, a request per reversal (requestID = its index): a TxnVoidRq of
    the sales receipt for a void, a CreditMemoAddRq for a refund. A credit memo's lines
    are the refund's: each returned line (Quantity, Amount: its items come back on
    hand), each money-only line on its item without a quantity, then shipping, the
    discount (the money kept back, negative) and the tax on their items; it comes to
    the refund's total."""
    names = charges or ChargeItems()
    root, msgs = _document()
    for index, request in enumerate(requests):
        if request.reversal.kind is ReversalKind.VOID:
            rq = etree.SubElement(msgs, "TxnVoidRq", requestID=str(index))
            _text(rq, "TxnVoidType", "SalesReceipt")
            _text(rq, "TxnID", request.document_ref)
        else:
            _credit_memo(msgs, index, request, sku_field, dict(refs or {}), names)
    return _serialise(root)


def parse_reversals(answer: str, count: int) -> dict[int, str | ItemError]:
    """request index -> the voided receipt's or the credit memo's TxnID, or ItemError
    (absent: no answer for it; looked up or sent again next session)."""
    outcome: dict[int, str | ItemError] = {}
    msgs = _parse(answer)
    for rs in msgs:
        if rs.tag not in ("TxnVoidRs", "CreditMemoAddRs"):
            continue
        try:
            index = int(rs.get("requestID", ""))
        except ValueError:
            index = -1
        if not 0 <= index < count:
            raise PartnerResponseError(
                f"a {rs.tag!s} answers an unknown requestID {rs.get('requestID')!r}",
                partner=PARTNER,
                code="malformed",
            )
        status = _status(rs)
        txn = rs.findtext("TxnID") if rs.tag == "TxnVoidRs" else rs.findtext("CreditMemoRet/TxnID")
        if status.error or not txn:
            message = status_message(status.code, status.message or "refused")
            outcome[index] = ItemError(str(index), message, status.code)
        else:
            outcome[index] = txn
    return outcome


def find_credit_memos(requests: Sequence[ReversalRequest]) -> str:
    """One CreditMemoQueryRq naming every refunded order's RefNumber (read-only)."""
    root, msgs = _document(on_error="stopOnError")
    rq = etree.SubElement(msgs, "CreditMemoQueryRq", requestID="find")
    for ref in dict.fromkeys(ref_number(r.order.number) for r in requests):
        _text(rq, "RefNumber", ref)
    for element in ("TxnID", "RefNumber", "Memo"):
        _text(rq, "IncludeRetElement", element)
    return _serialise(root)


def parse_credit_memo_query(answer: str) -> list[ReceiptFound]:
    return parse_found(answer, "CreditMemoQueryRs", "CreditMemoRet")


def found_credit_memos(answer: str, requests: Sequence[ReversalRequest]) -> dict[str, str]:
    """reversal key -> TxnID of the credit memos that are ours (our key, exactly)."""
    found = parse_credit_memo_query(answer)
    ours: dict[str, str] = {}
    for request in requests:
        ref = ref_number(request.order.number)
        for memo in found:
            if memo.ref_number == ref and carries_key(memo.memo, request.key):
                ours[request.key] = memo.txn_id
                break
    return ours
