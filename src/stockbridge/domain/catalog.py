"""Merging what partners report about a variant into what the hub holds.

Both merges follow one newest-wins rule (``domain/freshness.py``), each against the
modification time of its own side: a back-office report never goes stale because the
web changed the variant, nor the reverse. Where the web store is the master of stock
(``InventorySource.web_is_master``) it is the master of name and price too; otherwise the
web only fills in what the hub does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from stockbridge.domain.freshness import newest_wins
from stockbridge.domain.model import BackOfficeItem, WebVariant

__all__ = ["VariantState", "merge_back_office_item", "merge_web_variant"]


@dataclass(frozen=True, slots=True)
class VariantState:
    """What the hub holds about a variant (the parts the merges decide), and one of its
    stock rows' quantity: the back office's or the web's, depending on the merge.
    """

    name: str | None = None
    price: Decimal | None = None
    active: bool = True
    back_office_modified_at: datetime | None = None
    web_modified_at: datetime | None = None
    quantity: int | None = None


def merge_back_office_item(held: VariantState, item: BackOfficeItem) -> VariantState | None:
    """The variant after the back office's report ``item``; None when the report is stale.

    Name and price are taken when reported; ``active`` always; the quantity only for a
    stock item (``quantity`` None: a non-stock item leaves the hub's figure as it is).
    ``held.quantity`` is the back-office quantity at ``item.location``.
    """
    if not newest_wins(held.back_office_modified_at, item.modified_at):
        return None
    return replace(
        held,
        name=held.name if item.name is None else item.name,
        price=held.price if item.price is None else item.price,
        active=item.active,
        back_office_modified_at=item.modified_at or held.back_office_modified_at,
        quantity=held.quantity if item.quantity is None else item.quantity,
    )


def merge_web_variant(
    held: VariantState, seen: WebVariant, *, web_is_master: bool
) -> VariantState | None:
    """The variant after the web store's copy ``seen``; None when the copy is stale.

    Name and price come from the web where it is the master or the hub has none; the
    quantity (the web's stock at ``seen.location``, None when untracked) is always the
    web's own.
    """
    if not newest_wins(held.web_modified_at, seen.modified_at):
        return None
    take_name = seen.name is not None and (web_is_master or held.name is None)
    take_price = seen.price is not None and (web_is_master or held.price is None)
    return replace(
        held,
        name=seen.name if take_name else held.name,
        price=seen.price if take_price else held.price,
        web_modified_at=seen.modified_at or held.web_modified_at,
        quantity=seen.quantity,
    )


def changes_hub(held: VariantState, merged: VariantState) -> bool:
    """Whether a merge changed what the hub holds (name, price, active, quantity), not
    just the time it last heard: the honest "changed" count of a step (a report that
    repeats what the hub has is read, not changed)."""
    return (held.name, held.price, held.active, held.quantity) != (
        merged.name,
        merged.price,
        merged.active,
        merged.quantity,
    )
