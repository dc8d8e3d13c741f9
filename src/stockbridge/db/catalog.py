"""The catalog repository: variants and stock levels, applying what partners report.

Split by concept: reads in ``catalog_read.py``, stock out to the web (withholding, the
stock-row stream, what was last sent) in ``catalog_stock.py``, applying partner reports,
hub-managed stock, assigned products and per-product sources here. The merge rules are
the domain's (``domain/catalog.py``), and so is who owns a product's stock
(``domain/ownership.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stockbridge.db.catalog_read import CatalogReads
from stockbridge.db.catalog_stock import POSTABLE_STATUSES, StockToWeb
from stockbridge.db.catalog_web import CatalogToWeb
from stockbridge.db.models import PartnerLink, StockLevel, Store, Variant
from stockbridge.db.upsert import upsert
from stockbridge.domain.catalog import (
    VariantState,
    changes_hub,
    merge_back_office_item,
    merge_web_variant,
)
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    InventorySource,
    OrderLine,
    WebVariant,
)
from stockbridge.domain.ownership import (
    effective_source,
    erp_sets_hub_quantity,
    orders_take_hub_quantity,
    web_sets_hub_quantity,
)
from stockbridge.domain.web_catalog import web_shows

__all__ = ["POSTABLE_STATUSES", "CatalogRepository"]


def _held(variant: Variant, quantity: int | None) -> VariantState:
    return VariantState(
        name=variant.name,
        price=variant.price,
        active=variant.active,
        back_office_modified_at=variant.back_office_modified_at,
        web_modified_at=variant.web_modified_at,
        quantity=quantity,
    )


class CatalogRepository(CatalogReads, StockToWeb, CatalogToWeb):
    def __init__(self, session: Session) -> None:
        self.session = session

    # applying partner reports ---------------------------------------------------

    def _variants_by_sku(self, store_id: int, skus: Iterable[str]) -> dict[str, Variant]:
        wanted = list(set(skus))
        found: dict[str, Variant] = {}
        for start in range(0, len(wanted), 500):
            for variant in self.session.scalars(
                select(Variant).where(
                    Variant.store_id == store_id, Variant.sku.in_(wanted[start : start + 500])
                )
            ):
                found[variant.sku] = variant
        return found

    def _stock_by_key(self, variant_ids: Iterable[int]) -> dict[tuple[int, str], StockLevel]:
        ids = list(set(variant_ids))
        found: dict[tuple[int, str], StockLevel] = {}
        for start in range(0, len(ids), 500):
            for level in self.session.scalars(
                select(StockLevel).where(StockLevel.variant_id.in_(ids[start : start + 500]))
            ):
                found[(level.variant_id, level.location)] = level
        return found

    def _ensure(
        self, store_id: int, skus: Iterable[str], locations: Iterable[tuple[str, str]]
    ) -> tuple[dict[str, Variant], dict[tuple[int, str], StockLevel]]:
        now = datetime.now(UTC)
        wanted = set(skus)
        variants = self._variants_by_sku(store_id, wanted)
        for sku in wanted - variants.keys():
            variants[sku] = Variant(store_id=store_id, sku=sku, active=True, updated_at=now)
            self.session.add(variants[sku])
        self.session.flush()
        levels = self._stock_by_key(v.id for v in variants.values())
        for sku, location in set(locations):
            key = (variants[sku].id, location)
            if key not in levels:
                levels[key] = StockLevel(variant_id=key[0], location=location, updated_at=now)
                self.session.add(levels[key])
        return variants, levels

    def apply_back_office_items(
        self,
        store_id: int,
        items: Sequence[BackOfficeItem],
        *,
        store_source: InventorySource,
    ) -> int:
        """Record what the back office reports (``merge_back_office_item``); new SKUs
        become new variants; a stale report changes nothing. The hub's quantity of an
        assigned product is set only where the ERP owns it (``erp_sets_hub_quantity``:
        api mode); otherwise the back office's figure has a column of its own. Returns how
        many items changed the hub.
        """
        variants, levels = self._ensure(
            store_id, (i.sku for i in items), ((i.sku, i.location) for i in items)
        )
        now = datetime.now(UTC)
        changed = 0
        for item in items:
            variant = variants[item.sku]
            level = levels[(variant.id, item.location)]
            held = _held(variant, level.back_office_qty)
            merged = merge_back_office_item(held, item)
            if merged is None:
                continue
            moved = changes_hub(held, merged)
            variant.name, variant.price, variant.active = merged.name, merged.price, merged.active
            variant.back_office_modified_at = merged.back_office_modified_at
            variant.updated_at = now
            if level.back_office_qty != merged.quantity:
                level.back_office_qty = merged.quantity
                level.updated_at = now
            if (
                item.quantity is not None
                and level.hub_qty != item.quantity
                and erp_sets_hub_quantity(
                    effective_source(store_source, variant.inventory_source), variant.hub_managed
                )
            ):
                level.hub_qty = item.quantity
                level.updated_at = now
                moved = True
            changed += moved
        return changed

    def apply_web_variants(
        self,
        store_id: int,
        connection_id: int,
        variants_seen: Sequence[WebVariant],
        *,
        store_source: InventorySource,
    ) -> int:
        """Record the web store's variants (``merge_web_variant``): their partner reference
        (to address writes) and web stock; name and price too where the product's mode
        makes the web store the master or the hub has none; and, where the web store owns
        an assigned product's stock (``web_sets_hub_quantity``: erp_via_web), the hub's
        quantity too.
        """
        variants, levels = self._ensure(
            store_id,
            (v.sku for v in variants_seen),
            ((v.sku, v.location) for v in variants_seen),
        )
        now = datetime.now(UTC)
        links: list[dict[str, Any]] = []
        shown: list[dict[str, Any]] = []
        drifted: list[tuple[int, str]] = []
        changed = 0
        for seen in variants_seen:
            variant = variants[seen.sku]
            level = levels[(variant.id, seen.location)]
            source = effective_source(store_source, variant.inventory_source)
            held = _held(variant, level.web_qty)
            merged = merge_web_variant(held, seen, web_is_master=source.web_is_master)
            if merged is None:
                continue
            changed += changes_hub(held, merged)
            variant.name, variant.price = merged.name, merged.price
            variant.web_modified_at = merged.web_modified_at
            level.web_qty = merged.quantity
            if merged.quantity is not None and web_sets_hub_quantity(source, variant.hub_managed):
                level.hub_qty = merged.quantity
            level.updated_at = now
            if merged.quantity is not None:
                drifted.append((level.id, str(merged.quantity)))
            links.append(
                {
                    "connection_id": connection_id,
                    "entity": "variant",
                    "hub_id": variant.id,
                    "partner_id": seen.partner_ref,
                    "updated_at": now,
                }
            )
            for entity, value in web_shows(seen):
                shown.append(
                    {
                        "connection_id": connection_id,
                        "entity": entity,
                        "hub_id": variant.id,
                        "sent_value": value,
                        "updated_at": now,
                    }
                )
        self.session.flush()
        upsert(
            self.session,
            PartnerLink.__table__,  # type: ignore[arg-type]
            links,
            keys=("connection_id", "entity", "hub_id"),
            update=("partner_id", "updated_at"),
        )
        upsert(  # what the web shows: the catalog step sends only what differs
            self.session,
            PartnerLink.__table__,  # type: ignore[arg-type]
            shown,
            keys=("connection_id", "entity", "hub_id"),
            update=("sent_value", "updated_at"),
        )
        self._forget_sent_where_web_differs(connection_id, drifted)
        return changed

    # hub-managed stock -----------------------------------------------------------

    def set_hub_managed(self, store_id: int, sku: str, quantity: int | None) -> Variant:
        """Make ``sku`` hub-managed with ``quantity`` at the default location (None: stop
        managing it in the hub). Creates the variant if the hub does not know it yet.
        """
        variants, levels = self._ensure(store_id, [sku], [(sku, DEFAULT_LOCATION)])
        variant = variants[sku]
        variant.hub_managed = quantity is not None
        level = levels[(variant.id, DEFAULT_LOCATION)]
        level.hub_qty = quantity
        level.updated_at = variant.updated_at = datetime.now(UTC)
        return variant

    def adjust_hub_managed(self, store_id: int, lines: Iterable[OrderLine], sign: int) -> None:
        """Take (sign -1) or give back (+1) order quantities of assigned variants whose
        figure the hub pushes (``orders_take_hub_quantity``); where the web store owns an
        assigned product's stock, the web counts its own orders and the hub follows."""
        quantities: dict[str, int] = {}
        for line in lines:
            quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
        if not quantities:
            return
        managed = self.session.execute(
            select(Variant.id, Variant.sku, Variant.inventory_source, Store.inventory_source)
            .join(Store, Store.id == Variant.store_id)
            .where(
                Variant.store_id == store_id, Variant.sku.in_(list(quantities)), Variant.hub_managed
            )
        ).all()
        for variant_id, sku, override, store_source in managed:
            if not orders_take_hub_quantity(effective_source(store_source, override), True):
                continue
            self.session.execute(
                update(StockLevel)
                .where(StockLevel.variant_id == variant_id, StockLevel.location == DEFAULT_LOCATION)
                .values(
                    hub_qty=func.coalesce(StockLevel.hub_qty, 0) + sign * quantities[sku],
                    updated_at=datetime.now(UTC),
                )
            )

    # assigned products and per-product sources ------------------------------------

    def variants_by_sku(self, store_id: int, skus: Iterable[str]) -> dict[str, Variant]:
        """The store's variants among ``skus``, by SKU (unknown SKUs are absent)."""
        return self._variants_by_sku(store_id, skus)

    def variants_matching(self, store_id: int, pattern: str, limit: int) -> list[Variant]:
        """The store's variants whose SKU matches the glob ``pattern`` (``*``, ``?``,
        ``[...]``; case-sensitive), by SKU, at most ``limit + 1`` of them (so the caller
        can tell "more than limit"). The literal text before the first wildcard narrows
        the search in SQL; the glob itself decides."""
        prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        query = select(Variant).where(Variant.store_id == store_id).order_by(Variant.sku)
        if prefix:
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Variant.sku.like(f"{escaped}%", escape="\\"))
        found: list[Variant] = []
        for variant in self.session.scalars(query.execution_options(yield_per=1000)):
            if fnmatchcase(variant.sku, pattern):
                found.append(variant)
                if len(found) > limit:
                    break
        return found

    def set_assigned(self, store_id: int, hub_quantities: Mapping[str, int | None]) -> None:
        """Assign each SKU to the hub with its starting quantity at the default location,
        or (None) take it back: its hub quantity is forgotten and the mode's other source
        owns it again. Writes in bulk; the variants exist (the caller checked)."""
        variants, levels = self._ensure(
            store_id, hub_quantities, ((sku, DEFAULT_LOCATION) for sku in hub_quantities)
        )
        now = datetime.now(UTC)
        for sku, quantity in hub_quantities.items():
            variant = variants[sku]
            variant.hub_managed = quantity is not None
            level = levels[(variant.id, DEFAULT_LOCATION)]
            level.hub_qty = quantity
            level.updated_at = variant.updated_at = now

    def set_source_override(self, variant: Variant, source: InventorySource | None) -> None:
        """The product's own inventory-source mode (None: it follows the store's)."""
        variant.inventory_source = None if source is None else source.value
        variant.updated_at = datetime.now(UTC)
