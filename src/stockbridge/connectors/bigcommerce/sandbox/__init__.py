"""A BigCommerce simulator that follows the public documentation, as strict as the partner.

Partner API under ``/stores/{hash}/...``: auth header, v3 paging meta, page limits,
batch limits (413 over a maximum), 422 with nothing applied for a bad item (``errors``
keyed ``items.N``), asynchronous inventory writes (visible to reads after a delay),
rate-limit headers on every answer and 429s over a per-store quota, v2 orders (204 on an
empty page, lines at 50 a page, status-only updates) and order statuses, webhooks
delivered to registered destinations with the hook's custom headers, retried with growing
gaps and deactivated after repeated failures; an inventory write through the API or the
control panel fires ``store/product/inventory/updated`` per product with the documented
``data.inventory`` (``product_id``, ``method``, ``value``: the change), the hub's own
writes included, as BigCommerce does (docs/facts-bigcommerce-webhooks.md). Destinations
must be HTTPS on port 443 unless the store was created with ``allow_insecure_webhooks``
(for loopback tests and the demo).

Fault injection per store: 5xx, latency, a dropped connection before anything is applied
(``drop``), and "applied, then the connection dropped" (``drop_after``).

Modules: ``state`` (stores, catalog, orders; the partner's time formats), ``catalog``
and ``orders`` (the partner routes), ``admin`` (``/admin/...``: create stores, seed
products and orders, change stock and order status, set faults, read counters),
``server`` (auth, limits, faults, webhook delivery), ``wire`` (answer shapes), ``apps``
(the single-click app: consent page, install redirect with a code, the token endpoint,
and the load / uninstall / remove_user callbacks fired with signed JWTs).
It imports nothing from the BigCommerce client it simulates.
"""

from stockbridge.connectors.bigcommerce.sandbox.apps import SApp, signed_payload
from stockbridge.connectors.bigcommerce.sandbox.server import BigCommerceSandbox, create_app
from stockbridge.connectors.bigcommerce.sandbox.state import (
    Faults,
    SHook,
    SOrder,
    SProduct,
    SStore,
    SUser,
    SVariant,
)

__all__ = [
    "BigCommerceSandbox",
    "Faults",
    "SApp",
    "SHook",
    "SOrder",
    "SProduct",
    "SStore",
    "SUser",
    "SVariant",
    "create_app",
    "signed_payload",
]
