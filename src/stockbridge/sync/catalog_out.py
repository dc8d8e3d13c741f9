"""Step 4's catalog part (before the stock push): new back-office items created on the
web store, prices (and names) sent where the back office is the price master, inactive
items hidden and re-activated ones shown again, each as the store's settings say
(``domain/web_catalog.py`` plans it; this module only carries the plan out).

Exactly once across crashes: before a product is created, its variant is marked
``creating`` and that is committed; the reference the store answers is recorded (and the
mark cleared) after. A variant still marked when a later run reads it is looked up by SKU
first and adopted if the store has it; only a SKU the store does not have is created
again. A lost answer to a creation is the same case.

Only what changed moves: what was sent (price, name, hidden) is recorded per variant
after the store accepted it, and updates are sent in full batches of the partner's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stockbridge.connectors.base import CatalogWebStore
from stockbridge.connectors.errors import TransientPartnerError
from stockbridge.domain.batching import batched
from stockbridge.domain.model import ItemError
from stockbridge.domain.web_catalog import (
    ABSENT_REF,
    CatalogRow,
    CatalogUpdate,
    NewProduct,
    money_text,
    new_product,
    plan_catalog,
)
from stockbridge.sync.context import StepContext
from stockbridge.sync.inventory_in import CATALOG_READ_MARK

__all__ = ["CATALOG_CHUNK", "CREATE_RECORD_EVERY", "CatalogOutcome", "catalog_out"]

#: Variants read per keyset page.
CATALOG_CHUNK = 2000
#: Products created between two commits of their references: a crash throws away at most
#: this many answers, which the next run looks up (one look-up call per 50 SKUs).
CREATE_RECORD_EVERY = 25
#: SKUs named in the step's message (the rest are counted).
LISTED = 20
#: The item error code of a creation whose outcome is unknown.
UNKNOWN = "unknown-outcome"


@dataclass
class CatalogOutcome:
    created: list[str] = field(default_factory=list)
    adopted: int = 0
    updated: int = 0
    failed: int = 0

    def message(self) -> str | None:
        parts: list[str] = []
        if self.created:
            listed = ", ".join(self.created[:LISTED])
            more = len(self.created) - LISTED
            parts.append(
                f"created {len(self.created)} product(s) on the web store: {listed}"
                + (f" and {more} more" if more > 0 else "")
            )
        if self.adopted:
            parts.append(f"found {self.adopted} product(s) created before")
        if self.updated:
            parts.append(f"updated {self.updated} product(s) (price, name, visibility)")
        return "; ".join(parts) or None


def catalog_out(ctx: StepContext, web: CatalogWebStore, connection_id: int) -> CatalogOutcome:
    """Carry out the catalog plan for every variant of the store, page by page. Nothing
    until the web catalog was read once (inventory-in): only then does a SKU without a web
    reference mean the web store lacks it."""
    settings, mode = ctx.store.catalog, ctx.store.inventory_source
    outcome = CatalogOutcome()
    with ctx.uow() as uow:
        if uow.stores.cursor(connection_id, CATALOG_READ_MARK) is None:
            return outcome
    waiting: list[CatalogUpdate] = []
    after = 0
    while True:
        with ctx.uow() as uow:
            uow.read_only()
            chunk = uow.catalog.catalog_rows(
                ctx.store.id, web_connection_id=connection_id, after=after, limit=CATALOG_CHUNK
            )
        if not chunk.rows:
            break
        after = chunk.resume_after
        plan = plan_catalog(chunk.rows, settings, mode)
        if plan.absent:
            with ctx.uow() as uow:
                uow.catalog.record_web_refs(
                    connection_id, [(r.variant_id, ABSENT_REF) for r in plan.absent]
                )
                uow.commit()
        creates = list(plan.create)
        if plan.look_up:
            creates += _look_up(ctx, web, connection_id, plan.look_up, outcome)
        if creates:
            _create(ctx, web, connection_id, creates, outcome)
        waiting.extend(plan.update)
        full = len(waiting) - len(waiting) % web.catalog_batch
        if full:
            _send(ctx, web, connection_id, waiting[:full], outcome)
            waiting = waiting[full:]
    if waiting:
        _send(ctx, web, connection_id, waiting, outcome)
    return outcome


def _look_up(
    ctx: StepContext,
    web: CatalogWebStore,
    connection_id: int,
    rows: Sequence[CatalogRow],
    outcome: CatalogOutcome,
) -> list[NewProduct]:
    """Rows whose creation was started and not recorded: adopt those the store has;
    return what is still to create."""
    found = web.find_skus([r.sku for r in rows])
    adopted = [(r.variant_id, found[r.sku]) for r in rows if r.sku in found]
    again = [r for r in rows if r.sku not in found]
    still = [p for p in (new_product(r, ctx.store.catalog) for r in again) if p is not None]
    wanted = {p.variant_id for p in still}
    dropped = [r.variant_id for r in again if r.variant_id not in wanted]
    with ctx.uow() as uow:
        uow.catalog.record_web_refs(connection_id, adopted + [(vid, ABSENT_REF) for vid in dropped])
        uow.catalog.record_catalog_sent(
            connection_id,
            "creating",
            [(vid, None) for vid, _ in adopted] + [(vid, None) for vid in dropped],
        )
        uow.commit()
    outcome.adopted += len(adopted)
    return still


def _create(
    ctx: StepContext,
    web: CatalogWebStore,
    connection_id: int,
    products: Sequence[NewProduct],
    outcome: CatalogOutcome,
) -> None:
    with ctx.uow() as uow:  # committed before any creation is attempted
        uow.catalog.record_catalog_sent(
            connection_id, "creating", [(p.variant_id, "1") for p in products]
        )
        uow.commit()
    for group in batched(products, CREATE_RECORD_EVERY):
        made: list[tuple[NewProduct, str]] = []
        refused: list[NewProduct] = []
        unknown: list[NewProduct] = []
        errors: list[ItemError] = []
        for product in group:
            try:
                answer = web.create_product(product)
            except TransientPartnerError as exc:
                # Unknown whether it exists: it stays marked and is looked up next run.
                errors.append(
                    ItemError(product.sku, f"creation not confirmed: {exc.message}", UNKNOWN)
                )
                unknown.append(product)
                continue
            if isinstance(answer, ItemError):
                refused.append(product)
                errors.append(answer)
            else:
                made.append((product, answer))
        with ctx.uow() as uow:
            catalog = uow.catalog
            # Refused or unknown: not on the web as far as the hub knows, so the stock push
            # leaves it alone instead of failing on it by SKU as well.
            catalog.record_web_refs(
                connection_id,
                [(p.variant_id, ref) for p, ref in made]
                + [(p.variant_id, ABSENT_REF) for p in (*refused, *unknown)],
            )
            catalog.record_catalog_sent(
                connection_id, "price", [(p.variant_id, money_text(p.price)) for p, _ in made]
            )
            catalog.record_catalog_sent(
                connection_id, "name", [(p.variant_id, p.name) for p, _ in made]
            )
            catalog.record_catalog_sent(
                connection_id,
                "creating",
                [(p.variant_id, None) for p, _ in made] + [(p.variant_id, None) for p in refused],
            )
            catalog.record_catalog_sent(
                connection_id,
                "visible",
                [(p.variant_id, "1" if p.visible else "0") for p, _ in made],
            )
            catalog.record_catalog_sent(  # a new product: nothing the hub hid before
                connection_id, "hidden", [(p.variant_id, None) for p, _ in made]
            )
            uow.commit()
        outcome.created.extend(p.sku for p, _ in made)
        if errors:
            outcome.failed += len(errors)
            ctx.tracker.item_failed(errors)
        ctx.tracker.checkpoint()


def _send(
    ctx: StepContext,
    web: CatalogWebStore,
    connection_id: int,
    updates: Sequence[CatalogUpdate],
    outcome: CatalogOutcome,
) -> None:
    result = web.update_catalog(updates)
    refused = {error.key for error in result.errors}
    taken = [u for u in updates if u.sku not in refused]
    with ctx.uow() as uow:
        catalog = uow.catalog
        catalog.record_catalog_sent(
            connection_id,
            "price",
            [(u.variant_id, money_text(u.price)) for u in taken if u.price is not None],
        )
        catalog.record_catalog_sent(
            connection_id, "name", [(u.variant_id, u.name) for u in taken if u.name is not None]
        )
        catalog.record_catalog_sent(
            connection_id,
            "hidden",
            [(u.variant_id, None if u.visible else "1") for u in taken if u.visible is not None],
        )
        catalog.record_catalog_sent(
            connection_id,
            "visible",
            [(u.variant_id, "1" if u.visible else "0") for u in taken if u.visible is not None],
        )
        uow.commit()
    outcome.updated += len(taken)
    if result.errors:
        outcome.failed += len(result.errors)
        ctx.tracker.item_failed(list(result.errors))
    ctx.tracker.checkpoint()
