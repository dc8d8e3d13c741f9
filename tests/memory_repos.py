"""The in-memory catalog and order repositories (see ``tests/memory_uow.py``). They apply
the domain's rules, as the SQL repositories do."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from stockbridge.domain.books import ReversalPlan, plan_reversals
from stockbridge.domain.catalog import (
    VariantState,
    changes_hub,
    merge_back_office_item,
    merge_web_variant,
)
from stockbridge.domain.inventory import StockChunk, StockRow
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    CancelAs,
    InventorySource,
    OrderLine,
    WebOrder,
    WebOrderStatus,
    WebVariant,
)
from stockbridge.domain.orders import (
    OrderState,
    PendingOrder,
    PendingReversal,
    PostState,
    ReversalRecord,
    apply_web_order,
)
from stockbridge.domain.ownership import (
    effective_source,
    erp_sets_hub_quantity,
    orders_take_hub_quantity,
    web_sets_hub_quantity,
)
from stockbridge.domain.reconcile import HubOrder, HubReversal
from stockbridge.domain.snapshot import HubRowLike
from stockbridge.domain.web_catalog import CatalogChunk, CatalogRow, web_shows
from stockbridge.domain.withholding import withheld
from tests.memory_state import (
    MemLevel,
    MemLink,
    MemOrder,
    MemoryState,
    MemReversal,
    MemVariant,
)

__all__ = ["MemoryCatalog", "MemoryOrders", "MemorySources"]

_ACKNOWLEDGEABLE = (WebOrderStatus.AWAITING_PAYMENT, WebOrderStatus.OPEN)


def _held(variant: MemVariant, quantity: int | None) -> VariantState:
    return VariantState(
        variant.name,
        variant.price,
        variant.active,
        variant.back_office_modified_at,
        variant.web_modified_at,
        quantity,
    )


class MemoryCatalog:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    # helpers (and seeding for tests) -------------------------------------------------

    def ensure(self, store_id: int, sku: str, location: str) -> tuple[MemVariant, MemLevel]:
        variant_id = self.s.variant_ids.get((store_id, sku))
        if variant_id is None:
            variant_id = self.s.new_id()
            self.s.variants[variant_id] = MemVariant(variant_id, store_id, sku)
            self.s.variant_ids[(store_id, sku)] = variant_id
        level_id = self.s.level_ids.get((variant_id, location))
        if level_id is None:
            level_id = self.s.new_id()
            self.s.levels[level_id] = MemLevel(level_id, variant_id, location)
            self.s.level_ids[(variant_id, location)] = level_id
        return self.s.variants[variant_id], self.s.levels[level_id]

    def _levels_of(self, variant_id: int) -> list[MemLevel]:
        return sorted(
            (level for level in self.s.levels.values() if level.variant_id == variant_id),
            key=lambda level: level.id,
        )

    def _store_variants(self, store_id: int) -> list[MemVariant]:
        return sorted(
            (v for v in self.s.variants.values() if v.store_id == store_id), key=lambda v: v.id
        )

    def set_hub_managed(self, store_id: int, sku: str, quantity: int | None) -> None:
        variant, level = self.ensure(store_id, sku, DEFAULT_LOCATION)
        variant.hub_managed = quantity is not None
        level.hub_qty = quantity

    def adjust_hub_managed(self, store_id: int, lines: Iterable[OrderLine], sign: int) -> None:
        store_source = self.s.stores[store_id].inventory_source
        for line in lines:
            variant_id = self.s.variant_ids.get((store_id, line.sku))
            if variant_id is None or not self.s.variants[variant_id].hub_managed:
                continue
            override = self.s.variants[variant_id].inventory_source
            if not orders_take_hub_quantity(effective_source(store_source, override), True):
                continue
            level_id = self.s.level_ids.get((variant_id, DEFAULT_LOCATION))
            if level_id is not None:
                level = self.s.levels[level_id]
                level.hub_qty = (level.hub_qty or 0) + sign * line.quantity

    def forget_sent(self, store_id: int, skus: Iterable[str]) -> None:
        for sku in set(skus):
            variant_id = self.s.variant_ids.get((store_id, sku))
            level_id = self.s.level_ids.get((variant_id or 0, DEFAULT_LOCATION))
            if level_id is None:
                continue
            for (_connection, entity, hub_id), link in self.s.links.items():
                if entity == "stock" and hub_id == level_id:
                    link.sent_value = None

    # the port --------------------------------------------------------------------

    def apply_back_office_items(
        self, store_id: int, items: Sequence[BackOfficeItem], *, store_source: InventorySource
    ) -> int:
        pairs = [self.ensure(store_id, i.sku, i.location) for i in items]
        changed = 0
        for item, (variant, level) in zip(items, pairs, strict=True):
            held = _held(variant, level.back_office_qty)
            merged = merge_back_office_item(held, item)
            if merged is None:
                continue
            moved = changes_hub(held, merged)
            variant.name, variant.price, variant.active = merged.name, merged.price, merged.active
            variant.back_office_modified_at = merged.back_office_modified_at
            level.back_office_qty = merged.quantity
            source = effective_source(store_source, variant.inventory_source)
            if item.quantity is not None and erp_sets_hub_quantity(source, variant.hub_managed):
                moved = moved or level.hub_qty != item.quantity
                level.hub_qty = item.quantity
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
        pairs = [self.ensure(store_id, v.sku, v.location) for v in variants_seen]
        changed = 0
        for seen, (variant, level) in zip(variants_seen, pairs, strict=True):
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
            for entity, value in web_shows(seen):
                shown = self.s.links.setdefault((connection_id, entity, variant.id), MemLink())
                shown.sent_value = value
            link = self.s.links.setdefault((connection_id, "variant", variant.id), MemLink())
            link.partner_id = seen.partner_ref
            sent = self.s.links.get((connection_id, "stock", level.id))
            if merged.quantity is not None and sent is not None:
                # the web holds something else than the hub last sent: send it again
                sent.sent_value = (
                    None if sent.sent_value != str(merged.quantity) else sent.sent_value
                )
        return changed

    def iter_back_office_state(self, store_id: int) -> Iterator[HubRowLike]:
        rows: list[HubRowLike] = []
        for variant in self._store_variants(store_id):
            price = None if variant.price is None else str(variant.price)
            levels = self._levels_of(variant.id) or [MemLevel(0, variant.id, DEFAULT_LOCATION)]
            rows.extend(
                (
                    variant.sku,
                    level.location,
                    level.back_office_qty,
                    price,
                    variant.name,
                    variant.hub_managed,
                )
                for level in levels
            )
        return iter(sorted(rows, key=lambda row: (row[0], row[1])))

    def withheld(
        self,
        store_id: int,
        reflected_at: datetime | None,
        store_source: InventorySource | None = None,
    ) -> dict[str, int]:
        pushed_at = {
            v.sku: v.back_office_modified_at
            for v in self._store_variants(store_id)
            if store_source is not None
            and v.back_office_modified_at is not None
            and (v.inventory_source or store_source) is InventorySource.API
        }
        return withheld(
            (o.state() for o in self.s.orders.values() if o.store_id == store_id),
            reflected_at,
            pushed_at,
        )

    def count_stock_rows(self, store_id: int) -> int:
        ids = {v.id for v in self._store_variants(store_id)}
        return sum(1 for level in self.s.levels.values() if level.variant_id in ids)

    def stock_rows(
        self,
        store_id: int,
        *,
        web_connection_id: int,
        store_source: InventorySource,
        after: int,
        limit: int,
    ) -> StockChunk:
        later = [v for v in self._store_variants(store_id) if v.id > after]
        while later:
            page, later = later[:limit], later[limit:]
            rows = [
                StockRow(
                    stock_id=level.id,
                    sku=variant.sku,
                    location=level.location,
                    source=variant.inventory_source or store_source,
                    hub_managed=variant.hub_managed,
                    back_office_qty=level.back_office_qty,
                    hub_qty=level.hub_qty,
                    last_sent=self._sent(web_connection_id, level.id),
                    partner_ref=self._partner_ref(web_connection_id, variant.id),
                    web_qty=level.web_qty,
                    active=variant.active,
                )
                for variant in page
                for level in self._levels_of(variant.id)
            ]
            if rows:
                return StockChunk(rows, page[-1].id)
        return StockChunk([], after)

    def _sent(self, connection_id: int, stock_id: int) -> int | None:
        link = self.s.links.get((connection_id, "stock", stock_id))
        return None if link is None or link.sent_value is None else int(link.sent_value)

    def _partner_ref(self, connection_id: int, variant_id: int) -> str | None:
        link = self.s.links.get((connection_id, "variant", variant_id))
        return None if link is None else link.partner_id

    def web_drift(self, store_id: int, connection_id: int, seen: Sequence[WebVariant]) -> int:
        drifted = 0
        for variant in seen:
            variant_id = self.s.variant_ids.get((store_id, variant.sku))
            level_id = (
                None if variant_id is None else self.s.level_ids.get((variant_id, variant.location))
            )
            link = (
                None if level_id is None else self.s.links.get((connection_id, "stock", level_id))
            )
            if (
                variant.quantity is not None
                and link is not None
                and link.sent_value is not None
                and link.sent_value != str(variant.quantity)
            ):
                drifted += 1
        return drifted

    def record_drift(
        self, store_id: int, source: str, drifted: int, web_only: int = 0, hub_only: int = 0
    ) -> None:
        self.s.drift_checks.append((store_id, source, drifted, web_only, hub_only))

    def stock_rows_of(
        self,
        store_id: int,
        *,
        web_connection_id: int,
        store_source: InventorySource,
        skus: Collection[str],
    ) -> list[StockRow]:
        wanted = set(skus)
        rows: list[StockRow] = []
        after = 0
        while True:
            chunk = self.stock_rows(
                store_id,
                web_connection_id=web_connection_id,
                store_source=store_source,
                after=after,
                limit=1000,
            )
            if not chunk.rows:
                return rows
            rows += [row for row in chunk.rows if row.sku in wanted]
            after = chunk.resume_after

    def assigned_refs(self, store_id: int, web_connection_id: int) -> list[str]:
        refs = (
            self._partner_ref(web_connection_id, v.id)
            for v in self._store_variants(store_id)
            if v.hub_managed
        )
        return [ref for ref in refs if ref is not None]

    def record_echoes(
        self, connection_id: int, changes: Mapping[str, int | None], sent_at: datetime
    ) -> None:
        for product, change in changes.items():
            self.s.echoes[(connection_id, product)] = (change, sent_at)

    def record_sent(self, connection_id: int, sent: Sequence[tuple[int, int]]) -> None:
        for stock_id, quantity in sent:
            link = self.s.links.setdefault((connection_id, "stock", stock_id), MemLink())
            link.sent_value = str(quantity)
            self.s.levels[stock_id].web_qty = quantity

    def catalog_rows(
        self, store_id: int, *, web_connection_id: int, after: int, limit: int
    ) -> CatalogChunk:
        page = [v for v in self._store_variants(store_id) if v.id > after][:limit]

        def sent(entity: str, variant_id: int) -> str | None:
            link = self.s.links.get((web_connection_id, entity, variant_id))
            return None if link is None else link.sent_value

        rows = [
            CatalogRow(
                variant_id=v.id,
                sku=v.sku,
                name=v.name,
                price=v.price,
                active=v.active,
                from_back_office=v.back_office_modified_at is not None
                or any(level.back_office_qty is not None for level in self._levels_of(v.id)),
                partner_ref=self._partner_ref(web_connection_id, v.id),
                sent_price=sent("price", v.id),
                sent_name=sent("name", v.id),
                hidden=sent("hidden", v.id) == "1",
                creating=sent("creating", v.id) == "1",
                web_visible=None if sent("visible", v.id) is None else sent("visible", v.id) == "1",
            )
            for v in page
        ]
        return CatalogChunk(rows, page[-1].id if page else after)

    def record_web_refs(self, connection_id: int, refs: Sequence[tuple[int, str]]) -> None:
        for variant_id, ref in refs:
            link = self.s.links.setdefault((connection_id, "variant", variant_id), MemLink())
            link.partner_id = ref

    def record_catalog_sent(
        self, connection_id: int, entity: str, sent: Sequence[tuple[int, str | None]]
    ) -> None:
        for variant_id, value in sent:
            link = self.s.links.setdefault((connection_id, entity, variant_id), MemLink())
            link.sent_value = value


class MemoryOrders:
    def __init__(self, state: MemoryState, catalog: MemoryCatalog) -> None:
        self.s = state
        self.catalog = catalog

    def _row(self, store_id: int, web_id: str) -> MemOrder | None:
        row_id = self.s.order_ids.get((store_id, web_id))
        return None if row_id is None else self.s.orders[row_id]

    def _store_orders(self, store_id: int, after_row_id: int = 0) -> list[MemOrder]:
        return sorted(
            (o for o in self.s.orders.values() if o.store_id == store_id and o.id > after_row_id),
            key=lambda o: o.id,
        )

    def state(self, store_id: int, web_id: str) -> OrderState | None:
        row = self._row(store_id, web_id)
        return None if row is None else row.state()

    def apply_page(self, store_id: int, orders: Sequence[WebOrder]) -> int:
        changed = 0
        taken: list[OrderLine] = []
        given_back: list[OrderLine] = []
        moved: set[str] = set()
        for order in orders:
            row = self._row(store_id, order.web_id)
            change = apply_web_order(None if row is None else row.state(), order)
            if change.ignored:
                continue
            changed += 1
            if row is None:
                row = MemOrder(self.s.new_id(), store_id, order, change.post_state)
                self.s.orders[row.id] = row
                self.s.order_ids[(store_id, order.web_id)] = row.id
            row.order, row.post_state = order, change.post_state
            self._plan(row)
            taken.extend(change.stock_taken)
            given_back.extend(change.stock_given_back)
            moved.update(change.web_stock_moved)
        self.catalog.adjust_hub_managed(store_id, taken, -1)
        self.catalog.adjust_hub_managed(store_id, given_back, +1)
        self.catalog.forget_sent(store_id, moved)
        return changed

    def _to_post(self, store_id: int, after_row_id: int = 0) -> list[MemOrder]:
        return [
            o
            for o in self._store_orders(store_id, after_row_id)
            if o.post_state is PostState.UNCERTAIN
            or (o.post_state is PostState.PENDING and o.order.status.postable)
        ]

    def count_to_post(self, store_id: int) -> int:
        return len(self._to_post(store_id))

    def next_to_post(self, store_id: int, after_row_id: int, limit: int) -> list[PendingOrder]:
        return [
            PendingOrder(o.id, o.post_state is PostState.UNCERTAIN, o.order)
            for o in self._to_post(store_id, after_row_id)[:limit]
        ]

    def mark_uncertain(self, row_ids: Sequence[int]) -> None:
        for row_id in row_ids:
            row = self.s.orders[row_id]
            row.post_state = PostState.UNCERTAIN
            row.post_attempts += 1

    def mark_posted(self, store_id: int, connection_id: int, documents: dict[str, str]) -> None:
        now = datetime.now(UTC)
        for web_id, document in documents.items():
            row = self._row(store_id, web_id)
            if row is None:
                continue
            row.post_state, row.posted_at, row.last_error = PostState.POSTED, now, None
            link = self.s.links.setdefault((connection_id, "order", row.id), MemLink())
            link.partner_id = document
            if not row.order.status.postable:
                self._plan(row)

    def mark_not_postable(self, row_ids: list[int]) -> None:
        for row_id in row_ids:
            self.s.orders[row_id].post_state = PostState.NOT_POSTABLE

    def mark_refused(self, store_id: int, web_id: str, message: str) -> None:
        row = self._row(store_id, web_id)
        if row is not None:
            row.post_state, row.last_error = PostState.PENDING, message

    def to_acknowledge(
        self, store_id: int, max_attempts: int, after_row_id: int, limit: int
    ) -> list[tuple[int, str]]:
        return [
            (o.id, o.order.web_id)
            for o in self._store_orders(store_id, after_row_id)
            if o.post_state is PostState.POSTED
            and o.acknowledged_at is None
            and o.ack_attempts < max_attempts
            and o.order.status in _ACKNOWLEDGEABLE
        ][:limit]

    def mark_acknowledged(
        self, store_id: int, taken: Sequence[str], refused: Sequence[str]
    ) -> None:
        now = datetime.now(UTC)
        for web_id in taken:
            row = self._row(store_id, web_id)
            if row is not None:
                row.acknowledged_at = now
                row.ack_attempts += 1
        for web_id in refused:
            row = self._row(store_id, web_id)
            if row is not None:
                row.ack_attempts += 1

    # reversals --------------------------------------------------------------------

    def _mine(self, order_id: int) -> list[MemReversal]:
        return sorted(
            (r for r in self.s.reversals.values() if r.order_id == order_id), key=lambda r: r.seq
        )

    def _plan(self, row: MemOrder) -> None:
        settings = self.s.stores.get(row.store_id)
        cancel_as = settings.books.cancel_as if settings is not None else CancelAs.VOID
        mine = self._mine(row.id)
        plan = plan_reversals(
            row.order,
            posted=row.post_state is PostState.POSTED,
            recorded=[r.reversal for r in mine if r.reversal is not None],
            refused_keys=[r.key for r in mine if r.state == "refused"],
            cancel_as=cancel_as,
        )
        self._record(row.id, plan, mine)

    def _record(self, order_id: int, plan: ReversalPlan, mine: list[MemReversal]) -> None:
        seq = max((r.seq for r in mine), default=0)
        for reversal in plan.reversals:
            seq += 1
            rid = self.s.new_id()
            self.s.reversals[rid] = MemReversal(
                rid, order_id, seq, reversal.key, "pending", reversal
            )
        for refused in plan.refused:
            seq += 1
            rid = self.s.new_id()
            self.s.reversals[rid] = MemReversal(
                rid, order_id, seq, refused.key, "refused", None, refused.message
            )

    def refuse_unposted_reversals(self, store_id: int) -> int:
        count = 0
        for r in self.s.reversals.values():
            order = self.s.orders[r.order_id]
            if (
                order.store_id == store_id
                and order.post_state is PostState.NOT_POSTABLE
                and r.state == "pending"
            ):
                r.state = "refused"
                r.last_error = (
                    f"{r.key} of an order that was never posted to the back office: "
                    "there is nothing to reverse"
                )
                count += 1
        return count

    def unreported_refusals(self, store_id: int) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for r in sorted(self.s.reversals.values(), key=lambda r: r.id):
            order = self.s.orders[r.order_id]
            if order.store_id == store_id and r.state == "refused" and not r.reported:
                r.reported = True
                found.append((order.order.number, r.last_error or "refused"))
        return found

    def _to_send(self, store_id: int, after_id: int = 0) -> list[MemReversal]:
        return [
            r
            for r in sorted(self.s.reversals.values(), key=lambda r: r.id)
            if r.id > after_id
            and r.state in ("pending", "uncertain")
            and self.s.orders[r.order_id].store_id == store_id
            and self.s.orders[r.order_id].post_state is PostState.POSTED
        ]

    def count_reversals(self, store_id: int) -> int:
        return len(self._to_send(store_id))

    def next_reversals(
        self, store_id: int, connection_id: int, after_id: int, limit: int
    ) -> list[PendingReversal]:
        out: list[PendingReversal] = []
        for r in self._to_send(store_id, after_id)[:limit]:
            assert r.reversal is not None
            link = self.s.links.get((connection_id, "order", r.order_id))
            out.append(
                PendingReversal(
                    r.id,
                    r.state == "uncertain",
                    self.s.orders[r.order_id].order,
                    r.reversal,
                    r.seq,
                    (link.partner_id if link else None) or "",
                )
            )
        return out

    def mark_reversals_uncertain(self, row_ids: Sequence[int]) -> None:
        for row_id in row_ids:
            self.s.reversals[row_id].state = "uncertain"
            self.s.reversals[row_id].attempts += 1

    def mark_reversals_done(self, documents: dict[int, str]) -> None:
        for row_id, document in documents.items():
            r = self.s.reversals[row_id]
            if r.state == "done":
                continue
            r.state, r.document_ref, r.last_error = "done", document, None
            if r.reversal is not None:
                store_id = self.s.orders[r.order_id].store_id
                self.catalog.adjust_hub_managed(store_id, list(r.reversal.restock), +1)
                self.catalog.forget_sent(store_id, {li.sku for li in r.reversal.restock})

    def mark_reversal_refused(self, row_id: int, message: str) -> None:
        r = self.s.reversals[row_id]
        r.state, r.last_error = "pending", message

    def reversals(self, store_id: int, web_id: str) -> list[ReversalRecord]:
        row = self._row(store_id, web_id)
        if row is None:
            return []
        return [
            ReversalRecord(
                r.key,
                r.reversal.kind.value if r.reversal else "refund",
                r.state,
                r.reversal.total if r.reversal else Decimal(0),
                r.document_ref,
                r.last_error,
            )
            for r in self._mine(row.id)
        ]

    def books_view(self, store_id: int, web_ids: Collection[str]) -> dict[str, HubOrder]:
        found: dict[str, HubOrder] = {}
        for web_id in web_ids:
            row = self._row(store_id, web_id)
            if row is None:
                continue
            found[web_id] = HubOrder(
                web_id,
                row.post_state.value,
                row.last_error,
                tuple(
                    HubReversal(
                        r.key,
                        r.seq,
                        r.reversal.kind.value if r.reversal else "refund",
                        r.state,
                        r.reversal.total if r.reversal else Decimal(0),
                        r.last_error,
                    )
                    for r in self._mine(row.id)
                ),
            )
        return found


class MemorySources:
    """Which supplier claimed which SKU (``ports.SourceRepository``)."""

    def __init__(self, state: MemoryState, catalog: MemoryCatalog) -> None:
        self.s = state
        self.catalog = catalog

    def claims(self, store_id: int, skus: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for sku in skus:
            variant_id = self.s.variant_ids.get((store_id, sku))
            if variant_id is not None and variant_id in self.s.claims:
                found[sku] = self.s.claims[variant_id]
        return found

    def claim(self, store_id: int, connection_id: int, skus: Collection[str]) -> None:
        for sku in skus:
            variant_id = self.s.variant_ids.get((store_id, sku))
            if variant_id is not None:
                self.s.claims.setdefault(variant_id, connection_id)

    def iter_state_with_claims(self, store_id: int) -> Iterator[tuple[Any, ...]]:
        for row in self.catalog.iter_back_office_state(store_id):
            variant_id = self.s.variant_ids[(store_id, row[0])]
            yield (*row, self.s.claims.get(variant_id))
