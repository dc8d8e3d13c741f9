"""Refunds in the BigCommerce sandbox, in the shape BigCommerce documents them.

BigCommerce's own example of a refund (``RefundID_Get``, Payment Actions API; kept in
``tests/fixtures/bigcommerce/refund_get_example.json`` with its source):

    {"id": 12, "order_id": 180, "user_id": 0, "created": "2022-06-16T16:44:15+00:00",
     "reason": "Customer requires a refund.", "total_amount": 50, "total_tax": 5,
     "uses_merchant_override_values": false,
     "payments": [{"id": 13, "provider_id": "storecredit", "amount": 50, "offline": true,
                   "is_declined": false, "declined_message": ""}],
     "items": [{"item_type": "PRODUCT", "item_id": 87, "quantity": 1,
                "requested_amount": null}]}

A product refunded by quantity (``{"item_type": "PRODUCT", "item_id", "quantity"}``) has
no amount of its own (``requested_amount: null``): the store works out its money from the
order line, price and tax. Amount-bound items (``"amount"``: a product's partial amount,
``SHIPPING``, ``HANDLING``, ``GIFT_WRAPPING``, a tax-exempt ``ORDER`` amount, ``TAX``)
carry it in ``requested_amount``; quantity is populated for products only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from stockbridge.connectors.bigcommerce.sandbox.state import now

if TYPE_CHECKING:
    from stockbridge.connectors.bigcommerce.sandbox.state import SOrder

__all__ = ["ITEM_TYPES", "refund_record"]

ITEM_TYPES = ("PRODUCT", "ORDER", "GIFT_WRAPPING", "SHIPPING", "HANDLING", "TAX")


def _number(value: Decimal) -> int | float:
    """A JSON number as BigCommerce writes one (50, 10.83)."""
    return int(value) if value == value.to_integral_value() else float(value)


def refund_record(
    order: SOrder, body: dict[str, Any], refund_id: int, payment_id: int
) -> dict[str, Any]:
    """The refund ``body`` asks for, as ``GET .../payment_actions/refunds`` serves it.
    Raises ValueError (or a decimal error) on an item the store would not take."""
    lines = {int(li["id"]): li for li in order.lines}
    amount = tax = Decimal(0)
    items: list[dict[str, Any]] = []
    for raw in body["items"]:
        kind = str(raw.get("item_type", "")).upper()
        if kind not in ITEM_TYPES:
            raise ValueError(f"item_type must be one of {', '.join(ITEM_TYPES)}")
        given = raw.get("amount", raw.get("requested_amount"))
        quantity = raw.get("quantity")
        item: dict[str, Any] = {
            "item_type": kind,
            "item_id": raw.get("item_id"),
            "quantity": int(quantity) if kind == "PRODUCT" and quantity is not None else None,
            "requested_amount": None,
        }
        if given is None:
            if kind != "PRODUCT" or quantity is None:
                raise ValueError(f"a {kind} item needs an amount")
            line = lines.get(int(raw["item_id"]))
            if line is None:
                raise ValueError(f"no order product {raw['item_id']}")
            amount += Decimal(str(line["price_ex_tax"])) * int(quantity)
            tax += Decimal(str(line["price_tax"])) * int(quantity)
        else:
            requested = Decimal(str(given))
            item["requested_amount"] = _number(requested)
            if kind == "TAX":
                tax += requested
            else:
                amount += requested
        items.append(item)
    if "total_tax" in body:
        tax = Decimal(str(body["total_tax"]))
    total = Decimal(str(body["total_amount"])) if "total_amount" in body else amount + tax
    total, tax = total.quantize(Decimal("0.01")), tax.quantize(Decimal("0.01"))
    return {
        "id": refund_id,
        "order_id": order.id,
        "user_id": 0,
        "created": now().replace(microsecond=0).isoformat(),
        "reason": str(body.get("reason", "")),
        "total_amount": _number(total),
        "total_tax": _number(tax),
        "uses_merchant_override_values": "total_amount" in body,
        "payments": [
            {
                "id": payment_id,
                "provider_id": str(body.get("provider_id", "storecredit")),
                "amount": _number(total),
                "offline": True,
                "is_declined": False,
                "declined_message": "",
            }
        ],
        "items": items,
    }
