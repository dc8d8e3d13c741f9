"""Credit memos in the simulated QuickBooks Desktop company, as the qbXML On-Screen
Reference describes CreditMemoAdd and CreditMemoQuery (docs/facts-qbwc.md): a credit memo
names a customer of the company; a line of an inventory item with a Quantity puts that
many back on hand, a line without one is money only; other-charge, discount and
sales-tax items add their Amount. Written from the reference, not from the hub's client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from lxml import etree

from stockbridge.connectors.qbwc.sandbox.answers import answer_found
from stockbridge.connectors.qbwc.sandbox.answers import set_status as _status

if TYPE_CHECKING:
    from stockbridge.connectors.qbwc.sandbox.company import DesktopCompany

__all__ = ["CreditMemo", "add_credit_memo", "query_credit_memos"]

CENT = Decimal("0.01")


@dataclass
class CreditMemo:
    txn_id: str
    ref_number: str
    memo: str
    customer: str
    #: (item name, quantity back on hand or None, amount) per inventory line.
    lines: list[tuple[str, Decimal | None, Decimal]]
    charges: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((a for _n, _q, a in self.lines), Decimal(0)) + sum(
            self.charges.values(), Decimal(0)
        )


def add_credit_memo(company: DesktopCompany, add: etree._Element, rs: etree._Element) -> None:
    customer = add.findtext("CustomerRef/FullName") or add.findtext("CustomerRef/ListID") or ""
    if customer not in company.customers:
        return _status(
            rs,
            "3140",
            "Error",
            f'There is an invalid reference to QuickBooks Customer "{customer}"',
        )
    lines: list[tuple[str, Decimal | None, Decimal]] = []
    charges: dict[str, Decimal] = {}
    for line in add.iterfind("CreditMemoLineAdd"):
        ref = line.find("ItemRef")
        assert ref is not None
        key = ref[0].text or ""
        item = company.items.get(key) if ref[0].tag == "ListID" else company.item_named(key)
        try:
            quantity_text = line.findtext("Quantity")
            quantity = Decimal(quantity_text) if quantity_text else None
            rate = Decimal(line.findtext("Rate") or "0")
            amount_text = line.findtext("Amount")
        except InvalidOperation:
            return _status(rs, "3020", "Error", "There was an error when converting a number")
        if item is None and ref[0].tag == "FullName" and key in company.other_items:
            charges[key] = charges.get(key, Decimal(0)) + Decimal(amount_text or "0")
            continue
        if item is None:
            return _status(
                rs,
                "3140",
                "Error",
                f'There is an invalid reference to QuickBooks Item "{key}" in the CreditMemo line.',
            )
        amount = Decimal(amount_text) if amount_text else (quantity or Decimal(1)) * rate
        lines.append((item.name, quantity, amount.quantize(CENT)))
    txn = f"C{len(company.credit_memos) + 1:X}-{1_800_000_000 + len(company.credit_memos)}"
    for name, quantity, _amount in lines:
        item = company.item_named(name)
        if item is not None and quantity:
            item.quantity += quantity
            item.modified = company.tick()
            item.edit_sequence += 1
    ref_number = add.findtext("RefNumber") or ""
    memo = add.findtext("Memo") or ""
    company.credit_memos.append(CreditMemo(txn, ref_number, memo, customer, lines, charges))
    _status(rs, "0", "Info", "Status OK")
    ret = etree.SubElement(rs, "CreditMemoRet")
    etree.SubElement(ret, "TxnID").text = txn
    etree.SubElement(ret, "RefNumber").text = ref_number
    if memo:
        etree.SubElement(ret, "Memo").text = memo
    return None


def query_credit_memos(company: DesktopCompany, rq: etree._Element, rs: etree._Element) -> None:
    refs = {e.text or "" for e in rq.findall("RefNumber")}
    found = [m for m in company.credit_memos if not refs or m.ref_number in refs]
    answer_found(rs, found, "CreditMemoRet")
