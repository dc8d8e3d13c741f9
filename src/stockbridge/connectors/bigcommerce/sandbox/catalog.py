"""The BigCommerce sandbox's catalog and inventory routes (v3).

``GET /v3/catalog/products`` (filters ``id``, ``id:in``, ``sku``, ``sku:in``,
``date_modified:min``; ``include=variants``; ``sort``), ``GET /v3/catalog/products/{id}``,
``GET /v3/catalog/variants`` (filters ``id``, ``id:in``, ``sku``, ``sku:in``,
``product_id:in``), the batch writes ``PUT /v3/catalog/products`` (at most 10; name,
price, ``is_visible``, ``inventory_tracking``) and
``PUT /v3/catalog/variants`` (at most 50), and the asynchronous inventory adjustments
(at most 2,000 items; 422 with nothing applied when any item is refused), and
``POST /v3/catalog/products`` (one product a call; ``name``, ``type``, ``weight`` and
``price`` required, 422 naming the field; 409 for a SKU or name another product has).
Batch writes check every item before applying any (422 naming ``{index}.{field}``).
See docs/facts-bigcommerce-catalog.md for the sources.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.connectors.bigcommerce.sandbox.state import SProduct, SStore, SVariant, now
from stockbridge.connectors.bigcommerce.sandbox.state import parse_when as _parse_when
from stockbridge.connectors.bigcommerce.sandbox.wire import (
    Unprocessable,
    body_of,
    error,
    guarded,
    int_list,
    int_param,
    paged,
)

if TYPE_CHECKING:
    from stockbridge.connectors.bigcommerce.sandbox.server import BigCommerceSandbox

__all__ = ["catalog_routes"]

MAX_PRODUCTS_PAGE = 250
MAX_ADJUSTMENTS = 2000
MAX_PRODUCT_BATCH = 10
MAX_VARIANT_BATCH = 50
MAX_NAME = 250
MAX_SKU = 255


def parse_when(request: Request, name: str) -> Any:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return _parse_when(value)
    except ValueError as exc:
        raise Unprocessable(name, str(exc)) from None


INVENTORY_SCOPE = "store/product/inventory/updated"


def inventory_event(product_id: int, method: str, change: int) -> dict[str, Any]:
    """``data`` of an inventory webhook as BigCommerce documents it (the fixture
    tests/fixtures/bigcommerce/webhook_product_inventory_updated.json, with its source)."""
    return {
        "type": "product",
        "id": product_id,
        "inventory": {"product_id": product_id, "method": method, "value": change},
    }


def catalog_routes(sb: BigCommerceSandbox, base: str) -> list[Route]:
    """The catalog and inventory endpoints under ``base`` (``/stores/{hash}``)."""

    def store_of(request: Request) -> SStore:
        return sb.stores[request.path_params["hash"]]

    async def list_products(request: Request) -> Response:
        store = store_of(request)
        store.settle()
        limit = int_param(request, "limit", 50, MAX_PRODUCTS_PAGE)
        page = int_param(request, "page", 1)
        chosen = list(store.products.values())
        since = parse_when(request, "date_modified:min")
        if since is not None:
            chosen = [p for p in chosen if p.date_modified >= since]
        ids = int_list(request, "id:in") or int_list(request, "id")
        if ids is not None:
            chosen = [p for p in chosen if p.id in ids]
        skus = _skus(request)
        if skus is not None:
            chosen = [p for p in chosen if p.sku in skus]
        if request.query_params.get("sort") == "date_modified":
            chosen.sort(key=lambda p: (p.date_modified, p.id))
            if request.query_params.get("direction") == "desc":
                chosen.reverse()
        with_variants = _includes_variants(request)
        return paged(chosen, page, limit, lambda p: p.as_json(with_variants))

    async def get_product(request: Request) -> Response:
        store = store_of(request)
        store.settle()
        product = store.products.get(int(request.path_params["id"]))
        if product is None:
            return error(404, "The requested product was not found.")
        return JSONResponse({"data": product.as_json(_includes_variants(request)), "meta": {}})

    async def list_variants(request: Request) -> Response:
        store = store_of(request)
        store.settle()
        limit = int_param(request, "limit", 50, MAX_PRODUCTS_PAGE)
        page = int_param(request, "page", 1)
        chosen = list(store.variants.values())
        skus = _skus(request)
        if skus is not None:
            chosen = [v for v in chosen if v.sku in skus]
        ids = int_list(request, "id:in") or int_list(request, "id")
        if ids is not None:
            chosen = [v for v in chosen if v.id in ids]
        products = int_list(request, "product_id:in")
        if products is not None:
            chosen = [v for v in chosen if v.product_id in products]
        return paged(chosen, page, limit, SVariant.as_json)

    async def update_variants(request: Request) -> Response:
        store = store_of(request)
        body = await body_of(request)
        if not isinstance(body, list):
            return error(422, "Body must be a list of variants")
        if len(body) > MAX_VARIANT_BATCH:
            return error(
                413,
                "The request payload is too large. The maximum items allowed in the array "
                f"is {MAX_VARIANT_BATCH}.",
            )
        errors: dict[str, str] = {}
        for i, item in enumerate(body):
            if not isinstance(item, dict) or item.get("id") not in store.variants:
                errors[f"{i}.id"] = "variant not found"
            elif "price" in item and _bad_money(item["price"]):
                errors[f"{i}.price"] = "price must be a number of 0 or more"
        if errors:
            return error(422, "Invalid variants", errors)
        store.settle()
        for item in body:
            variant = store.variants[item["id"]]
            if "price" in item:
                variant.price = str(item["price"])
                owner = store.products[variant.product_id]
                if owner.variants and owner.variants[0].id == variant.id:
                    owner.price = variant.price  # the base variant's price is the product's
                owner.date_modified = now()
            if "inventory_level" in item:  # a catalog write: applied at once, unlike adjust
                variant.inventory_level = int(item["inventory_level"])
                store.products[variant.product_id].date_modified = now()
                store.counters["variant_inventory_updates"] += 1
        return JSONResponse({"data": body, "meta": {}})

    async def update_products(request: Request) -> Response:
        store = store_of(request)
        body = await body_of(request)
        if not isinstance(body, list):
            return error(422, "Body must be a list of products")
        if len(body) > MAX_PRODUCT_BATCH:
            return error(
                413,
                "The request payload is too large. The maximum items allowed in the array "
                f"is {MAX_PRODUCT_BATCH}.",
            )
        errors: dict[str, str] = {}
        for i, item in enumerate(body):
            if not isinstance(item, dict) or item.get("id") not in store.products:
                errors[f"{i}.id"] = "product not found"
                continue
            for name, problem in _product_problems(item, partial=True).items():
                errors[f"{i}.{name}"] = problem
            taken = _name_taken(store, item.get("name"), item["id"])
            if taken:
                errors[f"{i}.name"] = taken
        if errors:
            return error(422, "Invalid products", errors)
        for item in body:
            product = store.products[item["id"]]
            product.name = str(item.get("name", product.name))
            store.name_index[product.name] = product.id
            if "price" in item:
                product.price = str(item["price"])
                if product.variants:
                    product.variants[0].price = product.price
            if "is_visible" in item:
                product.is_visible = bool(item["is_visible"])
            if "inventory_tracking" in item:  # the merchant switches how stock is tracked
                product.tracking = str(item["inventory_tracking"])
            product.date_modified = now()
        return JSONResponse({"data": body, "meta": {}})

    async def create_product(request: Request) -> Response:
        store = store_of(request)
        item = await body_of(request)
        if not isinstance(item, dict):
            return error(422, "The request body must be a product object")
        problems = _product_problems(item, partial=False)
        if problems:
            return error(422, "The product is not valid", problems)
        sku = str(item.get("sku") or "")
        if sku and sku in store.by_sku():
            return error(
                409, "The product conflicts with another product", {"sku": f"SKU {sku!r} is in use"}
            )
        taken = _name_taken(store, item["name"], None)
        if taken:
            return error(409, "The product conflicts with another product", {"name": taken})
        store.settle()
        product_id = next(sb.ids)
        price = str(item["price"])
        product = SProduct(
            id=product_id,
            name=str(item["name"]),
            sku=sku,
            tracking=str(item.get("inventory_tracking", "none")),
            inventory_level=int(item.get("inventory_level", 0)),
            price=price,
            date_modified=now(),
            variants=[SVariant(next(sb.ids), product_id, sku, 0, price)],
            is_visible=bool(item.get("is_visible", True)),
            weight=str(item["weight"]),
        )
        store.add_product(product)
        store.counters["products_created"] += 1
        return JSONResponse(
            {"data": product.as_json(_includes_variants(request)), "meta": {}}, status_code=200
        )

    async def adjust(request: Request) -> Response:
        store = store_of(request)
        relative = request.url.path.endswith("/relative")
        body = await body_of(request)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return error(422, "Body must be an object with an items list")
        items = body["items"]
        if len(items) > MAX_ADJUSTMENTS:
            return error(413, f"At most {MAX_ADJUSTMENTS} items per request")
        store.settle()
        errors: dict[str, str] = {}
        planned: list[tuple[str, int, int]] = []
        for i, item in enumerate(items):
            problem, target = _address(store, item, relative)
            if problem or target is None:
                errors[f"items.{i}"] = problem or "unaddressable"
                continue
            kind, ident = target
            current = (
                store.products[ident].inventory_level
                if kind == "product"
                else store.variants[ident].inventory_level
            )
            quantity = current + item["quantity"] if relative else item["quantity"]
            planned.append((kind, ident, quantity))
        if errors:
            return error(422, "Some items could not be adjusted; nothing was applied", errors)
        changes = store.changes_of(planned)  # before the write joins the pending ones
        store.pending.append((time.monotonic() + store.async_delay_ms / 1000, planned))
        store.counters["items_updated"] += len(planned)
        store.counters["largest_batch"] = max(store.counters["largest_batch"], len(planned))
        for product_id, change in sorted(changes.items()):
            # BigCommerce fires the hook for writes through the API too ("relative":
            # inventory updated using the API or the control panel; value: the change).
            sb.emit(store, INVENTORY_SCOPE, inventory_event(product_id, "relative", change))
        return JSONResponse({"transaction_id": str(uuid.uuid4())})

    return [
        Route(f"{base}/v3/catalog/products", guarded(list_products), methods=["GET"]),
        Route(f"{base}/v3/catalog/products", guarded(update_products), methods=["PUT"]),
        Route(f"{base}/v3/catalog/products", guarded(create_product), methods=["POST"]),
        Route(f"{base}/v3/catalog/products/{{id:int}}", guarded(get_product), methods=["GET"]),
        Route(f"{base}/v3/catalog/variants", guarded(list_variants), methods=["GET"]),
        Route(f"{base}/v3/catalog/variants", guarded(update_variants), methods=["PUT"]),
        Route(f"{base}/v3/inventory/adjustments/absolute", guarded(adjust), methods=["PUT"]),
        Route(f"{base}/v3/inventory/adjustments/relative", guarded(adjust), methods=["POST"]),
    ]


def _bad_money(value: Any) -> bool:
    """Prices and weights are JSON numbers of 0 or more."""
    return isinstance(value, bool) or not isinstance(value, int | float) or value < 0


def _product_problems(item: dict[str, Any], *, partial: bool) -> dict[str, str]:
    """Field -> problem, as a create (all required fields) or a batch update checks it."""
    problems: dict[str, str] = {}
    for name in ("name", "type", "weight", "price"):
        if not partial and name not in item:
            problems[name] = f"{name} is required"
    if "name" in item and (
        not isinstance(item["name"], str) or not 1 <= len(item["name"]) <= MAX_NAME
    ):
        problems["name"] = f"name must be 1 to {MAX_NAME} characters"
    if "type" in item and item["type"] not in ("physical", "digital"):
        problems["type"] = "type must be physical or digital"
    for name in ("weight", "price"):
        if name in item and _bad_money(item[name]):
            problems[name] = f"{name} must be a number of 0 or more"
    if "sku" in item and (not isinstance(item["sku"], str) or len(item["sku"]) > MAX_SKU):
        problems["sku"] = f"sku must be at most {MAX_SKU} characters"
    if "inventory_tracking" in item and item["inventory_tracking"] not in (
        "none",
        "product",
        "variant",
    ):
        problems["inventory_tracking"] = "inventory_tracking must be none, product or variant"
    if "is_visible" in item and not isinstance(item["is_visible"], bool):
        problems["is_visible"] = "is_visible must be true or false"
    level = item.get("inventory_level", 0)
    if isinstance(level, bool) or not isinstance(level, int) or level < 0:
        problems["inventory_level"] = "inventory_level must be a whole number of 0 or more"
    return problems


def _name_taken(store: SStore, name: Any, own_id: int | None) -> str | None:
    """Product names are unique in a store (409 on create, like a SKU)."""
    if not isinstance(name, str):
        return None
    other = store.name_index.get(name)
    if other is not None and other != own_id and store.products[other].name == name:
        return f"the name {name!r} is used by product {other}"
    return None


def _skus(request: Request) -> set[str] | None:
    """``sku`` (one, exact) or ``sku:in`` (a comma-separated list); None when neither."""
    one = request.query_params.get("sku")
    many = request.query_params.get("sku:in")
    if one is None and many is None:
        return None
    wanted = set(many.split(",")) if many is not None else set()
    if one is not None:
        wanted = {one} if many is None else wanted & {one}
    return wanted


def _includes_variants(request: Request) -> bool:
    return "variants" in request.query_params.get("include", "").split(",")


def _address(store: SStore, item: Any, relative: bool) -> tuple[str | None, tuple[str, int] | None]:
    """Validate one adjustment item the way BigCommerce does; returns (problem, target).
    Absolute quantities are 0 or more; relative ones add or subtract."""
    if not isinstance(item, dict):
        return "item must be an object", None
    if item.get("location_id") != 1:
        return f"location {item.get('location_id')} does not exist", None
    quantity = item.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        return "quantity must be a whole number", None
    if quantity < 0 and not relative:
        return "quantity must be 0 or more", None
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
        owner: SProduct = store.products[variant.product_id]
        if owner.tracking != "variant":
            return (
                f"Item with variant_id {variant.id} is tracked by {owner.tracking}, "
                "please update stock by product id",
                None,
            )
        return None, ("variant", variant.id)
    if "sku" in item:
        found = store.by_sku().get(item["sku"])
        if found is None:
            return f"sku {item['sku']} not found", None
        product, variant = found
        if product.tracking == "product":
            return None, ("product", product.id)
        if product.tracking == "variant":
            return None, ("variant", variant.id)
        return f"sku {item['sku']} is not inventory tracked", None
    return "one of product_id, variant_id or sku is required", None
