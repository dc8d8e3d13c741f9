"""The API's product routes: listing products with who owns their stock, assigning
products to the hub (and taking them back), a product's own mode, and the hub's quantity
of an assigned product. Each parses input, calls a use case in ``services/`` and maps its
errors: an unknown store 404; unknown SKUs, a pattern matching none or bad input 422; a
product whose stock another system owns 409. A change is carried to the web store by an
inventory-out run handed to the queue at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from stockbridge.bootstrap import Hub
from stockbridge.domain.model import InventorySource
from stockbridge.jobs.queue import JobQueue
from stockbridge.jsonable import json_list, json_object
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.services.inventory import MAX_QUANTITY, SetHubQuantity, search_inventory
from stockbridge.services.inventory import set_hub_quantity as set_quantity
from stockbridge.services.products import (
    MAX_PRODUCTS,
    AssignProducts,
    OwnedElsewhere,
    SetProductSource,
    assign_products,
    set_product_source,
)
from stockbridge.web import service
from stockbridge.web.service import Caller, Conflict, Invalid, NotFound

__all__ = ["product_routes"]

StoreName = Annotated[str, Path(min_length=1, max_length=100)]
Sku = Annotated[str, Path(min_length=1, max_length=255)]
SourceName = Literal["back_office", "web", "erp_via_web", "api"]


def _caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    return service.authenticate(request.app.state.hub, authorization)


CallerDep = Annotated[Caller, Depends(_caller)]


class AssignIn(BaseModel):
    """SKUs to assign (or take back), and/or a glob every matching SKU joins."""

    model_config = ConfigDict(extra="forbid")
    skus: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=MAX_PRODUCTS
    )
    pattern: str | None = Field(default=None, min_length=1, max_length=255)


class SourceIn(BaseModel):
    """The product's own mode; null: it follows the store's."""

    model_config = ConfigDict(extra="forbid")
    source: SourceName | None


class HubQuantityIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    quantity: int = Field(ge=0, le=MAX_QUANTITY)


@contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from None
    except OwnedElsewhere as exc:
        raise Conflict(str(exc)) from None
    except InvalidSetting as exc:
        raise Invalid(str(exc)) from None


def product_routes(hub: Hub, queue: JobQueue) -> APIRouter:
    """The routes, for ``create_app`` to include."""
    router = APIRouter(prefix="/api/v1/stores/{store}/products")

    def visible(who: Caller, store: str) -> None:
        with hub.uow() as uow:
            service.store_for(uow, who, store)

    @router.get("")
    def list_products(
        store: StoreName,
        who: CallerDep,
        search: Annotated[str, Query(max_length=255)] = "",
        assigned: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> list[dict[str, Any]]:
        """Products whose SKU or name contains ``search``, by SKU: each side's stock, whether
        it is assigned, its mode and who owns its stock (``source_of_truth``)."""
        visible(who, store)
        with _mapped():
            found = search_inventory(hub, store, search, limit)
        return json_list(v for v in found if v.assigned or not assigned)

    def _assign(store: str, who: Caller, body: AssignIn, assigned: bool) -> dict[str, Any]:
        visible(who, store)
        with _mapped():
            changed = assign_products(
                hub, AssignProducts(store, tuple(body.skus), body.pattern, assigned)
            )
        if changed.run_id is not None:
            queue.submit_run(changed.run_id)
        return json_object(changed)

    @router.post("/assigned")
    def assign(store: StoreName, who: CallerDep, body: AssignIn) -> dict[str, Any]:
        """Assign products to the hub: their stock is then the hub's own (back_office and
        web modes), the web store's (erp_via_web) or the ERP's (api), as the README's mode
        table says. Unknown SKUs or a pattern matching none: 422, nothing changed."""
        return _assign(store, who, body, True)

    @router.delete("/assigned")
    def unassign(
        store: StoreName, who: CallerDep, body: Annotated[AssignIn, Body()]
    ) -> dict[str, Any]:
        """Take products back from the hub (the mode's other source owns them again)."""
        return _assign(store, who, body, False)

    @router.put("/{sku}/source")
    def set_source(store: StoreName, sku: Sku, who: CallerDep, body: SourceIn) -> dict[str, Any]:
        """Give the product a mode of its own (null: the store's again)."""
        visible(who, store)
        chosen = None if body.source is None else InventorySource(body.source)
        with _mapped():
            done = set_product_source(hub, SetProductSource(store, sku, chosen))
        queue.submit_run(done.run_id)
        return json_object(done)

    @router.put("/{sku}/hub-quantity", status_code=202)
    def hub_quantity(
        store: StoreName, sku: Sku, who: CallerDep, body: HubQuantityIn
    ) -> dict[str, Any]:
        """Set the hub's quantity of an assigned product whose stock the hub owns; 409 when
        another system owns it (nothing changed). Answers once the run is queued."""
        visible(who, store)
        with _mapped():
            requested = set_quantity(hub, SetHubQuantity(store, sku, body.quantity))
        queue.submit_run(requested.run_id)
        return json_object(requested)

    return router
