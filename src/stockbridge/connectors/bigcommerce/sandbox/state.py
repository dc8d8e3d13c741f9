"""The BigCommerce sandbox's stores: catalog, orders, hooks, fault plan and quota window,
with no HTTP in sight. Times are parsed and written here in BigCommerce's own formats
(v3: ISO 8601; v2: RFC 2822), independently of the client's parsing.
"""

from __future__ import annotations

import hmac
import random
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

__all__ = [
    "ORDER_STATUSES",
    "STOCK_RELEASED",
    "Faults",
    "SHook",
    "SOrder",
    "SProduct",
    "SStore",
    "SUser",
    "SVariant",
    "now",
    "parse_when",
    "rfc2822",
]

#: Order statuses as ``GET /v2/order_statuses`` lists them: id -> (name, sort order).
ORDER_STATUSES: dict[int, tuple[str, int]] = {
    0: ("Incomplete", 0),
    1: ("Pending", 1),
    2: ("Shipped", 8),
    3: ("Partially Shipped", 6),
    4: ("Refunded", 11),
    5: ("Cancelled", 9),
    6: ("Declined", 10),
    7: ("Awaiting Payment", 2),
    8: ("Awaiting Pickup", 5),
    9: ("Awaiting Shipment", 4),
    10: ("Completed", 7),
    11: ("Awaiting Fulfillment", 3),
    12: ("Manual Verification Required", 13),
    13: ("Disputed", 12),
    14: ("Partially Refunded", 14),
}
#: Statuses whose orders hold no stock (incomplete, refunded, cancelled, declined).
STOCK_RELEASED = frozenset({0, 4, 5, 6})


def now() -> datetime:
    return datetime.now(UTC)


def parse_when(text: str) -> datetime:
    """A filter value as BigCommerce accepts it: ISO 8601 (``2024-05-01T10:00:00Z``,
    ``2024-05-01``) or RFC 2822 (``Wed, 01 May 2024 10:00:00 +0000``). Naive means UTC.
    Raises ValueError for anything else."""
    text = text.strip()
    moment: datetime | None = None
    if text[:4].isdigit():
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
    if moment is None:
        raise ValueError(f"not an ISO 8601 or RFC 2822 date: {text!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rfc2822(moment: datetime) -> str:
    """How v2 writes dates: ``Wed, 01 May 2024 10:00:00 +0000``."""
    return format_datetime(moment.astimezone(UTC))


@dataclass
class SVariant:
    id: int
    product_id: int
    sku: str
    inventory_level: int
    price: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product_id": self.product_id,
            "sku": self.sku,
            "inventory_level": self.inventory_level,
            "price": float(self.price),
            "calculated_price": float(self.price),  # no sale price or rules in the sandbox
        }


@dataclass
class SProduct:
    id: int
    name: str
    sku: str
    tracking: str
    inventory_level: int
    price: str
    date_modified: datetime
    variants: list[SVariant]
    is_visible: bool = True
    weight: str = "0"

    def as_json(self, with_variants: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_visible": self.is_visible,
            "weight": float(self.weight),
            "type": "physical",
            "sku": self.sku,
            "inventory_tracking": self.tracking,
            "inventory_level": self.inventory_level,
            "price": float(self.price),
            "calculated_price": float(self.price),  # no sale price or rules in the sandbox
            "date_modified": self.date_modified.isoformat(),
            "base_variant_id": self.variants[0].id if self.variants else None,
        }
        if with_variants:
            body["variants"] = [v.as_json() for v in self.variants]
        return body


@dataclass
class SOrder:
    """An order. Lines carry ``price_ex_tax`` and ``price_tax`` (per unit); the order's
    money follows from them as BigCommerce reports it: ``subtotal_ex_tax``,
    ``total_tax`` (lines' and shipping's tax), ``total_inc_tax`` = subtotal + shipping +
    handling + wrapping - discount - coupon discount + tax (gift certificates and store
    credit are ways of paying it, not discounts), ``refunded_amount`` = what its refunds
    paid back."""

    id: int
    status_id: int
    date_created: datetime
    date_modified: datetime
    lines: list[dict[str, Any]]
    discount: str = "0.0000"
    shipping: str = "0.0000"
    shipping_tax: str = "0.0000"
    coupon_discount: str = "0.0000"
    handling: str = "0.0000"
    wrapping: str = "0.0000"
    gift_certificate_amount: str = "0.0000"
    store_credit_amount: str = "0.0000"
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    payment_method: str = "Credit Card"
    refunds: list[dict[str, Any]] = field(default_factory=list)
    #: "shipping", "pickup" or "digital": the order's one consignment (consignments.py)
    fulfilment: str = "shipping"

    def money(self) -> dict[str, Decimal]:
        subtotal = sum(
            (Decimal(str(li["price_ex_tax"])) * li["quantity"] for li in self.lines), Decimal(0)
        )
        line_tax = sum(
            (Decimal(str(li["price_tax"])) * li["quantity"] for li in self.lines), Decimal(0)
        )
        tax = line_tax + Decimal(self.shipping_tax)
        charges = Decimal(self.shipping) + Decimal(self.handling) + Decimal(self.wrapping)
        discounts = Decimal(self.discount) + Decimal(self.coupon_discount)
        total = subtotal + charges - discounts + tax
        refunded = sum((Decimal(str(r["total_amount"])) for r in self.refunds), Decimal(0))
        return {
            "subtotal_ex_tax": subtotal,
            "subtotal_tax": line_tax,
            "total_tax": tax,
            "total_ex_tax": total - tax,
            "total_inc_tax": total,
            "refunded_amount": refunded,
        }

    def as_json(self) -> dict[str, Any]:
        figures = self.money()
        money = {k: f"{v:.4f}" for k, v in figures.items()}
        subtotal_inc = figures["subtotal_ex_tax"] + figures["subtotal_tax"]
        shipping_inc = Decimal(self.shipping) + Decimal(self.shipping_tax)
        return {
            "id": self.id,
            "status_id": self.status_id,
            "status": ORDER_STATUSES[self.status_id][0],
            "date_created": rfc2822(self.date_created),
            "date_modified": rfc2822(self.date_modified),
            "currency_code": "USD",
            **money,
            "subtotal_inc_tax": f"{subtotal_inc:.4f}",
            "shipping_cost_ex_tax": f"{Decimal(self.shipping):.4f}",
            "shipping_cost_inc_tax": f"{shipping_inc:.4f}",
            "shipping_cost_tax": f"{Decimal(self.shipping_tax):.4f}",
            "handling_cost_ex_tax": f"{Decimal(self.handling):.4f}",
            "wrapping_cost_ex_tax": f"{Decimal(self.wrapping):.4f}",
            "discount_amount": self.discount,
            "coupon_discount": self.coupon_discount,
            "gift_certificate_amount": self.gift_certificate_amount,
            "store_credit_amount": self.store_credit_amount,
            "payment_method": self.payment_method,
            "items_total": sum(int(line["quantity"]) for line in self.lines),
            "billing_address": {
                "first_name": self.first_name,
                "last_name": self.last_name,
                "email": self.email or f"customer{self.id}@example.com",
            },
        }


@dataclass
class SHook:
    id: int
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str]
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "destination": self.destination,
            "is_active": self.is_active,
            "headers": self.headers,
        }


@dataclass
class Faults:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("5xx",)
    latency_ms: int = 0
    planned: deque[str] = field(default_factory=deque)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def draw(self) -> str | None:
        if self.planned:
            return self.planned.popleft()
        if self.rate and self.rng.random() < self.rate:
            return self.rng.choice(self.kinds)
        return None


@dataclass
class SUser:
    """A control-panel user of a store (the owner, or a user the owner let in)."""

    id: int
    username: str
    email: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "email": self.email}


@dataclass
class SStore:
    hash: str
    token: str
    quota: int = 150
    window_ms: int = 30_000
    async_delay_ms: int = 200
    allow_insecure_webhooks: bool = False
    products: dict[int, SProduct] = field(default_factory=dict)
    variants: dict[int, SVariant] = field(default_factory=dict)
    orders: dict[int, SOrder] = field(default_factory=dict)
    hooks: dict[int, SHook] = field(default_factory=dict)
    pending: list[tuple[float, list[tuple[str, int, int]]]] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    faults: Faults = field(default_factory=Faults)
    window_start: float = 0.0
    window_used: int = 0
    first_call: float | None = None
    last_call: float | None = None

    sku_index: dict[str, tuple[SProduct, SVariant]] = field(default_factory=dict)
    #: Control-panel users by id; the owner's id (made on first use).
    users: dict[int, SUser] = field(default_factory=dict)
    owner_id: int | None = None
    #: Installed apps' permanent tokens (client id -> token), accepted like ``token``.
    app_tokens: dict[str, str] = field(default_factory=dict)

    def owner(self) -> SUser:
        if self.owner_id is None:
            self.owner_id = 1_000_000 + zlib.crc32(self.hash.encode()) % 9_000_000
            email = f"owner@{self.hash}.example.com"
            self.users[self.owner_id] = SUser(self.owner_id, email, email)
        return self.users[self.owner_id]

    def accepts(self, token: str) -> bool:
        """The store's API account token or an installed app's token."""
        ok = hmac.compare_digest(token.encode(), self.token.encode())
        for app_token in self.app_tokens.values():
            ok |= hmac.compare_digest(token.encode(), app_token.encode())
        return ok

    #: Product name -> id (names are unique per store for the partner's writes).
    name_index: dict[str, int] = field(default_factory=dict)

    def by_sku(self) -> dict[str, tuple[SProduct, SVariant]]:
        return self.sku_index

    def add_product(self, product: SProduct) -> None:
        self.products[product.id] = product
        self.name_index[product.name] = product.id
        for variant in product.variants:
            self.variants[variant.id] = variant
            if variant.sku:
                self.sku_index[variant.sku] = (product, variant)

    def settle(self, everything: bool = False) -> None:
        """Apply asynchronous inventory writes whose time has come."""
        moment = time.monotonic()
        due = [p for p in self.pending if everything or p[0] <= moment]
        self.pending = [p for p in self.pending if not (everything or p[0] <= moment)]
        for _, items in due:
            for kind, ident, quantity in items:
                if kind == "product":
                    self.products[ident].inventory_level = quantity
                    self.products[ident].date_modified = now()
                else:
                    self.variants[ident].inventory_level = quantity
                    self.products[self.variants[ident].product_id].date_modified = now()

    def changes_of(self, planned: list[tuple[str, int, int]]) -> dict[int, int]:
        """The change per product a write of (kind, id, quantity) makes, from the level
        each item will have once the writes already pending are applied."""
        levels: dict[tuple[str, int], int] = {}

        def level(kind: str, ident: int) -> int:
            if (kind, ident) not in levels:
                levels[(kind, ident)] = (
                    self.products[ident].inventory_level
                    if kind == "product"
                    else self.variants[ident].inventory_level
                )
                for _, items in self.pending:
                    for k, i, quantity in items:
                        if (k, i) == (kind, ident):
                            levels[(kind, ident)] = quantity
            return levels[(kind, ident)]

        changes: dict[int, int] = {}
        for kind, ident, quantity in planned:
            product = ident if kind == "product" else self.variants[ident].product_id
            changes[product] = changes.get(product, 0) + quantity - level(kind, ident)
            levels[(kind, ident)] = quantity
        return changes

    def stock(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for product in self.products.values():
            if product.tracking == "product":
                out[product.sku] = product.inventory_level
            elif product.tracking == "variant":
                for variant in product.variants:
                    out[variant.sku] = variant.inventory_level
        return out

    def move_stock(self, order: SOrder, sign: int) -> None:
        """Take (-1) or give back (+1) the stock of an order's lines."""
        for line in order.lines:
            found = self.sku_index.get(line["sku"])
            if found is None:
                continue
            product, variant = found
            if product.tracking == "product":
                product.inventory_level += sign * line["quantity"]
            elif product.tracking == "variant":
                variant.inventory_level += sign * line["quantity"]
