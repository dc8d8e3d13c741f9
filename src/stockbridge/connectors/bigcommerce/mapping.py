"""BigCommerce JSON <-> domain values. Partner shapes are validated here, at the edge;
nothing past this module sees a raw dict.

Quirks that live here:
- v2 order dates are RFC 2822 strings; money is a decimal string ("12.5000").
- status 0 (Incomplete) is an abandoned checkout.
- every answer carries the store's quota in X-Rate-Limit-* headers; errors are JSON with
  a ``title`` (and ``errors`` by field for a 422);
- inventory is tracked per product, per variant, or not at all; a product tracked "by
  product" is addressed through its product id (its base variant's SKU stands for it),
  a variant tracked "by variant" through its variant id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stockbridge.connectors.errors import PartnerResponseError
from stockbridge.connectors.ratelimit import QuotaReport
from stockbridge.domain.model import (
    OrderLine,
    RefundLine,
    WebOrder,
    WebOrderStatus,
    WebRefund,
    WebVariant,
)

__all__ = [
    "Pagination",
    "Product",
    "V2Order",
    "V2OrderProduct",
    "V3Refund",
    "describe_error",
    "parse",
    "parse_ref",
    "parse_time",
    "read_quota",
    "retry_after",
    "to_web_order",
    "to_web_refund",
    "to_web_variants",
]

STATUS: dict[int, WebOrderStatus] = {
    0: WebOrderStatus.INCOMPLETE,
    1: WebOrderStatus.OPEN,  # Pending
    2: WebOrderStatus.FULFILLED,  # Shipped
    3: WebOrderStatus.OPEN,  # Partially Shipped
    4: WebOrderStatus.REFUNDED,
    5: WebOrderStatus.CANCELLED,
    6: WebOrderStatus.CANCELLED,  # Declined
    7: WebOrderStatus.AWAITING_PAYMENT,
    8: WebOrderStatus.OPEN,  # Awaiting Pickup
    9: WebOrderStatus.OPEN,  # Awaiting Shipment
    10: WebOrderStatus.FULFILLED,  # Completed
    11: WebOrderStatus.OPEN,  # Awaiting Fulfillment
    12: WebOrderStatus.OPEN,  # Manual Verification Required
    13: WebOrderStatus.OPEN,  # Disputed
    14: WebOrderStatus.FULFILLED,  # Partially Refunded
}


def parse_time(value: str) -> datetime:
    """BigCommerce writes RFC 2822 in v2 and ISO 8601 in v3; both become aware UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(f"not a date: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Pagination(_Model):
    total: int
    count: int
    per_page: int
    current_page: int
    total_pages: int


class Variant(_Model):
    id: int
    product_id: int
    sku: str = ""
    inventory_level: int = 0
    price: Decimal | None = None
    calculated_price: Decimal | None = None


class Product(_Model):
    id: int
    name: str
    sku: str = ""
    inventory_tracking: Literal["none", "product", "variant"]
    inventory_level: int = 0
    price: Decimal | None = None
    date_modified: datetime
    base_variant_id: int | None = None
    is_visible: bool | None = None
    variants: tuple[Variant, ...] = ()

    @field_validator("date_modified", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value) if isinstance(value, str) else value


class V2Order(_Model):
    """``GET /v2/orders`` fields the books need. Money is a decimal string. ``total_tax``
    is the order's whole tax; ``subtotal_ex_tax`` and ``shipping_cost_ex_tax`` exclude
    it; ``refunded_amount`` > 0 means refunds to read (``payment_actions/refunds``)."""

    id: int
    status_id: int = Field(ge=0, le=14)
    date_modified: datetime
    date_created: datetime | None = None
    currency_code: str = "USD"
    total_inc_tax: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    subtotal_ex_tax: Decimal = Decimal("0")
    shipping_cost_ex_tax: Decimal = Decimal("0")
    shipping_cost_inc_tax: Decimal = Decimal("0")
    handling_cost_ex_tax: Decimal = Decimal("0")
    wrapping_cost_ex_tax: Decimal = Decimal("0")
    discount_amount: Decimal = Decimal("0")
    coupon_discount: Decimal = Decimal("0")
    refunded_amount: Decimal = Decimal("0")
    payment_method: str = ""
    billing_address: dict[str, Any] = Field(default_factory=dict)
    #: The units the order holds (sum of its lines' quantities), and its consignments
    #: as ``include=consignments.line_items&consignment_structure=object`` puts them in.
    items_total: int | None = None
    consignments: Any = None

    @field_validator("date_modified", "date_created", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        if value in (None, ""):
            return None
        return parse_time(value) if isinstance(value, str) else value


class V2OrderProduct(_Model):
    id: int
    order_id: int
    sku: str
    name: str = ""
    quantity: int = Field(ge=0)
    price_ex_tax: Decimal = Decimal("0")
    price_inc_tax: Decimal = Decimal("0")


class V3RefundItem(_Model):
    """A refunded item: ``PRODUCT`` / ``GIFT_WRAPPING`` (``item_id`` = the order product's
    id), ``SHIPPING`` / ``HANDLING`` (the order address's id), ``ORDER`` (the order's id, a
    tax-exempt amount), ``TAX``. ``requested_amount`` is null on a product refunded by
    quantity (BigCommerce's own example); ``quantity`` is given for products only."""

    item_type: str
    item_id: int | None = None
    quantity: int | None = Field(default=None, ge=0)
    requested_amount: Decimal | None = None


class V3Refund(_Model):
    """``GET /v3/orders/{id}/payment_actions/refunds``: one refund of the order."""

    id: int
    order_id: int
    created: datetime | None = None
    total_amount: Decimal
    total_tax: Decimal = Decimal("0")
    items: tuple[V3RefundItem, ...] = ()

    @field_validator("created", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        if value in (None, ""):
            return None
        return parse_time(value) if isinstance(value, str) else value


#: Where an order's consignments keep their lines (object structure): each a list of
#: consignments; gift certificates sit under ``email``.
CONSIGNMENT_KINDS = ("shipping", "pickups", "downloads")


def included_lines(order: V2Order) -> list[V2OrderProduct] | None:
    """The order's lines as ``include=consignments.line_items`` brought them (shipping,
    pickup, digital and gift-certificate consignments), or None when they must be read
    from ``/v2/orders/{id}/products``: no consignments object (the include was ignored),
    line items given as links, a consignment cut at 50 lines (``__warning__``), or
    lines that do not add up to the order's ``items_total`` (a consignment left out)."""
    body = order.consignments
    if not isinstance(body, dict):
        return None
    consignments: list[Any] = []
    for kind in CONSIGNMENT_KINDS:
        found = body.get(kind) or []
        if not isinstance(found, list):
            return None
        consignments.extend(found)
    email = body.get("email") or {}
    gifts = email.get("gift_certificates") if isinstance(email, dict) else None
    consignments.extend(gifts if isinstance(gifts, list) else [])
    lines: dict[int, V2OrderProduct] = {}
    for consignment in consignments:
        if not isinstance(consignment, dict) or "__warning__" in consignment:
            return None
        items = consignment.get("line_items") or []
        if not isinstance(items, list):
            return None  # a link to the lines, not the lines
        for item in items:
            if not isinstance(item, dict) or "sku" not in item:
                return None
            line = parse(V2OrderProduct, item, "order product")
            lines.setdefault(line.id, line)
    if order.items_total is None or sum(li.quantity for li in lines.values()) != order.items_total:
        return None
    return list(lines.values())


def parse(model: type[_Model], data: Any, what: str) -> Any:
    """Validate partner JSON as ``model``; a malformed answer is a PartnerResponseError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PartnerResponseError(
            f"unexpected {what} from BigCommerce: {where}: {first['msg']}", partner="bigcommerce"
        ) from None


#: Refund item kinds booked with the shipping (the order's handling and gift wrapping
#: are booked with its shipping too: ``to_web_order``).
CHARGES = frozenset({"SHIPPING", "HANDLING", "GIFT_WRAPPING"})


def to_web_refund(refund: V3Refund) -> WebRefund:
    """A refund as the books see it. ``PRODUCT`` items become refund lines (order product
    id, quantity, ``requested_amount`` ex tax, or None when bound to the quantity only);
    ``SHIPPING``, ``HANDLING`` and ``GIFT_WRAPPING`` amounts the charges refunded; an
    ``ORDER`` amount the order-level amount; ``TAX`` items are named apart (their money is
    in ``total_tax``, the refund's whole tax). A kind BigCommerce does not document, or an
    amount-bound charge without its amount, is kept by name so the hub refuses it."""
    lines: list[RefundLine] = []
    shipping = order_amount = tax_items = Decimal("0")
    unbookable: list[str] = []
    for item in refund.items:
        kind = item.item_type.upper()
        amount = item.requested_amount
        if kind == "PRODUCT" and item.item_id is not None:
            lines.append(RefundLine(str(item.item_id), item.quantity or 0, amount))
        elif kind in CHARGES and amount is not None:
            shipping += amount
        elif kind == "ORDER" and amount is not None:
            order_amount += amount
        elif kind == "TAX" and amount is not None:
            tax_items += amount
        else:
            unbookable.append(kind)
    return WebRefund(
        refund_id=str(refund.id),
        total=refund.total_amount,
        tax=refund.total_tax,
        shipping=shipping,
        lines=tuple(lines),
        created_at=refund.created,
        order_amount=order_amount,
        tax_items=tax_items,
        unbookable=tuple(unbookable),
    )


def to_web_order(
    order: V2Order, lines: list[V2OrderProduct], refunds: list[V3Refund] | None = None
) -> WebOrder:
    billing = order.billing_address
    email = billing.get("email")
    name = " ".join(str(billing.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return WebOrder(
        web_id=str(order.id),
        number=str(order.id),
        status=STATUS[order.status_id],
        modified_at=order.date_modified,
        lines=tuple(OrderLine(p.sku, p.quantity, p.price_ex_tax, p.name, str(p.id)) for p in lines),
        placed_at=order.date_created,
        currency=order.currency_code,
        total=order.total_inc_tax,
        shipping=(
            order.shipping_cost_ex_tax + order.handling_cost_ex_tax + order.wrapping_cost_ex_tax
        ),
        discount=order.discount_amount + order.coupon_discount,
        customer_email=email.strip() if isinstance(email, str) and email.strip() else None,
        tax=order.total_tax,
        billing_name=name or None,
        payment_method=order.payment_method or None,
        refunds=tuple(to_web_refund(r) for r in refunds or ()),
    )


def to_web_variants(product: Product) -> list[WebVariant]:
    """One WebVariant per SKU the hub may address. Untracked products and the non-base
    variants of a product tracked "by product" carry quantity None and a ``none:`` ref
    (the connector never writes stock for them). A reference names the id stock is
    written to first, then the other one (``product:{product}:{variant}``,
    ``variant:{variant}:{product}``), so prices go by variant and names by product.
    """
    out: list[WebVariant] = []
    for variant in product.variants:
        if not variant.sku:
            continue
        price = variant.price if variant.price is not None else product.price
        if product.inventory_tracking == "variant":
            ref, quantity = f"variant:{variant.id}:{product.id}", variant.inventory_level
        elif product.inventory_tracking == "product" and (
            variant.id == product.base_variant_id or variant.sku == product.sku
        ):
            ref, quantity = f"product:{product.id}:{variant.id}", product.inventory_level
        else:
            ref, quantity = f"none:{variant.id}:{product.id}", None
        out.append(
            WebVariant(
                sku=variant.sku,
                partner_ref=ref,
                name=product.name,
                price=price,
                quantity=quantity,
                modified_at=product.date_modified,
                visible=product.is_visible,
            )
        )
    return out


def parse_ref(ref: str | None) -> tuple[str, int | None, int | None]:
    """(kind, product id, variant id) of a partner reference; ids absent from references
    recorded before both were kept are None. An unreadable reference is ("", None, None)."""
    kind, _, rest = (ref or "").partition(":")
    parts = rest.split(":")
    try:
        ids = [int(part) for part in parts if part]
    except ValueError:
        return "", None, None
    first = ids[0] if ids else None
    second = ids[1] if len(ids) > 1 else None
    if kind == "product":
        return kind, first, second
    if kind in ("variant", "none"):
        return kind, second, first
    return "", None, None


def read_quota(response: httpx.Response) -> QuotaReport:
    """What the rate-limit headers every answer carries say about the store's quota."""
    headers = response.headers
    try:
        left = headers.get("X-Rate-Limit-Requests-Left")
        quota = headers.get("X-Rate-Limit-Requests-Quota")
        reset = headers.get("X-Rate-Limit-Time-Reset-Ms")
        return QuotaReport(
            left=int(left) if left is not None else None,
            quota=int(quota) if quota is not None else None,
            reset_seconds=int(reset) / 1000 if reset is not None else None,
        )
    except ValueError:
        return QuotaReport()


def retry_after(response: httpx.Response) -> float:
    """How long a 429 asks us to wait: the window's reset, else X-Retry-After, else 1 s."""
    for header, scale in (("X-Rate-Limit-Time-Reset-Ms", 1000.0), ("X-Retry-After", 1.0)):
        value = response.headers.get(header)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return 1.0


def describe_error(response: httpx.Response) -> str:
    """BigCommerce's own words: ``title`` (and ``errors`` for 422), else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        title = str(body.get("title") or body.get("message") or "")
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            details = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5])
            return f"{title} ({details})" if title else details
        if title:
            return title
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message", body[0]))
    return response.text[:300]
