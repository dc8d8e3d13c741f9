"""A BigCommerce simulator that follows the public documentation, as strict as the partner.

Partner API under ``/stores/{hash}/...``: auth header, v3 paging meta, page limits,
batch limits (413 over a maximum), 422 with nothing applied for a bad item (``errors``
keyed ``items.N``), asynchronous inventory writes (visible to reads after a delay),
rate-limit headers on every answer and 429s over a per-store quota, v2 orders (204 on an
empty page, lines at 50 a page, status-only updates), webhooks delivered to registered
destinations with the hook's custom headers, retried with growing gaps and deactivated
after repeated failures. Destinations must be HTTPS on port 443 unless the store was
created with ``allow_insecure_webhooks`` (for loopback tests and the demo).

Fault injection per store: 5xx, latency, a dropped connection before anything is applied
(``drop``), and "applied, then the connection dropped" (``drop_after``).

Admin API under ``/admin/...`` (never rate limited): create stores, seed products and
orders, change stock and order status, set faults, read stock and counters.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.connectors.bigcommerce.mapping import parse_time

__all__ = ["BigCommerceSandbox", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_PRODUCTS_PAGE = 250
MAX_ORDERS_PAGE = 250
MAX_LINES_PAGE = 50
MAX_ADJUSTMENTS = 2000
MAX_PRODUCT_BATCH = 10
MAX_VARIANT_BATCH = 50
RETRY_GAPS = (60, 180, 600, 1800, 3600, 7200)  # seconds; scaled by ``time_scale``


def _now() -> datetime:
    return datetime.now(UTC)


def _error(status: int, title: str, errors: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "status": status,
        "title": title,
        "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


@dataclass
class SVariant:
    id: int
    product_id: int
    sku: str
    inventory_level: int
    price: str


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

    def as_json(self, with_variants: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "sku": self.sku,
            "inventory_tracking": self.tracking,
            "inventory_level": self.inventory_level,
            "price": float(self.price),
            "date_modified": self.date_modified.isoformat(),
            "base_variant_id": self.variants[0].id if self.variants else None,
        }
        if with_variants:
            body["variants"] = [
                {
                    "id": v.id,
                    "product_id": v.product_id,
                    "sku": v.sku,
                    "inventory_level": v.inventory_level,
                    "price": float(v.price),
                }
                for v in self.variants
            ]
        return body


@dataclass
class SOrder:
    id: int
    status_id: int
    date_created: datetime
    date_modified: datetime
    lines: list[dict[str, Any]]
    discount: str = "0.0000"
    shipping: str = "0.0000"

    def as_json(self) -> dict[str, Any]:
        total = sum(float(line["price_inc_tax"]) * line["quantity"] for line in self.lines)
        return {
            "id": self.id,
            "status_id": self.status_id,
            "date_created": format_datetime(self.date_created),
            "date_modified": format_datetime(self.date_modified),
            "currency_code": "USD",
            "total_inc_tax": f"{total:.4f}",
            "shipping_cost_inc_tax": self.shipping,
            "discount_amount": self.discount,
            "coupon_discount": "0.0000",
            "billing_address": {"email": f"customer{self.id}@example.com"},
        }


@dataclass
class SHook:
    id: int
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str]
    failures: int = 0


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

    def by_sku(self) -> dict[str, tuple[SProduct, SVariant]]:
        return self.sku_index

    def add_product(self, product: SProduct) -> None:
        self.products[product.id] = product
        for variant in product.variants:
            self.variants[variant.id] = variant
            if variant.sku:
                self.sku_index[variant.sku] = (product, variant)

    def settle(self, everything: bool = False) -> None:
        """Apply asynchronous inventory writes whose time has come."""
        now = time.monotonic()
        due = [p for p in self.pending if everything or p[0] <= now]
        self.pending = [p for p in self.pending if not (everything or p[0] <= now)]
        for _, items in due:
            for kind, ident, quantity in items:
                if kind == "product":
                    self.products[ident].inventory_level = quantity
                    self.products[ident].date_modified = _now()
                else:
                    self.variants[ident].inventory_level = quantity
                    self.products[self.variants[ident].product_id].date_modified = _now()

    def stock(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for product in self.products.values():
            if product.tracking == "product":
                out[product.sku] = product.inventory_level
            elif product.tracking == "variant":
                for variant in product.variants:
                    out[variant.sku] = variant.inventory_level
        return out


class BigCommerceSandbox:
    """The simulator's state and its ASGI app (``.app``). ``time_scale`` shrinks webhook
    retry gaps (1.0: the documented minutes and hours)."""

    def __init__(self, *, time_scale: float = 1.0) -> None:
        self.stores: dict[str, SStore] = {}
        self.ids = itertools.count(101)
        self.time_scale = time_scale
        self.lock = threading.Lock()
        self.deliveries: Counter[str] = Counter()
        self._outbox: deque[tuple[float, SStore, SHook, bytes, int]] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._sender = threading.Thread(target=self._deliver_loop, name="bc-webhooks", daemon=True)
        self._sender.start()
        self.app = _FaultsAndLimits(self, _routes(self))

    def close(self) -> None:
        self._stop = True
        self._wake.set()

    # webhooks ---------------------------------------------------------------

    def emit(self, store: SStore, scope: str, resource: dict[str, Any]) -> None:
        for hook in list(store.hooks.values()):
            if hook.is_active and hook.scope == scope:
                body = json.dumps(
                    {
                        "scope": scope,
                        "store_id": "1001",
                        "data": resource,
                        "hash": uuid.uuid4().hex,
                        "created_at": int(time.time()),
                        "producer": f"stores/{store.hash}",
                    }
                ).encode()
                with self.lock:
                    self._outbox.append((time.monotonic(), store, hook, body, 0))
                self._wake.set()

    def _deliver_loop(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self._stop:
                self._wake.wait(0.05)
                self._wake.clear()
                now = time.monotonic()
                with self.lock:
                    due = [d for d in self._outbox if d[0] <= now]
                    for d in due:
                        self._outbox.remove(d)
                for _, store, hook, body, attempt in due:
                    if not hook.is_active:
                        continue
                    ok = False
                    try:
                        headers = {"Content-Type": "application/json", **hook.headers}
                        ok = client.post(hook.destination, content=body, headers=headers).is_success
                    except httpx.HTTPError:
                        ok = False
                    self.deliveries["ok" if ok else "failed"] += 1
                    if ok:
                        hook.failures = 0
                        continue
                    hook.failures += 1
                    if attempt + 1 >= len(RETRY_GAPS):
                        hook.is_active = False  # BigCommerce deactivates a failing hook
                        self.deliveries["deactivated"] += 1
                        continue
                    gap = RETRY_GAPS[attempt] * self.time_scale
                    with self.lock:
                        self._outbox.append(
                            (time.monotonic() + gap, store, hook, body, attempt + 1)
                        )


class _FaultsAndLimits:
    """ASGI middleware in front of the partner API: auth, rate limits, faults, counters."""

    def __init__(self, sandbox: BigCommerceSandbox, app: Starlette) -> None:
        self.sandbox = sandbox
        self.inner = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/stores/"):
            await self.inner(scope, receive, send)
            return
        store = self.sandbox.stores.get(path.split("/")[2])
        if store is None:
            await _error(404, "Store not found")(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if not hmac.compare_digest(headers.get("x-auth-token", ""), store.token):
            await _error(401, "Unauthorized: missing or wrong X-Auth-Token")(scope, receive, send)
            return
        endpoint = f"{scope['method']} /" + "/".join(
            "{id}" if part.isdigit() else part for part in path.split("/")[3:]
        )
        store.counters[endpoint] += 1
        store.counters["requests"] += 1
        now = time.monotonic()
        store.first_call = store.first_call or now
        store.last_call = now
        if now - store.window_start >= store.window_ms / 1000:
            store.window_start, store.window_used = now, 0
        reset_ms = max(0, int((store.window_start + store.window_ms / 1000 - now) * 1000))
        limit_headers = [
            (b"x-rate-limit-time-window-ms", str(store.window_ms).encode()),
            (b"x-rate-limit-time-reset-ms", str(reset_ms).encode()),
            (b"x-rate-limit-requests-quota", str(store.quota).encode()),
        ]
        if store.window_used >= store.quota:
            store.counters["429"] += 1
            response = _error(429, "Too many requests")
            response.headers["X-Retry-After"] = str(max(1, reset_ms // 1000))
            for name, value in limit_headers:
                response.headers[name.decode()] = value.decode()
            response.headers["X-Rate-Limit-Requests-Left"] = "0"
            await response(scope, receive, send)
            return
        store.window_used += 1
        limit_headers.append(
            (b"x-rate-limit-requests-left", str(store.quota - store.window_used).encode())
        )
        fault = store.faults.draw()
        if fault:
            store.counters[f"fault:{fault}"] += 1
        if fault == "latency" or store.faults.latency_ms:
            await asyncio.sleep(max(store.faults.latency_ms, 50) / 1000)
        if fault == "5xx":
            await _error(503, "Service Unavailable")(scope, receive, send)
            return
        if fault == "drop":
            await _drop(send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *limit_headers]
                if fault == "drop_after":
                    await _drop(send)
                    raise ConnectionAbortedError("sandbox: applied, then dropped the connection")
            await send(message)

        await self.inner(scope, receive, send_with_limits)


async def _drop(send: Send) -> None:
    """Start an answer that promises a body, then break off: the client sees the
    connection close mid-response (uvicorn closes it when the app raises)."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]}
    )
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    raise ConnectionAbortedError("sandbox: connection dropped")


def _routes(sb: BigCommerceSandbox) -> Starlette:
    def store_of(request: Request) -> SStore:
        return sb.stores[request.path_params["hash"]]

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw or b"null")
        except json.JSONDecodeError:
            return None

    def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
        value = request.query_params.get(name)
        if value is None:
            return default
        number = int(value)  # ValueError -> 422 in the wrapper
        if number < 1 or (maximum is not None and number > maximum):
            raise _Unprocessable(name, f"must be between 1 and {maximum}")
        return number

    # catalog ---------------------------------------------------------------

    async def list_products(request: Request) -> Response:
        store = store_of(request)
        store.settle()
        limit = int_param(request, "limit", 50, MAX_PRODUCTS_PAGE)
        page = int_param(request, "page", 1)
        chosen = list(store.products.values())
        since = request.query_params.get("date_modified:min")
        if since:
            moment = parse_time(since)
            chosen = [p for p in chosen if p.date_modified >= moment]
        skus = request.query_params.get("sku:in")
        if skus:
            wanted = set(skus.split(","))
            chosen = [p for p in chosen if p.sku in wanted]
        if request.query_params.get("sort") == "date_modified":
            chosen.sort(key=lambda p: (p.date_modified, p.id))
            if request.query_params.get("direction") == "desc":
                chosen.reverse()
        with_variants = "variants" in request.query_params.get("include", "").split(",")
        return _paged(chosen, page, limit, lambda p: p.as_json(with_variants))

    async def list_variants(request: Request) -> Response:
        store = store_of(request)
        store.settle()
        limit = int_param(request, "limit", 50, MAX_PRODUCTS_PAGE)
        page = int_param(request, "page", 1)
        chosen = list(store.variants.values())
        skus = request.query_params.get("sku:in")
        if skus:
            wanted = set(skus.split(","))
            chosen = [v for v in chosen if v.sku in wanted]
        return _paged(
            chosen,
            page,
            limit,
            lambda v: {
                "id": v.id,
                "product_id": v.product_id,
                "sku": v.sku,
                "inventory_level": v.inventory_level,
                "price": float(v.price),
            },
        )

    async def update_variants(request: Request) -> Response:
        store = store_of(request)
        body = await body_of(request)
        if not isinstance(body, list):
            return _error(422, "Body must be a list of variants")
        if len(body) > MAX_VARIANT_BATCH:
            return _error(413, f"At most {MAX_VARIANT_BATCH} variants per request")
        errors = {
            f"{i}.id": "variant not found"
            for i, item in enumerate(body)
            if not isinstance(item, dict) or item.get("id") not in store.variants
        }
        if errors:
            return _error(422, "Invalid variants", errors)
        store.settle()
        for item in body:
            variant = store.variants[item["id"]]
            if "price" in item:
                variant.price = str(item["price"])
            if "inventory_level" in item:  # a catalog write: applied at once, unlike adjust
                variant.inventory_level = int(item["inventory_level"])
                store.products[variant.product_id].date_modified = _now()
                store.counters["variant_inventory_updates"] += 1
        return JSONResponse({"data": body, "meta": {}})

    async def update_products(request: Request) -> Response:
        store = store_of(request)
        body = await body_of(request)
        if not isinstance(body, list):
            return _error(422, "Body must be a list of products")
        if len(body) > MAX_PRODUCT_BATCH:
            return _error(413, f"At most {MAX_PRODUCT_BATCH} products per request")
        errors = {
            f"{i}.id": "product not found"
            for i, item in enumerate(body)
            if not isinstance(item, dict) or item.get("id") not in store.products
        }
        if errors:
            return _error(422, "Invalid products", errors)
        for item in body:
            product = store.products[item["id"]]
            product.name = str(item.get("name", product.name))
            product.price = str(item.get("price", product.price))
            product.date_modified = _now()
        return JSONResponse({"data": body, "meta": {}})

    # inventory ---------------------------------------------------------------

    async def adjust(request: Request) -> Response:
        store = store_of(request)
        relative = request.url.path.endswith("/relative")
        body = await body_of(request)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return _error(422, "Body must be an object with an items list")
        items = body["items"]
        if len(items) > MAX_ADJUSTMENTS:
            return _error(413, f"At most {MAX_ADJUSTMENTS} items per request")
        store.settle()
        errors: dict[str, str] = {}
        planned: list[tuple[str, int, int]] = []
        skus = store.by_sku()
        for i, item in enumerate(items):
            problem, target = _address(store, skus, item)
            if problem:
                errors[f"items.{i}"] = problem
                continue
            assert target is not None
            kind, ident = target
            current = (
                store.products[ident].inventory_level
                if kind == "product"
                else store.variants[ident].inventory_level
            )
            quantity = current + item["quantity"] if relative else item["quantity"]
            planned.append((kind, ident, quantity))
        if errors:
            return _error(422, "Some items could not be adjusted; nothing was applied", errors)
        store.pending.append((time.monotonic() + store.async_delay_ms / 1000, planned))
        store.counters["items_updated"] += len(planned)
        store.counters["largest_batch"] = max(store.counters["largest_batch"], len(planned))
        if store.hooks:
            touched = {
                ident if kind == "product" else store.variants[ident].product_id
                for kind, ident, _ in planned
            }
            for product_id in sorted(touched):
                sb.emit(
                    store, "store/product/inventory/updated", {"type": "product", "id": product_id}
                )
        return JSONResponse({"transaction_id": str(uuid.uuid4())})

    # orders (v2) ---------------------------------------------------------------

    async def list_orders(request: Request) -> Response:
        store = store_of(request)
        limit = int_param(request, "limit", 50, MAX_ORDERS_PAGE)
        page = int_param(request, "page", 1)
        chosen = list(store.orders.values())
        since = request.query_params.get("min_date_modified")
        if since:
            moment = parse_time(since)
            chosen = [o for o in chosen if o.date_modified >= moment]
        if request.query_params.get("sort") == "date_modified:asc":
            chosen.sort(key=lambda o: (o.date_modified, o.id))
        window = chosen[(page - 1) * limit : page * limit]
        if not window:
            return Response(status_code=204)
        return JSONResponse([o.as_json() for o in window])

    async def get_order(request: Request) -> Response:
        order = store_of(request).orders.get(int(request.path_params["id"]))
        if order is None:
            return _error(404, "Order not found")
        return JSONResponse(order.as_json())

    async def order_products(request: Request) -> Response:
        order = store_of(request).orders.get(int(request.path_params["id"]))
        if order is None:
            return _error(404, "Order not found")
        limit = int_param(request, "limit", 50, MAX_LINES_PAGE)
        page = int_param(request, "page", 1)
        window = order.lines[(page - 1) * limit : page * limit]
        if not window:
            return Response(status_code=204)
        return JSONResponse(window)

    async def update_order(request: Request) -> Response:
        store = store_of(request)
        order = store.orders.get(int(request.path_params["id"]))
        if order is None:
            return _error(404, "Order not found")
        body = await body_of(request)
        if not isinstance(body, dict):
            return _error(400, "Body must be an object")
        if "products" in body:
            # As documented: re-sent lines are recalculated and discounts dropped.
            store.counters["lines_rewritten"] += 1
            order.discount = "0.0000"
        if "status_id" in body:
            status = body["status_id"]
            if not isinstance(status, int) or not 0 <= status <= 14:
                return _error(422, "Invalid status", {"status_id": "must be 0-14"})
            _set_status(sb, store, order, status)
        return JSONResponse(order.as_json())

    # hooks -----------------------------------------------------------------------

    def hook_json(hook: SHook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "scope": hook.scope,
            "destination": hook.destination,
            "is_active": hook.is_active,
            "headers": hook.headers,
        }

    async def list_hooks(request: Request) -> Response:
        hooks = list(store_of(request).hooks.values())
        return JSONResponse({"data": [hook_json(h) for h in hooks], "meta": {}})

    async def create_hook(request: Request) -> Response:
        store = store_of(request)
        body = await body_of(request)
        if not isinstance(body, dict):
            return _error(422, "Body must be an object")
        problems = _hook_problems(store, body)
        if problems:
            return _error(422, "Invalid webhook", problems)
        hook = SHook(
            id=next(sb.ids),
            scope=body["scope"],
            destination=body["destination"],
            is_active=bool(body.get("is_active", True)),
            headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
        )
        store.hooks[hook.id] = hook
        return JSONResponse({"data": hook_json(hook), "meta": {}})

    async def update_hook(request: Request) -> Response:
        store = store_of(request)
        hook = store.hooks.get(int(request.path_params["id"]))
        if hook is None:
            return _error(404, "Webhook not found")
        body = await body_of(request)
        if not isinstance(body, dict):
            return _error(422, "Body must be an object")
        if "is_active" in body:
            hook.is_active = bool(body["is_active"])
            hook.failures = 0
        if isinstance(body.get("headers"), dict):
            hook.headers = {str(k): str(v) for k, v in body["headers"].items()}
        return JSONResponse({"data": hook_json(hook), "meta": {}})

    async def delete_hook(request: Request) -> Response:
        store_of(request).hooks.pop(int(request.path_params["id"]), None)
        return Response(status_code=204)

    # admin -----------------------------------------------------------------------

    async def admin_create_store(request: Request) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict) or not body.get("store_hash") or not body.get("access_token"):
            return _error(422, "store_hash and access_token are required")
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

    def admin_store(request: Request) -> SStore | None:
        return sb.stores.get(request.path_params["hash"])

    async def admin_products(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if (
            store is None
            or not isinstance(body, dict)
            or not isinstance(body.get("products"), list)
        ):
            return _error(422, "unknown store, or no products list")
        created = []
        for spec in body["products"]:
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
                date_modified=_now(),
                variants=variants,
            )
            store.add_product(product)
            created.append({"id": product.id, "variant_ids": [v.id for v in variants]})
        return JSONResponse({"created": created}, status_code=201)

    async def admin_create_order(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict) or not isinstance(body.get("lines"), list):
            return _error(422, "unknown store, or no lines list")
        store.settle()
        skus = store.by_sku()
        order = SOrder(
            id=next(sb.ids),
            status_id=int(body.get("status_id", 11)),
            date_created=_now(),
            date_modified=_now(),
            lines=[],
            discount=str(body.get("discount", "0.0000")),
        )
        for n, line in enumerate(body["lines"]):
            product, variant = skus.get(line["sku"], (None, None))
            order.lines.append(
                {
                    "id": order.id * 1000 + n,
                    "order_id": order.id,
                    "product_id": product.id if product else 0,
                    "variant_id": variant.id if variant else 0,
                    "sku": line["sku"],
                    "name": product.name if product else line["sku"],
                    "quantity": int(line["quantity"]),
                    "price_inc_tax": str(line.get("price", "10.0000")),
                }
            )
        store.orders[order.id] = order
        if order.status_id not in (0, 4, 5, 6):
            _move_stock(store, order, -1)
        sb.emit(store, "store/order/created", {"type": "order", "id": order.id})
        return JSONResponse(order.as_json(), status_code=201)

    async def admin_order_status(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict):
            return _error(422, "unknown store or bad body")
        order = store.orders.get(int(request.path_params["id"]))
        if order is None:
            return _error(404, "Order not found")
        _set_status(sb, store, order, int(body["status_id"]))
        return JSONResponse(order.as_json())

    async def admin_set_stock(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict):
            return _error(422, "unknown store or bad body")
        store.settle(everything=True)
        skus = store.by_sku()
        for sku, quantity in body.items():
            product, variant = skus[sku]
            if product.tracking == "product":
                product.inventory_level = int(quantity)
            else:
                variant.inventory_level = int(quantity)
            sb.emit(store, "store/product/inventory/updated", {"type": "product", "id": product.id})
        return JSONResponse(store.stock())

    async def admin_stock(request: Request) -> Response:
        store = admin_store(request)
        if store is None:
            return _error(404, "Store not found")
        store.settle(everything=request.query_params.get("settle") == "1")
        return JSONResponse(store.stock())

    async def admin_faults(request: Request) -> Response:
        store = admin_store(request)
        body = await body_of(request)
        if store is None or not isinstance(body, dict):
            return _error(422, "unknown store or bad body")
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

    async def admin_counters(request: Request) -> Response:
        store = admin_store(request)
        if store is None:
            return _error(404, "Store not found")
        span = (store.last_call or 0) - (store.first_call or 0)
        return JSONResponse(
            {
                "calls": dict(store.counters),
                "active_seconds": span,
                "hooks": [hook_json(h) for h in store.hooks.values()],
                "deliveries": dict(sb.deliveries),
            }
        )

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except _Unprocessable as exc:
                return _error(422, "Invalid query parameter", {exc.field: exc.message})
            except (ValueError, KeyError, TypeError) as exc:
                return _error(400, f"Bad request: {exc}")

        return run

    base = "/stores/{hash}"
    routes = [
        Route(f"{base}/v3/catalog/products", guarded(list_products), methods=["GET"]),
        Route(f"{base}/v3/catalog/products", guarded(update_products), methods=["PUT"]),
        Route(f"{base}/v3/catalog/variants", guarded(list_variants), methods=["GET"]),
        Route(f"{base}/v3/catalog/variants", guarded(update_variants), methods=["PUT"]),
        Route(f"{base}/v3/inventory/adjustments/absolute", guarded(adjust), methods=["PUT"]),
        Route(f"{base}/v3/inventory/adjustments/relative", guarded(adjust), methods=["POST"]),
        Route(f"{base}/v2/orders", guarded(list_orders), methods=["GET"]),
        Route(f"{base}/v2/orders/{{id:int}}", guarded(get_order), methods=["GET"]),
        Route(f"{base}/v2/orders/{{id:int}}", guarded(update_order), methods=["PUT"]),
        Route(f"{base}/v2/orders/{{id:int}}/products", guarded(order_products), methods=["GET"]),
        Route(f"{base}/v3/hooks", guarded(list_hooks), methods=["GET"]),
        Route(f"{base}/v3/hooks", guarded(create_hook), methods=["POST"]),
        Route(f"{base}/v3/hooks/{{id:int}}", guarded(update_hook), methods=["PUT"]),
        Route(f"{base}/v3/hooks/{{id:int}}", guarded(delete_hook), methods=["DELETE"]),
        Route("/admin/stores", guarded(admin_create_store), methods=["POST"]),
        Route("/admin/stores/{hash}/products", guarded(admin_products), methods=["POST"]),
        Route("/admin/stores/{hash}/orders", guarded(admin_create_order), methods=["POST"]),
        Route("/admin/stores/{hash}/orders/{id:int}", guarded(admin_order_status), methods=["PUT"]),
        Route("/admin/stores/{hash}/stock", guarded(admin_set_stock), methods=["PUT"]),
        Route("/admin/stores/{hash}/stock", guarded(admin_stock), methods=["GET"]),
        Route("/admin/stores/{hash}/faults", guarded(admin_faults), methods=["POST"]),
        Route("/admin/stores/{hash}/counters", guarded(admin_counters), methods=["GET"]),
    ]
    return Starlette(routes=routes)


class _Unprocessable(Exception):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def _paged(
    items: list[Any], page: int, limit: int, render: Callable[[Any], dict[str, Any]]
) -> JSONResponse:
    total = len(items)
    pages = max(1, -(-total // limit))
    window = items[(page - 1) * limit : page * limit]
    return JSONResponse(
        {
            "data": [render(item) for item in window],
            "meta": {
                "pagination": {
                    "total": total,
                    "count": len(window),
                    "per_page": limit,
                    "current_page": page,
                    "total_pages": pages,
                    "links": {"current": f"?page={page}&limit={limit}"},
                }
            },
        }
    )


def _address(
    store: SStore, skus: dict[str, tuple[SProduct, SVariant]], item: Any
) -> tuple[str | None, tuple[str, int] | None]:
    """Validate one adjustment item the way BigCommerce does; returns (problem, target)."""
    if not isinstance(item, dict):
        return "item must be an object", None
    if item.get("location_id") != 1:
        return f"location {item.get('location_id')} does not exist", None
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        return "quantity must be a whole number, 0 or more", None
    if "product_id" in item:
        product = store.products.get(item["product_id"])
        if product is None:
            return f"product {item['product_id']} not found", None
        if product.tracking != "product":
            return f"product {product.id} is not tracked by product", None
        return None, ("product", product.id)
    if "variant_id" in item:
        variant = store.variants.get(item["variant_id"])
        if variant is None:
            return f"variant {item['variant_id']} not found", None
        product = store.products[variant.product_id]
        if product.tracking != "variant":
            return f"variant {variant.id} belongs to a product tracked by {product.tracking}", None
        return None, ("variant", variant.id)
    if "sku" in item:
        found = skus.get(item["sku"])
        if found is None:
            return f"sku {item['sku']} not found", None
        product, variant = found
        if product.tracking == "product":
            return None, ("product", product.id)
        if product.tracking == "variant":
            return None, ("variant", variant.id)
        return f"sku {item['sku']} is not inventory tracked", None
    return "one of product_id, variant_id or sku is required", None


def _hook_problems(store: SStore, body: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not isinstance(body.get("scope"), str) or not body["scope"].startswith("store/"):
        problems["scope"] = "a store/... scope is required"
    destination = body.get("destination")
    if not isinstance(destination, str):
        problems["destination"] = "required"
    else:
        parts = urlsplit(destination)
        secure = parts.scheme == "https" and (parts.port in (None, 443))
        if not secure and not store.allow_insecure_webhooks:
            problems["destination"] = "must be an HTTPS URL on port 443"
    headers = body.get("headers")
    if headers is not None and not isinstance(headers, dict):
        problems["headers"] = "must be an object"
    return problems


def _move_stock(store: SStore, order: SOrder, sign: int) -> None:
    skus = store.by_sku()
    for line in order.lines:
        found = skus.get(line["sku"])
        if found is None:
            continue
        product, variant = found
        if product.tracking == "product":
            product.inventory_level += sign * line["quantity"]
        elif product.tracking == "variant":
            variant.inventory_level += sign * line["quantity"]


def _set_status(sb: BigCommerceSandbox, store: SStore, order: SOrder, status: int) -> None:
    holds = order.status_id not in (0, 4, 5, 6)
    will_hold = status not in (0, 4, 5, 6)
    if holds and not will_hold:
        _move_stock(store, order, +1)  # cancelling returns the stock
    elif will_hold and not holds:
        _move_stock(store, order, -1)
    order.status_id = status
    order.date_modified = _now()
    sb.emit(store, "store/order/statusUpdated", {"type": "order", "id": order.id})
    sb.emit(store, "store/order/updated", {"type": "order", "id": order.id})


def create_app(*, time_scale: float = 1.0) -> BigCommerceSandbox:
    return BigCommerceSandbox(time_scale=time_scale)
