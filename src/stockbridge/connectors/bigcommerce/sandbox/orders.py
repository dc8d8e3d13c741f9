"""The BigCommerce sandbox's v2 order routes and v3 webhook routes.

``GET /v2/orders`` (``min_date_modified``, ``min_date_created``, ``max_date_created`` as
RFC 2822 or ISO 8601, ``status_id``,
``sort=date_modified:asc``, at most 250 a page, 204 with no body past the end;
``include=consignments[.line_items]`` with ``consignment_structure=object``: see
consignments.py),
``GET /v2/orders/count``, ``GET|PUT /v2/orders/{id}`` (a status change moves stock and
fires webhooks; re-sent lines drop the discounts, as documented), ``GET
/v2/orders/{id}/products`` (at most 50 a page, 204 past the end), ``GET
/v2/order_statuses[/{id}]``, ``GET /v3/orders/{id}/payment_actions/refunds`` (every
refund of the order, not paged), ``GET /v3/orders/payment_actions/refunds`` (all the
store's refunds, filtered and paged), and ``/v3/hooks`` (HTTPS destinations on port 443 only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.connectors.bigcommerce.sandbox.consignments import (
    consignments_json,
    resource_links,
)
from stockbridge.connectors.bigcommerce.sandbox.state import (
    ORDER_STATUSES,
    STOCK_RELEASED,
    SHook,
    SOrder,
    SStore,
    now,
    parse_when,
)
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

__all__ = ["order_routes", "set_status", "status_json"]

MAX_ORDERS_PAGE = 250
MAX_LINES_PAGE = 50


def status_json(status_id: int) -> dict[str, Any]:
    name, order = ORDER_STATUSES[status_id]
    return {
        "id": status_id,
        "name": name,
        "system_label": name,
        "custom_label": name,
        "system_description": name,
        "order": order,
    }


def set_status(sb: BigCommerceSandbox, store: SStore, order: SOrder, status: int) -> None:
    """Change an order's status as the store does: stock taken or given back, webhooks."""
    holds = order.status_id not in STOCK_RELEASED
    will_hold = status not in STOCK_RELEASED
    if holds and not will_hold:
        store.move_stock(order, +1)  # cancelling returns the stock
    elif will_hold and not holds:
        store.move_stock(order, -1)
    order.status_id = status
    order.date_modified = now()
    sb.emit(store, "store/order/statusUpdated", {"type": "order", "id": order.id})
    sb.emit(store, "store/order/updated", {"type": "order", "id": order.id})


def order_routes(sb: BigCommerceSandbox, base: str) -> list[Route]:
    """The v2 order and v3 hook endpoints under ``base`` (``/stores/{hash}``)."""

    def store_of(request: Request) -> SStore:
        return sb.stores[request.path_params["hash"]]

    def order_json(request: Request, order: SOrder) -> dict[str, Any]:
        """The order with its sub-resource links; ``include=consignments`` or
        ``consignments.line_items`` (with ``consignment_structure=object``) puts its
        consignments in, the latter with their lines (consignments.py)."""
        base = f"{str(request.base_url).rstrip('/')}/stores/{request.path_params['hash']}"
        body = {**order.as_json(), **resource_links(base, order.id)}
        wanted = {p.strip() for p in request.query_params.get("include", "").split(",")}
        as_object = request.query_params.get("consignment_structure") == "object"
        if wanted & {"consignments", "consignments.line_items"}:
            body["consignments"] = consignments_json(
                order, base, with_lines="consignments.line_items" in wanted, as_object=as_object
            )
        return body

    def chosen_orders(request: Request) -> list[SOrder]:
        chosen = list(store_of(request).orders.values())
        since = request.query_params.get("min_date_modified")
        if since:
            try:
                moment = parse_when(since)
            except ValueError as exc:
                raise Unprocessable("min_date_modified", str(exc)) from None
            chosen = [o for o in chosen if o.date_modified >= moment]
        for name, earliest in (("min_date_created", True), ("max_date_created", False)):
            text = request.query_params.get(name)
            if text:
                try:
                    bound = parse_when(text)
                except ValueError as exc:
                    raise Unprocessable(name, str(exc)) from None
                chosen = [
                    o
                    for o in chosen
                    if (o.date_created >= bound if earliest else o.date_created <= bound)
                ]
        status = request.query_params.get("status_id")
        if status is not None:
            chosen = [o for o in chosen if str(o.status_id) == status]
        return chosen

    async def list_orders(request: Request) -> Response:
        limit = int_param(request, "limit", 50, MAX_ORDERS_PAGE)
        page = int_param(request, "page", 1)
        chosen = chosen_orders(request)
        if request.query_params.get("sort") == "date_modified:asc":
            chosen.sort(key=lambda o: (o.date_modified, o.id))
        window = chosen[(page - 1) * limit : page * limit]
        if not window:
            return Response(status_code=204)
        return JSONResponse([order_json(request, o) for o in window])

    async def count_orders(request: Request) -> Response:
        chosen = chosen_orders(request)
        statuses = [
            {**status_json(s), "count": sum(1 for o in chosen if o.status_id == s)}
            for s in ORDER_STATUSES
        ]
        return JSONResponse({"statuses": statuses, "count": len(chosen)})

    async def get_order(request: Request) -> Response:
        order = store_of(request).orders.get(int(request.path_params["id"]))
        if order is None:
            return error(404, "The requested resource was not found.")
        return JSONResponse(order_json(request, order))

    async def order_products(request: Request) -> Response:
        order = store_of(request).orders.get(int(request.path_params["id"]))
        if order is None:
            return error(404, "The requested resource was not found.")
        limit = int_param(request, "limit", 50, MAX_LINES_PAGE)
        page = int_param(request, "page", 1)
        window = order.lines[(page - 1) * limit : page * limit]
        if not window:
            return Response(status_code=204)
        return JSONResponse(window)

    async def order_refunds(request: Request) -> Response:
        order = store_of(request).orders.get(int(request.path_params["id"]))
        if order is None:
            return error(404, "The requested resource was not found.")
        return JSONResponse({"data": order.refunds, "meta": {}})

    async def all_refunds(request: Request) -> Response:
        """``GET /v3/orders/payment_actions/refunds``: every refund of the store by refund
        id, filtered by ``order_id:in``, ``id:in``, ``created:min`` / ``created:max``
        (RFC 3339), paged (``page``, ``limit``, at most 250)."""
        limit = int_param(request, "limit", 50, MAX_ORDERS_PAGE)
        page = int_param(request, "page", 1)
        orders = int_list(request, "order_id:in")
        ids = int_list(request, "id:in")
        bounds = []
        for name in ("created:min", "created:max"):
            text = request.query_params.get(name)
            try:
                bounds.append(parse_when(text) if text else None)
            except ValueError as exc:
                raise Unprocessable(name, str(exc)) from None
        chosen = []
        for order in store_of(request).orders.values():
            if orders is not None and order.id not in orders:
                continue
            for refund in order.refunds:
                created = parse_when(refund["created"])
                if ids is not None and refund["id"] not in ids:
                    continue
                if bounds[0] is not None and created < bounds[0]:
                    continue
                if bounds[1] is not None and created > bounds[1]:
                    continue
                chosen.append(refund)
        chosen.sort(key=lambda r: int(r["id"]))
        return paged(chosen, page, limit, lambda r: r)

    async def update_order(request: Request) -> Response:
        store = store_of(request)
        order = store.orders.get(int(request.path_params["id"]))
        if order is None:
            return error(404, "The requested resource was not found.")
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(400, "Body must be an object")
        if "products" in body:
            # As documented: re-sent lines are recalculated and discounts dropped.
            store.counters["lines_rewritten"] += 1
            order.discount = "0.0000"
        if "status_id" in body:
            status = body["status_id"]
            if not isinstance(status, int) or status not in ORDER_STATUSES:
                return error(422, "Invalid status", {"status_id": "must be 0-14"})
            set_status(sb, store, order, status)
        return JSONResponse(order.as_json())

    async def list_statuses(request: Request) -> Response:
        return JSONResponse([status_json(s) for s in ORDER_STATUSES])

    async def get_status(request: Request) -> Response:
        status = int(request.path_params["id"])
        if status not in ORDER_STATUSES:
            return error(404, "The requested resource was not found.")
        return JSONResponse(status_json(status))

    async def list_hooks(request: Request) -> Response:
        hooks = list(store_of(request).hooks.values())
        return JSONResponse({"data": [h.as_json() for h in hooks], "meta": {}})

    async def create_hook(request: Request) -> Response:
        store = store_of(request)
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(422, "Body must be an object")
        problems = _hook_problems(store, body)
        if problems:
            return error(422, "Invalid webhook", problems)
        hook = SHook(
            id=next(sb.ids),
            scope=body["scope"],
            destination=body["destination"],
            is_active=bool(body.get("is_active", True)),
            headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
        )
        store.hooks[hook.id] = hook
        return JSONResponse({"data": hook.as_json(), "meta": {}})

    async def update_hook(request: Request) -> Response:
        store = store_of(request)
        hook = store.hooks.get(int(request.path_params["id"]))
        if hook is None:
            return error(404, "Webhook not found")
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(422, "Body must be an object")
        if "is_active" in body:
            hook.is_active = bool(body["is_active"])
            hook.failures = 0
        if isinstance(body.get("headers"), dict):
            hook.headers = {str(k): str(v) for k, v in body["headers"].items()}
        return JSONResponse({"data": hook.as_json(), "meta": {}})

    async def delete_hook(request: Request) -> Response:
        store_of(request).hooks.pop(int(request.path_params["id"]), None)
        return Response(status_code=204)

    return [
        Route(f"{base}/v2/orders", guarded(list_orders), methods=["GET"]),
        Route(f"{base}/v2/orders/count", guarded(count_orders), methods=["GET"]),
        Route(f"{base}/v2/orders/{{id:int}}", guarded(get_order), methods=["GET"]),
        Route(f"{base}/v2/orders/{{id:int}}", guarded(update_order), methods=["PUT"]),
        Route(f"{base}/v2/orders/{{id:int}}/products", guarded(order_products), methods=["GET"]),
        Route(
            f"{base}/v3/orders/{{id:int}}/payment_actions/refunds",
            guarded(order_refunds),
            methods=["GET"],
        ),
        Route(f"{base}/v3/orders/payment_actions/refunds", guarded(all_refunds), methods=["GET"]),
        Route(f"{base}/v2/order_statuses", guarded(list_statuses), methods=["GET"]),
        Route(f"{base}/v2/order_statuses/{{id:int}}", guarded(get_status), methods=["GET"]),
        Route(f"{base}/v3/hooks", guarded(list_hooks), methods=["GET"]),
        Route(f"{base}/v3/hooks", guarded(create_hook), methods=["POST"]),
        Route(f"{base}/v3/hooks/{{id:int}}", guarded(update_hook), methods=["PUT"]),
        Route(f"{base}/v3/hooks/{{id:int}}", guarded(delete_hook), methods=["DELETE"]),
    ]


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
