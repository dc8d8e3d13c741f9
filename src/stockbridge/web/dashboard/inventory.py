"""The dashboard's inventory page: search, each side's stock, who owns each product's
stock, and the merchant's controls: assign a product to the hub or take it back, give it
a mode of its own, and set the hub's quantity where the hub owns it. Each form calls a
use case (``services/products.py``, ``services/inventory.py``) that checks everything
before it writes: refused input re-renders with the reason (422, 409 where another system
owns the stock, 404 for an unknown store) and nothing is saved. A change is carried to
the web store by an inventory-out run handed to the queue at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stockbridge.bootstrap import Hub
from stockbridge.domain.model import InventorySource
from stockbridge.jobs.queue import JobQueue
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.inventory import SetHubQuantity, search_inventory, set_hub_quantity
from stockbridge.services.products import (
    AssignProducts,
    OwnedElsewhere,
    SetProductSource,
    assign_products,
    set_product_source,
)
from stockbridge.web.dashboard.guard import Refused, Viewer, viewer

__all__ = ["PageTools", "add_inventory_routes"]

ViewerDep = Annotated[Viewer, Depends(viewer)]
#: The product's own mode, or "store": follow the store's.
SOURCE_CHOICES = ("store", *(source.value for source in InventorySource))


@dataclass(frozen=True)
class PageTools:
    """What the dashboard's pages share (``routes.mount_dashboard`` makes them)."""

    store_page: Callable[[Viewer, str], Awaitable[dict[str, Any]]]
    posted: Callable[[Request, Viewer], Awaitable[dict[str, str]]]
    render: Callable[..., HTMLResponse]


def _refused(exc: InvalidSetting) -> Refused:
    return Refused(409 if isinstance(exc, OwnedElsewhere) else 422, str(exc))


def add_inventory_routes(router: APIRouter, hub: Hub, queue: JobQueue, tools: PageTools) -> None:
    def _back(store: str, form: dict[str, str], run_id: int | None) -> RedirectResponse:
        target = f"/stores/{quote(store)}/inventory?q={quote(form.get('q', ''))}"
        if run_id is not None:
            queue.submit_run(run_id)
            target += f"&queued={run_id}"
        return RedirectResponse(target, status_code=303)

    @router.get("/stores/{store}/inventory")
    async def inventory(request: Request, store: str, who: ViewerDep, q: str = "") -> Response:
        page = await tools.store_page(who, store)
        try:
            variants = await run_in_threadpool(search_inventory, hub, store, q)
        except InvalidSetting as exc:
            raise Refused(422, str(exc)) from None
        return tools.render(
            request,
            "inventory.html",
            page="inventory",
            q=q,
            variants=variants,
            sources=SOURCE_CHOICES,
            notice=request.query_params.get("queued"),
            **page,
        )

    @router.post("/stores/{store}/inventory/hub-quantity")
    async def set_quantity(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        await tools.store_page(who, store)
        sku = form.get("sku", "")
        try:
            quantity = int(form.get("quantity", "").strip())
        except ValueError:
            raise Refused(422, "the quantity must be a whole number") from None
        try:
            requested = await run_in_threadpool(
                set_hub_quantity, hub, SetHubQuantity(store, sku, quantity)
            )
        except InvalidSetting as exc:
            raise _refused(exc) from None
        return _back(store, {"q": form.get("q", sku)}, requested.run_id)

    @router.post("/stores/{store}/inventory/assign")
    async def assign(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        await tools.store_page(who, store)
        action = form.get("action", "")
        if action not in ("assign", "unassign"):
            raise Refused(422, "choose assign or unassign")
        command = AssignProducts(store, (form.get("sku", ""),), None, action == "assign")
        try:
            changed = await run_in_threadpool(assign_products, hub, command)
        except InvalidSetting as exc:
            raise _refused(exc) from None
        return _back(store, form, changed.run_id)

    @router.post("/stores/{store}/inventory/source")
    async def source(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        await tools.store_page(who, store)
        chosen = form.get("source", "")
        if chosen not in SOURCE_CHOICES:
            raise Refused(422, f"choose one of: {', '.join(SOURCE_CHOICES)}")
        own = None if chosen == "store" else InventorySource(chosen)
        try:
            done = await run_in_threadpool(
                set_product_source, hub, SetProductSource(store, form.get("sku", ""), own)
            )
        except InvalidSetting as exc:
            raise _refused(exc) from None
        return _back(store, form, done.run_id)
