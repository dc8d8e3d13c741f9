"""BigCommerce's webhook adapter: deliveries verified and parsed into hub events, and the
scopes the hub subscribes to.

BigCommerce does not document a signature for these hooks; each hook is registered with
a custom header carrying the connection's ``webhook_secret`` (``SECRET_HEADER``), sent
with every delivery. Envelope: ``{"scope", "store_id", "data": {"type", "id", ...},
"hash", "created_at", "producer"}``. ``hash`` is the same for re-deliveries of one
event: the de-duplication key. ``created_at`` is a Unix timestamp. Inventory events carry
``data.inventory`` ``{"product_id", "method", "value"[, "variant_id"]}``, ``value`` being
the change in stock (docs/facts-bigcommerce-webhooks.md): the product and the change are
kept, so the hub can tell its own writes' echoes from news.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from stockbridge.connectors.base import BadWebhook, Delivery
from stockbridge.domain.model import WebEvent, WebEventKind

__all__ = ["ADAPTER", "SCOPES", "SECRET_HEADER", "BadWebhook", "Webhooks", "parse_envelope"]

SECRET_HEADER = "X-Stockbridge-Secret"
MAX_BODY = 64 * 1024

SCOPES: dict[str, WebEventKind] = {
    "store/order/created": WebEventKind.ORDER,
    "store/order/updated": WebEventKind.ORDER,
    "store/order/statusUpdated": WebEventKind.ORDER,
    "store/product/created": WebEventKind.PRODUCT,
    "store/product/updated": WebEventKind.PRODUCT,
    "store/product/deleted": WebEventKind.PRODUCT,
    "store/product/inventory/updated": WebEventKind.INVENTORY,
    "store/sku/inventory/updated": WebEventKind.INVENTORY,
}


class _Inventory(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    product_id: int | None = None
    method: str | None = None
    value: int | None = None
    variant_id: int | None = None


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    id: int | str
    inventory: _Inventory | None = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    scope: str
    store_id: str | int
    data: _Data
    hash: str
    created_at: int
    producer: str = ""


def parse_envelope(body: bytes) -> WebEvent:
    """Parse one delivery. Raises BadWebhook for malformed, oversized or unknown input."""
    if len(body) > MAX_BODY:
        raise BadWebhook(f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit")
    try:
        raw: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadWebhook(f"body is not JSON we can read: {type(exc).__name__}") from None
    try:
        envelope = _Envelope.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadWebhook(f"{where}: {first['msg']}") from None
    kind = SCOPES.get(envelope.scope)
    if kind is None:
        raise BadWebhook(f"scope {envelope.scope!r} is not one Stockbridge subscribes to")
    if not envelope.hash or len(envelope.hash) > 200:
        raise BadWebhook("hash must be 1-200 characters")
    try:
        occurred_at = datetime.fromtimestamp(envelope.created_at, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadWebhook(f"created_at {envelope.created_at} is not a time") from None
    inventory = envelope.data.inventory if kind is WebEventKind.INVENTORY else None
    product = None
    if inventory is not None and inventory.product_id is not None:
        product = str(inventory.product_id)
    elif kind is WebEventKind.INVENTORY and envelope.data.type == "product":
        product = str(envelope.data.id)[:64]
    return WebEvent(
        kind=kind,
        resource_id=str(envelope.data.id)[:64],
        dedup_key=envelope.hash,
        occurred_at=occurred_at,
        scope=envelope.scope,
        product_id=product,
        change=None if inventory is None else inventory.value,
    )


class Webhooks:
    """The ``WebhookAdapter`` of the kind ``bigcommerce``."""

    kind = "bigcommerce"
    secret_key = "webhook_secret"
    headers = frozenset({SECRET_HEADER.lower()})

    def verify(self, delivery: Delivery, secret: str) -> bool:
        presented = delivery.headers.get(_SECRET, "")
        return bool(secret) and hmac.compare_digest(presented.encode(), secret.encode())

    def parse(self, delivery: Delivery) -> WebEvent:
        return parse_envelope(delivery.body)


_SECRET = SECRET_HEADER.lower()
ADAPTER = Webhooks()
