"""The merchant's words for the modes and steps (the BackOrder and StorePorter seeds'
own names), and each mode's data directions as one table. The machine ids
(``erp_via_web``, ``inventory-in``) stay in the API and JSON; everything a merchant
reads (dashboard, CLI help and output, README) uses these titles."""

from __future__ import annotations

from stockbridge.domain.model import InventorySource, Step

__all__ = ["DIRECTION_ROWS", "MODE_TITLES", "STEP_TITLES", "directions", "mode_title"]

MODE_TITLES: dict[InventorySource, str] = {
    InventorySource.WEB: "Manage inventory in BigCommerce",
    InventorySource.ERP_VIA_WEB: "Manage inventory in ERP",
    InventorySource.API: "Sync inventory via the API",
    InventorySource.BACK_OFFICE: "The back office is the master",
}

STEP_TITLES: dict[Step, str] = {
    Step.ORDERS_IN: "Orders in",
    Step.ORDERS_OUT: "Orders out",
    Step.INVENTORY_IN: "Sync data from the back office",
    Step.INVENTORY_OUT: "Sync data to the web",
}

#: The rows of the directions table, in order.
DIRECTION_ROWS = (
    "Stock of assigned products",
    "Stock of other products",
    "Prices, names and new products",
    "Orders",
)

_WEB_TO_HUB = "BigCommerce → Stockbridge (not back)"
_ORDERS = "BigCommerce → Stockbridge → back office"

_DIRECTIONS: dict[InventorySource, tuple[str, str, str, str]] = {
    InventorySource.WEB: (
        "Stockbridge → BigCommerce (edited in Stockbridge)",
        _WEB_TO_HUB,
        _WEB_TO_HUB,
        _ORDERS,
    ),
    InventorySource.ERP_VIA_WEB: (
        "ERP → BigCommerce → Stockbridge",
        "ERP → BigCommerce → Stockbridge",
        _WEB_TO_HUB,
        _ORDERS,
    ),
    InventorySource.API: (
        "ERP → Stockbridge API → BigCommerce",
        "ERP → Stockbridge API → BigCommerce",
        _WEB_TO_HUB,
        _ORDERS,
    ),
    InventorySource.BACK_OFFICE: (
        "Stockbridge → BigCommerce (edited in Stockbridge)",
        "back office → Stockbridge → BigCommerce",
        "back office → BigCommerce (as the catalog settings say)",
        _ORDERS,
    ),
}


def mode_title(mode: InventorySource | str) -> str:
    """The mode's name in the seed's words (``erp_via_web`` -> "Manage inventory in ERP")."""
    return MODE_TITLES[InventorySource(mode)]


def directions(mode: InventorySource) -> dict[str, str]:
    """Where each kind of data flows in ``mode``: row name -> "from → to"."""
    return dict(zip(DIRECTION_ROWS, _DIRECTIONS[mode], strict=True))
