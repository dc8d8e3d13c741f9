"""Who owns a SKU's stock: the store's inventory-source mode (or the product's own
override) and whether the product is *assigned* to the hub (a backorder / pre-order
product the merchant manages through Stockbridge; ``Variant.hub_managed`` in storage).

=============  =======================================  ================================
mode           assigned products                        other products
=============  =======================================  ================================
back_office    the hub (its quantity, edited in the     the back office
               CLI, API or dashboard)
web            the hub                                  the web store
erp_via_web    the web store (an ERP writes it there)   the web store
api            the ERP (pushes to the hub's API, or a   the ERP
               feed the hub pulls), kept as the hub's
               quantity
=============  =======================================  ================================

Everything else follows from the owner: the hub pushes what it does not get from the web;
the web store's figure becomes the hub's quantity of an assigned product only where the
web owns it; the ERP's figure becomes it only in api mode; people edit it only where the
hub owns it; web orders take from it wherever the hub pushes it.
"""

from __future__ import annotations

from enum import StrEnum

from stockbridge.domain.model import InventorySource

__all__ = [
    "OWNER_WORDS",
    "StockOwner",
    "accepts_push",
    "editable_in_hub",
    "effective_source",
    "erp_sets_hub_quantity",
    "hub_pushes",
    "hub_pushes_any",
    "initial_hub_quantity",
    "orders_take_hub_quantity",
    "source_of_truth",
    "stock_owner",
    "web_sets_hub_quantity",
]


class StockOwner(StrEnum):
    """Whose figure is the truth for a SKU's stock."""

    HUB = "hub"  # the hub's own quantity, set by people (CLI, API, dashboard)
    BACK_OFFICE = "back_office"  # the back office's quantity, less what orders withhold
    ERP = "erp"  # the ERP's figure, pushed to the hub's API or pulled from a feed
    WEB = "web"  # the web store's own figure: the hub follows it and never pushes


#: Each owner in the merchant's words.
OWNER_WORDS = {
    StockOwner.HUB: "the hub",
    StockOwner.BACK_OFFICE: "the back office",
    StockOwner.ERP: "the ERP",
    StockOwner.WEB: "the web store",
}

_OWNERS: dict[tuple[InventorySource, bool], StockOwner] = {
    (InventorySource.BACK_OFFICE, True): StockOwner.HUB,
    (InventorySource.BACK_OFFICE, False): StockOwner.BACK_OFFICE,
    (InventorySource.WEB, True): StockOwner.HUB,
    (InventorySource.WEB, False): StockOwner.WEB,
    (InventorySource.ERP_VIA_WEB, True): StockOwner.WEB,
    (InventorySource.ERP_VIA_WEB, False): StockOwner.WEB,
    (InventorySource.API, True): StockOwner.ERP,
    (InventorySource.API, False): StockOwner.ERP,
}


def effective_source(
    store_source: InventorySource | str, override: InventorySource | str | None
) -> InventorySource:
    """The mode that governs a product: its own override when it has one, else the store's."""
    return InventorySource(override) if override else InventorySource(store_source)


def stock_owner(source: InventorySource, assigned: bool) -> StockOwner:
    """Who owns the stock of a product governed by ``source`` (see the table above)."""
    return _OWNERS[(source, assigned)]


def hub_pushes(source: InventorySource, assigned: bool) -> bool:
    """Whether inventory-out sets this product's stock on the web store."""
    return _OWNERS[(source, assigned)] is not StockOwner.WEB


def web_sets_hub_quantity(source: InventorySource, assigned: bool) -> bool:
    """Whether the web store's figure (webhook, manual sync) becomes the hub's quantity:
    an assigned product whose stock the web store owns (erp_via_web)."""
    return assigned and _OWNERS[(source, assigned)] is StockOwner.WEB


def erp_sets_hub_quantity(source: InventorySource, assigned: bool) -> bool:
    """Whether the ERP's figure (an API push, a feed pull) becomes the hub's quantity:
    an assigned product in api mode."""
    return assigned and _OWNERS[(source, assigned)] is StockOwner.ERP


def editable_in_hub(source: InventorySource, assigned: bool) -> bool:
    """Whether people may set the hub's quantity (CLI, API, dashboard)."""
    return _OWNERS[(source, assigned)] is StockOwner.HUB


def accepts_push(source: InventorySource) -> bool:
    """Whether an ERP's push to the hub's inventory API may set this product's stock."""
    return source is InventorySource.API


def orders_take_hub_quantity(source: InventorySource, assigned: bool) -> bool:
    """Whether web orders take from (and cancellations give back to) the hub's quantity:
    an assigned product whose figure the hub pushes. Where the web owns it, the web store
    counts its own orders and the hub only follows."""
    return assigned and hub_pushes(source, assigned)


def source_of_truth(source: InventorySource, assigned: bool) -> str:
    """The owner in the merchant's words, as the CLI, API and dashboard show it."""
    return _OWNERS[(source, assigned)].value


def initial_hub_quantity(
    source: InventorySource, web_quantity: int | None, back_office_quantity: int | None
) -> int:
    """The hub's quantity of a product when it is assigned: what the owner shows now, so
    assigning changes nothing on the web store. In api mode the ERP's last figure; else
    the web store's (the back office's when the web tracks none), never below zero."""
    first, second = (
        (back_office_quantity, web_quantity)
        if source is InventorySource.API
        else (web_quantity, back_office_quantity)
    )
    chosen = first if first is not None else second
    return max(0, chosen or 0)


def hub_pushes_any(store_source: InventorySource) -> bool:
    """Whether the hub sets the web stock of any product of a store in this mode, so a
    stock change made on the web is followed by a push that sets the hub's figure again
    (in web mode: an assigned product's stock is managed in the hub, not on the web).
    Only erp_via_web leaves every product's stock to the web store."""
    return hub_pushes(store_source, True) or hub_pushes(store_source, False)
