"""What a dry run of Sync All found the next real run would do: the plan's values.

Pure data. ``sync/preview.py`` fills them by running the real steps' decisions against a
throw-away copy of the hub's state and partners that are read but never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["PlannedOrder", "PlannedPrice", "PlannedProduct", "PlannedStockChange"]


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """A web order orders-out would post, or (``refusal`` set) one the back office would
    refuse, with its words and code (unknown SKU, inactive item, ...)."""

    web_id: str
    number: str
    lines: tuple[tuple[str, int], ...]
    refusal: str | None = None
    code: str | None = None

    @property
    def refused(self) -> bool:
        return self.refusal is not None


@dataclass(frozen=True, slots=True)
class PlannedStockChange:
    """A stock change inventory-out would push: the web showed ``web_now`` when the hub
    last read it (None: not known), the hub last sent ``last_sent``, it would now send
    ``new``; ``why`` is ``domain.inventory.push_reason``'s (hub-managed, withheld orders,
    back-office change) and ``withheld`` the quantity web orders hold back."""

    sku: str
    location: str
    web_now: int | None
    last_sent: int | None
    new: int
    why: str
    withheld: int = 0


@dataclass(frozen=True, slots=True)
class PlannedProduct:
    """A product the catalog step would create on the web store (filled by the catalog
    planner; see ``SyncPlan.products_to_create``)."""

    sku: str
    name: str | None
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class PlannedPrice:
    """A price the catalog step would change on the web store (filled by the catalog
    planner; see ``SyncPlan.price_changes``)."""

    sku: str
    web_now: Decimal | None
    new: Decimal
