"""A store's settings as the sync engine sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from stockbridge.domain.model import BooksOptions, InventorySource

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
