"""Stock as the hub sees it: each side's quantity per location, what is withheld for
orders the back office has not accounted for, which side is the source of truth; and
the quantities the hub itself manages (backorder / pre-order items)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from stockbridge.bootstrap import Hub
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import Step, Trigger
from stockbridge.domain.sources import SourceMap
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.runs import RunRequested
from stockbridge.services.stores import find_store
from stockbridge.sync.sources import withheld_for_web

__all__ = [
    "MAX_QUANTITY",
    "ProductDetail",
    "SetHubQuantity",
    "StockLevel",
    "VariantStock",
    "product_detail",
    "search_inventory",
    "set_hub_quantity",
]

MAX_QUANTITY = 1_000_000_000
MAX_SEARCH = 255


@dataclass(frozen=True)
class SetHubQuantity:
    """Set a hub-managed variant's quantity (and carry it to the web store)."""

    store: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class StockLevel:
    """A variant's quantity at one location, as each side last reported it (None: unknown)."""

    location: str
    back_office: int | None
    web: int | None
    hub: int | None


@dataclass(frozen=True)
class VariantStock:
    sku: str
    name: str | None
    hub_managed: bool
    #: "hub" for a hub-managed variant, else the inventory source that owns it.
    source_of_truth: str
    withheld_for_unposted_orders: int
    stock: tuple[StockLevel, ...]


@dataclass(frozen=True)
class ProductDetail:
    sku: str
    name: str | None
    price: Decimal | None
    active: bool
    hub_managed: bool
    source_of_truth: str
    withheld_for_unposted_orders: int
    stock: tuple[StockLevel, ...]


def product_detail(hub: Hub, store_id: int, sku: str) -> ProductDetail | None:
    """A variant with each side's quantity, what is withheld for unposted orders, and
    which side is the source of truth; None for an unknown SKU."""
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        variant = uow.catalog.variant(store_id, sku)
        store = uow.stores.get(store_id)
        if variant is None or store is None:
            return None
        withheld = uow.catalog.withheld(store_id, None).get(sku, 0)
        source = variant.inventory_source or store.inventory_source
        return ProductDetail(
            sku=variant.sku,
            name=variant.name,
            price=variant.price,
            active=variant.active,
            hub_managed=variant.hub_managed,
            source_of_truth="hub" if variant.hub_managed else source,
            withheld_for_unposted_orders=withheld,
            stock=tuple(
                StockLevel(level.location, level.back_office_qty, level.web_qty, level.hub_qty)
                for level in uow.catalog.stock(variant.id)
            ),
        )


def _withheld_now(uow: UnitOfWork, store_id: int) -> dict[str, int]:
    """What inventory-out would withhold right now (see ``sync/inventory_out.py``)."""
    back_office = uow.stores.connection(store_id, "back_office")
    sources = SourceMap(tuple(uow.sources.suppliers(store_id)))
    return withheld_for_web(uow, store_id, back_office.id if back_office else None, sources)


def search_inventory(
    hub: Hub, store_name: str, text: str = "", limit: int = 50
) -> list[VariantStock]:
    """Variants whose SKU or name contains ``text``."""
    if len(text) > MAX_SEARCH:
        raise InvalidSetting(f"search for at most {MAX_SEARCH} characters")
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        store = find_store(uow, store_name)
        variants = uow.catalog.search(store.id, text.strip(), limit)
        stock = uow.catalog.stock_of([v.id for v in variants])
        withheld = _withheld_now(uow, store.id) if variants else {}
        return [
            VariantStock(
                sku=v.sku,
                name=v.name,
                hub_managed=v.hub_managed,
                source_of_truth="hub"
                if v.hub_managed
                else (v.inventory_source or store.inventory_source),
                withheld_for_unposted_orders=withheld.get(v.sku, 0),
                stock=tuple(
                    StockLevel(level.location, level.back_office_qty, level.web_qty, level.hub_qty)
                    for level in stock[v.id]
                ),
            )
            for v in variants
        ]


def set_hub_quantity(hub: Hub, command: SetHubQuantity) -> RunRequested:
    """Set the quantity and queue an inventory-out run to carry it to the web store. Only
    variants already hub-managed can be set here; an unknown SKU or one another system
    owns raises ``InvalidSetting``."""
    if not 0 <= command.quantity <= MAX_QUANTITY:
        raise InvalidSetting(f"quantity must be 0-{MAX_QUANTITY:,}")
    with hub.uow() as uow:
        store = find_store(uow, command.store)
        variant = uow.catalog.variant(store.id, command.sku)
        if variant is None:
            raise InvalidSetting(f"no SKU {command.sku!r} in store {store.name!r}")
        if not variant.hub_managed:
            raise InvalidSetting(
                f"{command.sku} is not hub-managed: its quantity comes from "
                f"{variant.inventory_source or store.inventory_source}"
            )
        uow.catalog.set_hub_managed(store.id, command.sku, command.quantity)
        run, merged = uow.runs.request(store.id, (Step.INVENTORY_OUT,), Trigger.MANUAL)
        uow.commit()
        return RunRequested(run.id, merged)
