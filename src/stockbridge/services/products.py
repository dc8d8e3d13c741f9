"""Products as the merchant sorts them: which are *assigned* to the hub (backorder and
pre-order products whose stock the hub manages, ``Variant.hub_managed`` in storage), and
which follow a mode of their own instead of the store's (``Variant.inventory_source``).
Who then owns each product's stock is the domain's rule (``domain/ownership.py``).

Every use case checks all its input before it writes anything: an unknown SKU, a pattern
that matches nothing, a product whose stock another system owns raise and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockbridge.bootstrap import Hub
from stockbridge.db.models import Variant
from stockbridge.domain.model import InventorySource, Step, Trigger
from stockbridge.domain.ownership import (
    OWNER_WORDS,
    effective_source,
    initial_hub_quantity,
    stock_owner,
)
from stockbridge.services.errors import InvalidSetting
from stockbridge.services.hints import unknown_sku_hint
from stockbridge.services.stores import find_store
from stockbridge.sync.runner import RunReport

__all__ = [
    "MAX_PRODUCTS",
    "AssignProducts",
    "AssignmentChanged",
    "OwnedElsewhere",
    "ProductSource",
    "SetProductSource",
    "UnknownProducts",
    "assign_products",
    "carry_out",
    "product_source",
    "set_product_source",
]

#: SKUs one assignment may name or match.
MAX_PRODUCTS = 10_000
MAX_SKU = 255


class UnknownProducts(InvalidSetting):
    """SKUs the store does not have, or a pattern that matches none of its SKUs."""


class OwnedElsewhere(InvalidSetting):
    """The product's stock belongs to another system (the web store, the ERP), so the hub
    may not set it."""


@dataclass(frozen=True)
class AssignProducts:
    """Assign products to the hub (``assigned`` True) or take them back (False): the SKUs
    named, and every SKU matching the glob ``pattern`` (``*``, ``?``, ``[...]``)."""

    store: str | None
    skus: tuple[str, ...] = ()
    pattern: str | None = None
    assigned: bool = True


@dataclass(frozen=True)
class SetProductSource:
    """Give one product a mode of its own (``source`` None: it follows the store's)."""

    store: str | None
    sku: str
    source: InventorySource | None


@dataclass(frozen=True)
class ProductSource:
    """Where a product's stock comes from: whether it is assigned, its own mode if it has
    one, the mode that governs it, and the owner that follows (``source_of_truth``:
    hub, back_office, erp or web)."""

    sku: str
    assigned: bool
    source_override: str | None
    mode: str
    source_of_truth: str
    explanation: str


@dataclass(frozen=True)
class AssignmentChanged:
    store: str
    assigned: bool
    changed: tuple[str, ...]  # SKUs whose assignment changed
    unchanged: tuple[str, ...]  # SKUs that already were as asked
    run_id: int | None  # the inventory-out run carrying it to the web store


@dataclass(frozen=True)
class ProductSourceSet:
    product: ProductSource
    run_id: int


def product_source(store_source: str, variant: Variant) -> ProductSource:
    """Who owns ``variant``'s stock in a store whose mode is ``store_source``."""
    mode = effective_source(store_source, variant.inventory_source)
    owner = stock_owner(mode, variant.hub_managed)
    kind = "assigned" if variant.hub_managed else "not assigned"
    return ProductSource(
        sku=variant.sku,
        assigned=variant.hub_managed,
        source_override=variant.inventory_source,
        mode=mode.value,
        source_of_truth=owner.value,
        explanation=f"{kind}, {mode.value} mode: {OWNER_WORDS[owner]} owns its stock",
    )


def _checked_skus(skus: tuple[str, ...]) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(sku.strip() for sku in skus))
    if any(not sku or len(sku) > MAX_SKU for sku in unique):
        raise InvalidSetting(f"a SKU is 1-{MAX_SKU} characters")
    if len(unique) > MAX_PRODUCTS:
        raise InvalidSetting(f"at most {MAX_PRODUCTS:,} SKUs at once")
    return unique


def assign_products(hub: Hub, command: AssignProducts) -> AssignmentChanged:
    """Assign (or take back) the products and queue an inventory-out run. An assigned
    product starts with the quantity its owner shows now (``initial_hub_quantity``), so
    assigning changes nothing on the web by itself. Raises ``UnknownProducts`` for a SKU
    the store lacks or a pattern matching none, with nothing changed."""
    skus = _checked_skus(command.skus)
    pattern = command.pattern
    if not skus and pattern is None:
        raise InvalidSetting("name at least one SKU, or a pattern")
    if pattern is not None and not 1 <= len(pattern) <= MAX_SKU:
        raise InvalidSetting(f"a pattern is 1-{MAX_SKU} characters")
    with hub.uow() as uow:
        store = find_store(uow, command.store)
        targets = uow.catalog.variants_by_sku(store.id, skus)
        unknown = [sku for sku in skus if sku not in targets]
        if unknown:
            raise UnknownProducts(
                f"store {store.name!r} has no SKU {', '.join(unknown[:20])}"
                f"{f' (and {len(unknown) - 20} more)' if len(unknown) > 20 else ''}; "
                f"nothing was changed. Hint: {unknown_sku_hint(uow, store)}"
            )
        if pattern is not None:
            matched = uow.catalog.variants_matching(store.id, pattern, MAX_PRODUCTS)
            if not matched:
                raise UnknownProducts(
                    f"no SKU of store {store.name!r} matches {pattern!r}; nothing was changed"
                )
            if len(matched) > MAX_PRODUCTS:
                raise InvalidSetting(
                    f"{pattern!r} matches more than {MAX_PRODUCTS:,} SKUs; narrow it "
                    "(nothing was changed)"
                )
            targets.update((v.sku, v) for v in matched)
        moving = sorted(
            (v for v in targets.values() if v.hub_managed != command.assigned),
            key=lambda v: v.sku,
        )
        plan: dict[str, int | None] = {v.sku: None for v in moving}
        if command.assigned:
            stock = uow.catalog.stock_of([v.id for v in moving])
            for variant in moving:
                default = next((s for s in stock[variant.id] if s.location == "default"), None)
                plan[variant.sku] = initial_hub_quantity(
                    effective_source(store.inventory_source, variant.inventory_source),
                    None if default is None else default.web_qty,
                    None if default is None else default.back_office_qty,
                )
        run_id = None
        if plan:
            uow.catalog.set_assigned(store.id, plan)
            run, _merged = uow.runs.request(store.id, (Step.INVENTORY_OUT,), Trigger.MANUAL)
            run_id = run.id
        uow.commit()
        return AssignmentChanged(
            store=store.name,
            assigned=command.assigned,
            changed=tuple(plan),
            unchanged=tuple(sorted(set(targets) - set(plan))),
            run_id=run_id,
        )


def set_product_source(hub: Hub, command: SetProductSource) -> ProductSourceSet:
    """Set (or clear) the product's own mode and queue an inventory-out run, since its
    owner may have changed. An unknown SKU raises ``UnknownProducts``."""
    with hub.uow() as uow:
        store = find_store(uow, command.store)
        variant = uow.catalog.variant(store.id, command.sku)
        if variant is None:
            raise UnknownProducts(
                f"store {store.name!r} has no SKU {command.sku!r}; nothing was changed. "
                f"Hint: {unknown_sku_hint(uow, store)}"
            )
        uow.catalog.set_source_override(variant, command.source)
        run, _merged = uow.runs.request(store.id, (Step.INVENTORY_OUT,), Trigger.MANUAL)
        uow.commit()
        return ProductSourceSet(product_source(store.inventory_source, variant), run.id)


def carry_out(hub: Hub, run_id: int) -> RunReport:
    """Carry out a requested run now, in this process (the CLI's way: a ``serve`` process
    elsewhere only runs what its own queue is handed)."""
    return hub.runner().execute(run_id)
