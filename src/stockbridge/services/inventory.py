"""Stock as the hub sees it: each side's quantity per location, what is withheld for
orders the back office has not accounted for, who owns each product's stock (see
``services/products.py`` and ``domain/ownership.py``); and the quantities the hub itself
manages (assigned backorder / pre-order products, where the hub owns their stock)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from stockbridge.bootstrap import Hub
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import InventorySource, Step, Trigger
from stockbridge.domain.ownership import editable_in_hub
from stockbridge.domain.sources import SourceMap
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.products import OwnedElsewhere, UnknownProducts, product_source
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

    store: str | None
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
    #: Assigned to the hub (a backorder / pre-order product).
    assigned: bool
    #: The product's own mode (None: the store's), and the mode that governs it.
    source_override: str | None
    mode: str
    #: Who owns its stock: "hub", "back_office", "erp" or "web" (domain/ownership.py).
    source_of_truth: str
    #: Whether people may set its hub quantity (CLI, API, dashboard).
    hub_editable: bool
    withheld_for_unposted_orders: int
    stock: tuple[StockLevel, ...]


@dataclass(frozen=True)
class ProductDetail:
    sku: str
    name: str | None
    price: Decimal | None
    active: bool
    assigned: bool
    source_override: str | None
    mode: str
    source_of_truth: str
    hub_editable: bool
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
        owned = product_source(store.inventory_source, variant)
        return ProductDetail(
            sku=variant.sku,
            name=variant.name,
            price=variant.price,
            active=variant.active,
            assigned=owned.assigned,
            source_override=owned.source_override,
            mode=owned.mode,
            source_of_truth=owned.source_of_truth,
            hub_editable=owned.source_of_truth == "hub",
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
    hub: Hub, store_name: str | None, text: str = "", limit: int = 50
) -> list[VariantStock]:
    """Variants whose SKU or name contains ``text``, by SKU, with who owns their stock."""
    if len(text) > MAX_SEARCH:
        raise InvalidSetting(f"search for at most {MAX_SEARCH} characters")
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        store = find_store(uow, store_name)
        variants = uow.catalog.search(store.id, text.strip(), limit)
        stock = uow.catalog.stock_of([v.id for v in variants])
        withheld = _withheld_now(uow, store.id) if variants else {}
        owned = {v.id: product_source(store.inventory_source, v) for v in variants}
        return [
            VariantStock(
                sku=v.sku,
                name=v.name,
                assigned=v.hub_managed,
                source_override=v.inventory_source,
                mode=owned[v.id].mode,
                source_of_truth=owned[v.id].source_of_truth,
                hub_editable=owned[v.id].source_of_truth == "hub",
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
    assigned products whose stock the hub owns (``editable_in_hub``) can be set here: an
    unknown SKU raises ``UnknownProducts``, one another system owns ``OwnedElsewhere``;
    either changes nothing."""
    if not 0 <= command.quantity <= MAX_QUANTITY:
        raise InvalidSetting(f"quantity must be 0-{MAX_QUANTITY:,}")
    with hub.uow() as uow:
        store = find_store(uow, command.store)
        variant = uow.catalog.variant(store.id, command.sku)
        if variant is None:
            raise UnknownProducts(f"no SKU {command.sku!r} in store {store.name!r}")
        owned = product_source(store.inventory_source, variant)
        if not editable_in_hub(InventorySource(owned.mode), owned.assigned):
            hint = "" if owned.assigned else "; assign it to the hub first"
            raise OwnedElsewhere(
                f"{command.sku} is {owned.explanation}, so the hub may not set it"
                f" (nothing was changed){hint}"
            )
        uow.catalog.set_hub_managed(store.id, command.sku, command.quantity)
        run, merged = uow.runs.request(store.id, (Step.INVENTORY_OUT,), Trigger.MANUAL)
        uow.commit()
        return RunRequested(run.id, merged)
