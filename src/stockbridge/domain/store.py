"""A store's settings as the sync engine sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from stockbridge.domain.model import BooksOptions, InventorySource
from stockbridge.domain.web_catalog import CatalogSettings

__all__ = ["StoreSettings"]


@dataclass(frozen=True, slots=True)
class StoreSettings:
    id: int
    name: str
    timezone: str
    inventory_source: InventorySource
    erp_name: str | None
    sync_all_button: bool
    #: What its orders bring to the books (customers, payment, deposit, reversals).
    books: BooksOptions = field(default_factory=BooksOptions)
    #: What of the catalog goes to the web store (``domain/web_catalog.py``).
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
