"""The documents Stockbridge books in QuickBooks Online, built from web orders and the
hub's reversals: a SalesReceipt / Invoice per order (``receipt_body``) and a RefundReceipt
per refund or cancellation (``refund_body``), with the tax carried as the company's tax
kind asks, amounts to the cent, and the note that names the order and our ref.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stockbridge.domain.books import CANCEL_KEY, Reversal, refund_key
from stockbridge.domain.model import WebOrder

__all__ = [
    "MAX_DOC_NUMBER",
    "TAX_MODES",
    "ReceiptOptions",
    "doc_number",
    "is_ours",
    "private_note",
    "receipt_body",
    "refund_body",
]

MAX_DOC_NUMBER = 21
CENT = Decimal("0.01")
UNIT_PLACES = Decimal("0.00001")


def doc_number(order: WebOrder, prefix: str = "") -> str:
    """DocNumber = prefix + web order number, at most 21 characters (ValueError beyond)."""
    number = f"{prefix}{order.number}"
    if len(number) > MAX_DOC_NUMBER:
        raise ValueError(
            f"DocNumber {number!r} is longer than QuickBooks' {MAX_DOC_NUMBER} characters"
        )
    return number


TAX_MODES = ("ast", "us_codes", "global")


@dataclass(frozen=True, slots=True)
class ReceiptOptions:
    """Per-store and per-company choices for the documents posted.

    ``tax_mode`` is the company's tax kind (docs/facts-qbo-books.md): ``ast`` (US,
    automated sales tax: the order's tax goes in ``TxnTaxDetail.TotalTax``, which AST
    honours), ``us_codes`` (US without AST: lines ``TAX``/``NON`` and the transaction's
    ``TxnTaxCodeRef`` = ``tax_code_id``), ``global`` (non-US: ``GlobalTaxCalculation``
    ``TaxExcluded`` and ``TaxCodeRef`` = ``tax_code_id`` on every sales line).
    """

    customer_id: str
    doc_prefix: str = ""
    shipping_item_id: str = "SHIPPING_ITEM_ID"
    tax_mode: str = "ast"
    tax_code_id: str | None = None
    payment_method_id: str | None = None
    deposit_account_id: str | None = None


def private_note(order: WebOrder, key: str) -> str:
    """Links the document back to the web order; ``ref`` (the idempotency key, which names
    the store) tells our documents apart from another store's with the same number."""
    return f"Web order {order.number} (web id {order.web_id}) posted by Stockbridge, ref {key}"


def is_ours(note: object, key: str) -> bool:
    """Whether a document found by DocNumber is this order's: its note carries our ref, or
    no Stockbridge ref at all (the merchant edited the note) — never another store's."""
    if not isinstance(note, str) or "posted by Stockbridge, ref " not in note:
        return True
    return note.rsplit("ref ", 1)[-1].strip() == key


def _item_line(item_id: str, quantity: int, amount: Decimal, description: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item_id}, "Qty": quantity}
    if quantity:
        # A unit price only where it is exact in a few places (25.00 for 3 has none: the
        # line then carries its amount alone, which QuickBooks takes as it is).
        unit = (amount / quantity).quantize(UNIT_PLACES, rounding=ROUND_HALF_UP)
        if unit * quantity == amount:
            detail["UnitPrice"] = unit
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "Description": description,
        "SalesItemLineDetail": detail,
    }


def _money_lines(
    items: list[dict[str, Any]],
    shipping: Decimal,
    discount: Decimal,
    taxed: bool,
    options: ReceiptOptions,
) -> list[dict[str, Any]]:
    """Item lines, then shipping (the shipping item), then the discount; each sales line
    carries the tax code the company's tax kind asks for."""
    lines = list(items)
    if shipping:
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": shipping,
                "Description": "Shipping",
                "SalesItemLineDetail": {"ItemRef": {"value": options.shipping_item_id}},
            }
        )
    for line in lines:
        code = _line_tax_code(taxed, options)
        if code is not None:
            line["SalesItemLineDetail"]["TaxCodeRef"] = {"value": code}
    if discount:
        lines.append(
            {
                "DetailType": "DiscountLineDetail",
                "Amount": discount,
                "DiscountLineDetail": {"PercentBased": False},
            }
        )
    return lines


def _line_tax_code(taxed: bool, options: ReceiptOptions) -> str | None:
    if options.tax_mode == "global":
        return options.tax_code_id
    if options.tax_mode == "us_codes":
        return "TAX" if taxed else "NON"
    return None


def _tax_fields(tax: Decimal, options: ReceiptOptions) -> dict[str, Any]:
    """The order's tax, carried as the company's tax kind expects."""
    detail: dict[str, Any] = {"TotalTax": tax}
    fields: dict[str, Any] = {"TxnTaxDetail": detail}
    if options.tax_mode == "us_codes" and tax and options.tax_code_id:
        detail["TxnTaxCodeRef"] = {"value": options.tax_code_id}
    if options.tax_mode == "global":
        fields["GlobalTaxCalculation"] = "TaxExcluded"
    return fields


def _payment_fields(options: ReceiptOptions) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if options.payment_method_id:
        fields["PaymentMethodRef"] = {"value": options.payment_method_id}
    if options.deposit_account_id:
        fields["DepositToAccountRef"] = {"value": options.deposit_account_id}
    return fields


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _receipt_cents(order: WebOrder) -> tuple[list[Decimal], Decimal, Decimal, Decimal]:
    """Line amounts, shipping, discount and tax to the cent, the total still what the buyer
    paid. A store whose prices include tax reports ex-tax prices to four places (10.00
    with 20% VAT: 8.3333 + 1.6667): each figure is rounded, and the cents rounding leaves
    over (a cent a line at most) go on the largest line."""
    amounts = [_cents(li.unit_price * li.quantity) for li in order.lines]
    shipping, discount, tax = _cents(order.shipping), _cents(order.discount), _cents(order.tax)
    left = _cents(order.total) - (sum(amounts, Decimal(0)) + shipping - discount + tax)
    if left and amounts and abs(left) <= CENT * len(amounts):
        largest = max(range(len(amounts)), key=lambda n: amounts[n])
        amounts[largest] += left
    return amounts, shipping, discount, tax


def receipt_body(
    order: WebOrder, key: str, item_ids: Mapping[str, str], options: ReceiptOptions
) -> dict[str, Any]:
    """The SalesReceipt / Invoice for ``order``; every line's SKU must be in ``item_ids``.

    Lines exclude tax; the order's tax is carried whole (``_tax_fields``), so QuickBooks
    books it as tax payable, never as revenue, and its ``TotalAmt`` equals the web
    order's total. Amounts stay Decimal; ``dumps`` writes them as JSON numbers.
    """
    amounts, shipping, discount, tax = _receipt_cents(order)
    items = [
        _item_line(item_ids[line.sku], line.quantity, amount, line.name or line.sku)
        for line, amount in zip(order.lines, amounts, strict=True)
    ]
    body: dict[str, Any] = {
        "DocNumber": doc_number(order, options.doc_prefix),
        "CustomerRef": {"value": options.customer_id},
        "Line": _money_lines(items, shipping, discount, tax > 0, options),
        "PrivateNote": private_note(order, key),
        "CurrencyRef": {"value": order.currency},
        **_tax_fields(tax, options),
        **_payment_fields(options),
    }
    if order.customer_email:
        body["BillEmail"] = {"Address": order.customer_email}
    if order.placed_at is not None:
        body["TxnDate"] = order.placed_at.date().isoformat()
    return body


def refund_body(
    order: WebOrder,
    reversal: Reversal,
    number: str,
    key: str,
    item_ids: Mapping[str, str],
    options: ReceiptOptions,
) -> dict[str, Any]:
    """The RefundReceipt for one reversal: exactly its lines (quantities back on stock),
    shipping, discount and tax; paid from the deposit account."""
    items = [
        _item_line(item_ids[line.sku], line.quantity, line.amount, line.name or line.sku)
        for line in reversal.lines
    ]
    body: dict[str, Any] = {
        "DocNumber": number,
        "CustomerRef": {"value": options.customer_id},
        "Line": _money_lines(
            items, reversal.shipping, reversal.discount, reversal.tax > 0, options
        ),
        "PrivateNote": (
            f"Refund of web order {order.number} (web id {order.web_id}, {reversal.key}) "
            f"posted by Stockbridge, ref {key}"
        ),
        "CurrencyRef": {"value": order.currency},
        **_tax_fields(reversal.tax, options),
        **_payment_fields(options),
        **_reversal_date(order, reversal),
    }
    return body


def _reversal_date(order: WebOrder, reversal: Reversal) -> dict[str, Any]:
    """A refund is dated the day the web store made it (the month-end check matches web
    and books day by day); a cancellation, the day the order last changed."""
    if reversal.key == CANCEL_KEY:
        return {"TxnDate": order.modified_at.date().isoformat()}
    made = next((r.created_at for r in order.refunds if refund_key(r) == reversal.key), None)
    return {} if made is None else {"TxnDate": made.date().isoformat()}
