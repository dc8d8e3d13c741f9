"""The BigCommerce sandbox's admin API (``/admin/...``, no auth, never rate limited).

POST /admin/stores                       {"store_hash", "access_token", "quota",
                                          "window_ms", "async_delay_ms",
                                          "allow_insecure_webhooks"}
POST /admin/stores/{hash}/products       {"products": [{"sku", "name", "price",
                                          "inventory_level", "tracking",
                                          "variants": [{"sku", ...}]}]}
POST /admin/stores/{hash}/orders         {"lines": [{"sku", "quantity", "price" (ex
                                          tax), "tax" (per unit)}], "status_id",
                                          "discount", "shipping", "shipping_tax",
                                          "email", "first_name", "last_name",
                                          "payment_method", "fulfilment" (shipping,
                                          pickup or digital)}
POST /admin/stores/{hash}/orders/{id}/refunds  {"items": [...], "reason"}
PUT  /admin/stores/{hash}/orders/{id}    {"status_id"}
PUT  /admin/stores/{hash}/stock          {"SKU": quantity, ...}
GET  /admin/stores/{hash}/stock          (``?settle=1`` applies pending writes)
POST /admin/stores/{hash}/faults         {"rate", "kinds", "latency_ms", "plan",
                                          "seed", "quota", "window_ms"}
GET  /admin/stores/{hash}/counters       calls per endpoint, hooks, deliveries
"""

from __future__ import annotations

import random
from collections import deque
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.connectors.bigcommerce.sandbox.catalog import INVENTORY_SCOPE, inventory_event
from stockbridge.connectors.bigcommerce.sandbox.consignments import FULFILMENTS
from stockbridge.connectors.bigcommerce.sandbox.orders import set_status
from stockbridge.connectors.bigcommerce.sandbox.refunds import refund_record
from stockbridge.connectors.bigcommerce.sandbox.state import (
    STOCK_RELEASED,
    Faults,
    SOrder,
    SProduct,
    SStore,
    SVariant,
    now,
    parse_when,
)
from stockbridge.connectors.bigcommerce.sandbox.wire import body_of, error, guarded

if TYPE_CHECKING:
    from stockbridge.connectors.bigcommerce.sandbox.server import BigCommerceSandbox

__all__ = ["admin_routes"]


def admin_routes(sb: BigCommerceSandbox) -> list[Route]:
    """The admin endpoints of ``sb``."""

    def admin_store(request: Request) -> SStore | None:
        return sb.stores.get(request.path_params["hash"])

    async def create_store(request: Request) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict) or not body.get("store_hash") or not body.get("access_token"):
            return error(422, "store_hash and access_token are required")
        store = SStore(
            hash=str(body["store_hash"]),
            token=str(body["access_token"]),
            quota=int(body.get("quota", 150)),
            window_ms=int(body.get("window_ms", 30_000)),
            async_delay_ms=int(body.get("async_delay_ms", 200)),
            allow_insecure_webhooks=bool(body.get("allow_insecure_webhooks", False)),
        )
        sb.stores[store.hash] = store
        return JSONResponse({"store_hash": store.hash}, status_code=201)

    async def add_products(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        specs = body.get("products") if isinstance(body, dict) else None
        if store is None or not isinstance(specs, list):
            return error(422, "unknown store, or no products list")
        created = []
        for spec in specs:
            product_id = next(sb.ids)
            tracking = spec.get("tracking", "variant" if spec.get("variants") else "product")
            variant_specs = spec.get("variants") or [
                {"sku": spec["sku"], "inventory_level": spec.get("inventory_level", 0)}
            ]
            variants = [
                SVariant(
                    id=next(sb.ids),
                    product_id=product_id,
                    sku=str(v["sku"]),
                    inventory_level=int(v.get("inventory_level", 0)),
                    price=str(v.get("price", spec.get("price", "10.00"))),
                )
                for v in variant_specs
            ]
            product = SProduct(
                id=product_id,
                name=str(spec.get("name", spec.get("sku", "Product"))),
                sku=str(spec.get("sku", variants[0].sku)),
                tracking=tracking,
                inventory_level=int(spec.get("inventory_level", 0)),
                price=str(spec.get("price", "10.00")),
                date_modified=now(),
                variants=variants,
            )
            store.add_product(product)
            created.append({"id": product.id, "variant_ids": [v.id for v in variants]})
        return JSONResponse({"created": created}, status_code=201)

    async def create_order(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict) or not isinstance(body.get("lines"), list):
            return error(422, "unknown store, or no lines list")
        fulfilment = body.get("fulfilment", "shipping")
        if fulfilment not in FULFILMENTS:
            return error(422, f"fulfilment must be one of {', '.join(FULFILMENTS)}")
        store.settle()
        skus = store.by_sku()
        order = SOrder(
            id=next(sb.ids),
            status_id=int(body.get("status_id", 11)),
            date_created=parse_when(str(body["date_created"])) if "date_created" in body else now(),
            date_modified=now(),
            lines=[],
            discount=str(body.get("discount", "0.0000")),
            shipping=str(body.get("shipping", "0.0000")),
            shipping_tax=str(body.get("shipping_tax", "0.0000")),
            coupon_discount=str(body.get("coupon_discount", "0.0000")),
            handling=str(body.get("handling", "0.0000")),
            wrapping=str(body.get("wrapping", "0.0000")),
            gift_certificate_amount=str(body.get("gift_certificate_amount", "0.0000")),
            store_credit_amount=str(body.get("store_credit_amount", "0.0000")),
            email=str(body.get("email", "")),
            first_name=str(body.get("first_name", "")),
            last_name=str(body.get("last_name", "")),
            payment_method=str(body.get("payment_method", "Credit Card")),
            fulfilment=fulfilment,
        )
        for n, line in enumerate(body["lines"]):
            product, variant = skus.get(line["sku"], (None, None))
            price = Decimal(str(line.get("price", "10.00")))
            tax = Decimal(str(line.get("tax", "0")))
            order.lines.append(
                {
                    "id": order.id * 1000 + n,
                    "order_id": order.id,
                    "product_id": product.id if product else 0,
                    "variant_id": variant.id if variant else 0,
                    "sku": line["sku"],
                    "name": product.name if product else line["sku"],
                    "quantity": int(line["quantity"]),
                    "price_ex_tax": f"{price:.4f}",
                    "price_tax": f"{tax:.4f}",
                    "price_inc_tax": f"{price + tax:.4f}",
                }
            )
        store.orders[order.id] = order
        if order.status_id not in STOCK_RELEASED:
            store.move_stock(order, -1)
        sb.emit(store, "store/order/created", {"type": "order", "id": order.id})
        return JSONResponse(order.as_json(), status_code=201)

    async def order_status(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict):
            return error(422, "unknown store or bad body")
        order = store.orders.get(int(request.path_params["id"]))
        if order is None:
            return error(404, "Order not found")
        set_status(sb, store, order, int(body["status_id"]))
        return JSONResponse(order.as_json())

    async def refund(request: Request) -> Response:
        """Record a refund as the store does once the payment provider paid it back, in
        the shape ``GET .../payment_actions/refunds`` serves (``refunds.refund_record``).
        ``{"items": [{"item_type", "item_id", "quantity" | "amount"}], "reason"}``; the
        store works out the money as a refund quote would, unless ``total_amount`` /
        ``total_tax`` are given (seeding may plant a refund the store itself would
        refuse). The order becomes Partially Refunded, or Refunded once refunds reach
        its total (stock returned)."""
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return error(422, "unknown store, or no items list")
        order = store.orders.get(int(request.path_params["id"]))
        if order is None:
            return error(404, "Order not found")
        try:
            record = refund_record(order, body, next(sb.ids), next(sb.ids))
        except (InvalidOperation, AttributeError, TypeError, ValueError) as exc:
            return error(422, f"bad refund: {exc}")
        order.refunds.append(record)
        money = order.money()
        full = money["refunded_amount"] >= money["total_inc_tax"]
        set_status(sb, store, order, 4 if full else 14)
        return JSONResponse({"data": record, "meta": {}}, status_code=201)

    async def set_stock(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict):
            return error(422, "unknown store or bad body")
        store.settle(everything=True)
        skus = store.by_sku()
        for sku, quantity in body.items():
            product, variant = skus[sku]
            if product.tracking == "product":
                change = int(quantity) - product.inventory_level
                product.inventory_level = int(quantity)
            else:
                change = int(quantity) - variant.inventory_level
                variant.inventory_level = int(quantity)
            product.date_modified = now()  # an edit in the control panel modifies it
            sb.emit(store, INVENTORY_SCOPE, inventory_event(product.id, "relative", change))
        return JSONResponse(store.stock())

    async def stock(request: Request) -> Response:
        store = admin_store(request)
        if store is None:
            return error(404, "Store not found")
        store.settle(everything=request.query_params.get("settle") == "1")
        return JSONResponse(store.stock())

    async def catalog(request: Request) -> Response:
        """Every product by SKU as a merchant sees it: name, price, visibility, stock."""
        store = admin_store(request)
        if store is None:
            return error(404, "Store not found")
        store.settle(everything=True)
        return JSONResponse(
            {
                p.sku: {
                    "id": p.id,
                    "name": p.name,
                    "price": p.price,
                    "is_visible": p.is_visible,
                    "inventory_level": p.inventory_level,
                    "inventory_tracking": p.tracking,
                    "weight": p.weight,
                }
                for p in store.products.values()
            }
        )

    async def faults(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict):
            return error(422, "unknown store or bad body")
        store.faults = Faults(
            rate=float(body.get("rate", 0.0)),
            kinds=tuple(body.get("kinds", ["5xx"])),
            latency_ms=int(body.get("latency_ms", 0)),
            planned=deque(body.get("plan", [])),
            rng=random.Random(body.get("seed", 0)),
        )
        if "quota" in body:
            store.quota = int(body["quota"])
        if "window_ms" in body:
            store.window_ms = int(body["window_ms"])
        return JSONResponse({"ok": True})

    async def counters(request: Request) -> Response:
        store = admin_store(request)
        if store is None:
            return error(404, "Store not found")
        span = (store.last_call or 0) - (store.first_call or 0)
        return JSONResponse(
            {
                "calls": dict(store.counters),
                "active_seconds": span,
                "hooks": [h.as_json() for h in store.hooks.values()],
                "deliveries": dict(sb.deliveries),
            }
        )

    store_path = "/admin/stores/{hash}"
    return [
        Route("/admin/stores", guarded(create_store), methods=["POST"]),
        Route(f"{store_path}/products", guarded(add_products), methods=["POST"]),
        Route(f"{store_path}/orders", guarded(create_order), methods=["POST"]),
        Route(f"{store_path}/orders/{{id:int}}", guarded(order_status), methods=["PUT"]),
        Route(f"{store_path}/orders/{{id:int}}/refunds", guarded(refund), methods=["POST"]),
        Route(f"{store_path}/stock", guarded(set_stock), methods=["PUT"]),
        Route(f"{store_path}/stock", guarded(stock), methods=["GET"]),
        Route(f"{store_path}/faults", guarded(faults), methods=["POST"]),
        Route(f"{store_path}/catalog", guarded(catalog), methods=["GET"]),
        Route(f"{store_path}/counters", guarded(counters), methods=["GET"]),
    ]
