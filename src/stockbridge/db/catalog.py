"""Variants and stock levels: applying what partners report, and streaming stock out.

The hot paths (inventory-out over a large catalog) use SQL expressions over whole
chunks, never a query per item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from stockbridge.db.models import Order, OrderLineRow, PartnerLink, StockLevel, UtcDateTime, Variant
from stockbridge.db.upsert import upsert
from stockbridge.domain.inventory import StockRow
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    InventorySource,
    OrderLine,
    WebOrderStatus,
    WebVariant,
)
from stockbridge.domain.snapshot import HubRowLike

__all__ = ["CatalogRepository", "iter_stock_rows"]

POSTABLE_STATUSES = [s.value for s in WebOrderStatus if s.postable]


class CatalogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # reading ---------------------------------------------------------------

    def variant(self, store_id: int, sku: str) -> Variant | None:
        return self.session.scalar(
            select(Variant).where(Variant.store_id == store_id, Variant.sku == sku)
        )

    def stock(self, variant_id: int) -> Sequence[StockLevel]:
        return self.session.scalars(
            select(StockLevel)
            .where(StockLevel.variant_id == variant_id)
            .order_by(StockLevel.location)
        ).all()

    def locations(self, store_id: int) -> set[str]:
        """Every stock location the store's variants have."""
        return set(
            self.session.scalars(
                select(StockLevel.location)
                .join(Variant, Variant.id == StockLevel.variant_id)
                .where(Variant.store_id == store_id)
                .distinct()
            )
        )

    def known_skus(self, store_id: int, skus: set[str]) -> set[str]:
        """Which of ``skus`` the hub knows for the store."""
        wanted = sorted(skus)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            found.update(
                self.session.scalars(
                    select(Variant.sku).where(
                        Variant.store_id == store_id, Variant.sku.in_(wanted[start : start + 500])
                    )
                )
            )
        return found

    def iter_back_office_state(self, store_id: int) -> Iterator[HubRowLike]:
        """What the hub holds per (SKU, location) as ``HubRow`` tuples, sorted in
        code-point order (PostgreSQL sorts with the "C" collation, SQLite compares bytes:
        both equal Python's order), streamed in chunks. A variant without stock rows
        comes at the default location (it is then its SKU's only row). Prices come as
        text: the diff compares them as numbers only when the texts differ.
        """
        sku: Any = Variant.sku
        location: Any = StockLevel.location
        if self.session.get_bind().dialect.name == "postgresql":
            sku, location = sku.collate("C"), location.collate("C")
        statement = (
            select(
                Variant.sku,
                func.coalesce(StockLevel.location, DEFAULT_LOCATION),
                StockLevel.back_office_qty,
                cast(Variant.price, String),
                Variant.name,
                Variant.hub_managed,
            )
            .outerjoin(StockLevel, StockLevel.variant_id == Variant.id)
            .where(Variant.store_id == store_id)
            .order_by(sku, location)
        )
        # A million rows: read with the driver's own cursor (server-side on PostgreSQL),
        # skipping SQLAlchemy's per-row work, which costs more than the query itself.
        # Only an int and a constant are inlined into the SQL.
        connection = self.session.connection()
        sql = str(
            statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        )
        driver = connection.connection.driver_connection
        assert driver is not None
        if connection.dialect.name == "postgresql":
            cursor = driver.cursor(name=f"back_office_state_{store_id}")
        else:
            cursor = driver.cursor()
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(5000):
                yield from rows
        finally:
            cursor.close()

    def search(self, store_id: int, text: str, limit: int = 50) -> Sequence[Variant]:
        """Variants whose SKU or name contains ``text`` (case-insensitive), by SKU."""
        query = select(Variant).where(Variant.store_id == store_id)
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped.lower()}%"
            query = query.where(
                or_(
                    func.lower(Variant.sku).like(pattern, escape="\\"),
                    func.lower(Variant.name).like(pattern, escape="\\"),
                )
            )
        return self.session.scalars(query.order_by(Variant.sku).limit(limit)).all()

    def stock_of(self, variant_ids: Sequence[int]) -> dict[int, list[StockLevel]]:
        """Stock rows per variant, by location."""
        found: dict[int, list[StockLevel]] = {v: [] for v in variant_ids}
        if variant_ids:
            for level in self.session.scalars(
                select(StockLevel)
                .where(StockLevel.variant_id.in_(list(variant_ids)))
                .order_by(StockLevel.location)
            ):
                found[level.variant_id].append(level)
        return found

    def count_stock_rows(self, store_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.count(StockLevel.id))
                .join(Variant, Variant.id == StockLevel.variant_id)
                .where(Variant.store_id == store_id)
            )
            or 0
        )

    def withheld(self, store_id: int, reflected_at: datetime | None) -> dict[str, int]:
        """Quantity per SKU on postable web orders the back office has not accounted for:
        not posted yet, or posted after the last complete read of back-office stock began.
        """
        not_reflected: ColumnElement[bool] = Order.post_state.in_(("pending", "uncertain"))
        if reflected_at is None:
            not_reflected = or_(not_reflected, Order.post_state == "posted")
        else:
            not_reflected = or_(
                not_reflected, and_(Order.post_state == "posted", Order.posted_at > reflected_at)
            )
        rows = self.session.execute(
            select(OrderLineRow.sku, func.sum(OrderLineRow.quantity))
            .join(Order, Order.id == OrderLineRow.order_id)
            .where(Order.store_id == store_id, Order.status.in_(POSTABLE_STATUSES), not_reflected)
            .group_by(OrderLineRow.sku)
        ).all()
        return {sku: int(total) for sku, total in rows if total}

    # writing ---------------------------------------------------------------

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

    def apply_back_office_items(self, store_id: int, items: Sequence[BackOfficeItem]) -> int:
        """Record what the back office reports; new SKUs become new variants. A report older
        than what the hub holds is ignored. Hub-managed quantities are never touched.
        Returns how many items changed the hub.
        """
        variants, levels = self._ensure(
            store_id, (i.sku for i in items), ((i.sku, i.location) for i in items)
        )
        now = datetime.now(UTC)
        changed = 0
        for item in items:
            variant = variants[item.sku]
            seen = variant.back_office_modified_at
            if item.modified_at is not None and seen is not None and item.modified_at < seen:
                continue
            if item.name is not None:
                variant.name = item.name
            if item.price is not None:
                variant.price = item.price
            variant.active = item.active
            if item.modified_at is not None:
                variant.back_office_modified_at = item.modified_at
            variant.updated_at = now
            level = levels[(variant.id, item.location)]
            if item.quantity is not None and level.back_office_qty != item.quantity:
                level.back_office_qty = item.quantity
                level.updated_at = now
            changed += 1
        return changed

    def apply_web_variants(
        self,
        store_id: int,
        connection_id: int,
        variants_seen: Sequence[WebVariant],
        *,
        web_is_master: bool,
    ) -> int:
        """Record the web store's variants: their partner reference (to address writes) and
        web stock; name and price too where the web store is the master or the hub has none.
        """
        variants, levels = self._ensure(
            store_id,
            (v.sku for v in variants_seen),
            ((v.sku, v.location) for v in variants_seen),
        )
        now = datetime.now(UTC)
        links: list[dict[str, Any]] = []
        drifted: list[tuple[int, str]] = []
        changed = 0
        for seen in variants_seen:
            variant = variants[seen.sku]
            last = variant.web_modified_at
            if seen.modified_at is not None and last is not None and seen.modified_at < last:
                continue
            if seen.name is not None and (web_is_master or variant.name is None):
                variant.name = seen.name
            if seen.price is not None and (web_is_master or variant.price is None):
                variant.price = seen.price
            if seen.modified_at is not None:
                variant.web_modified_at = seen.modified_at
            level = levels[(variant.id, seen.location)]
            level.web_qty = seen.quantity
            level.updated_at = now
            if seen.quantity is not None:
                drifted.append((level.id, str(seen.quantity)))
            links.append(
                {
                    "connection_id": connection_id,
                    "entity": "variant",
                    "hub_id": variant.id,
                    "partner_id": seen.partner_ref,
                    "updated_at": now,
                }
            )
            changed += 1
        self.session.flush()
        upsert(
            self.session,
            PartnerLink.__table__,  # type: ignore[arg-type]
            links,
            keys=("connection_id", "entity", "hub_id"),
            update=("partner_id", "updated_at"),
        )
        self._forget_sent_where_web_differs(connection_id, drifted)
        return changed

    def forget_sent(self, store_id: int, skus: Iterable[str]) -> None:
        """Forget what was last sent for these SKUs at the default location (where web
        orders take stock), so the next inventory-out sets the web store right.
        """
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), 500):
            stock_ids = (
                select(StockLevel.id)
                .join(Variant, Variant.id == StockLevel.variant_id)
                .where(
                    Variant.store_id == store_id,
                    Variant.sku.in_(wanted[start : start + 500]),
                    StockLevel.location == "default",
                )
            )
            self.session.execute(
                update(PartnerLink)
                .where(PartnerLink.entity == "stock", PartnerLink.hub_id.in_(stock_ids))
                .values(sent_value=None)
            )

    def _forget_sent_where_web_differs(
        self, connection_id: int, observed: Sequence[tuple[int, str]]
    ) -> None:
        """The web holds something other than what the hub last sent (changed on the web
        side): forget what was sent, so the next inventory-out sets it right again.
        """
        for start in range(0, len(observed), 500):
            chunk = dict(observed[start : start + 500])
            links = self.session.scalars(
                select(PartnerLink).where(
                    PartnerLink.connection_id == connection_id,
                    PartnerLink.entity == "stock",
                    PartnerLink.hub_id.in_(list(chunk)),
                )
            )
            for link in links:
                if link.sent_value is not None and link.sent_value != chunk[link.hub_id]:
                    link.sent_value = None

    def record_sent(self, connection_id: int, sent: Sequence[tuple[int, int]]) -> None:
        """Remember the quantity each stock row (by id) was last sent to the web store.

        The hot path of inventory-out: one driver-level executemany, portable SQL
        (``ON CONFLICT`` is understood by SQLite and PostgreSQL alike).
        """
        if not sent:
            return
        connection = self.session.connection()
        dialect = connection.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        to_db = UtcDateTime.bind_processor(dialect)
        now: Any = datetime.now(UTC)
        now = to_db(now) if to_db else now
        sql = (
            "INSERT INTO partner_links (connection_id, entity, hub_id, sent_value, updated_at) "
            f"VALUES ({mark}, 'stock', {mark}, {mark}, {mark}) "
            "ON CONFLICT (connection_id, entity, hub_id) "
            "DO UPDATE SET sent_value = excluded.sent_value, updated_at = excluded.updated_at"
        )
        connection.exec_driver_sql(
            sql, [(connection_id, stock_id, str(quantity), now) for stock_id, quantity in sent]
        )

    def set_hub_managed(self, store_id: int, sku: str, quantity: int | None) -> Variant:
        """Make ``sku`` hub-managed with ``quantity`` at the default location (None: stop
        managing it in the hub). Creates the variant if the hub does not know it yet.
        """
        variants, levels = self._ensure(store_id, [sku], [(sku, "default")])
        variant = variants[sku]
        variant.hub_managed = quantity is not None
        level = levels[(variant.id, "default")]
        level.hub_qty = quantity
        level.updated_at = variant.updated_at = datetime.now(UTC)
        return variant

    def adjust_hub_managed(self, store_id: int, lines: Iterable[OrderLine], sign: int) -> None:
        """Take (sign -1) or give back (+1) order quantities of hub-managed variants."""
        quantities: dict[str, int] = {}
        for line in lines:
            quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
        if not quantities:
            return
        managed = self.session.execute(
            select(Variant.id, Variant.sku).where(
                Variant.store_id == store_id, Variant.sku.in_(list(quantities)), Variant.hub_managed
            )
        ).all()
        for variant_id, sku in managed:
            self.session.execute(
                update(StockLevel)
                .where(StockLevel.variant_id == variant_id, StockLevel.location == "default")
                .values(
                    hub_qty=func.coalesce(StockLevel.hub_qty, 0) + sign * quantities[sku],
                    updated_at=datetime.now(UTC),
                )
            )


def iter_stock_rows(
    sessions: Callable[[], Session],
    *,
    store_id: int,
    web_connection_id: int,
    store_source: InventorySource,
    chunk: int = 2000,
) -> Iterator[StockRow]:
    """Every stock row of the store with what the web last received, in variant order.

    Reads keyset-paged chunks, each in its own short transaction, so memory stays flat and
    no transaction is open while the caller talks to a partner.
    """
    sent = aliased(PartnerLink)
    ref = aliased(PartnerLink)
    base = (
        select(
            Variant.id,
            StockLevel.id,
            Variant.sku,
            StockLevel.location,
            Variant.hub_managed,
            Variant.inventory_source,
            StockLevel.back_office_qty,
            StockLevel.hub_qty,
            sent.sent_value,
            ref.partner_id,
        )
        .join(StockLevel, StockLevel.variant_id == Variant.id)
        .outerjoin(
            sent,
            and_(
                sent.connection_id == web_connection_id,
                sent.entity == "stock",
                sent.hub_id == StockLevel.id,
            ),
        )
        .outerjoin(
            ref,
            and_(
                ref.connection_id == web_connection_id,
                ref.entity == "variant",
                ref.hub_id == Variant.id,
            ),
        )
        .order_by(Variant.id, StockLevel.id)
    )
    page_ids = (
        select(Variant.id)
        .where(Variant.store_id == store_id, Variant.id > bindparam("after"))
        .order_by(Variant.id)
        .limit(chunk)
        .scalar_subquery()
    )
    # Page by variant id (an index range scan, no sort), then take every stock row of those
    # variants through the variant_id index. Compiled once and run at the driver level:
    # at a million rows, SQLAlchemy's per-row result processing is the largest cost.
    statement = base.where(Variant.id.in_(page_ids))
    after = 0
    while True:
        with sessions() as session:
            connection = session.connection()
            compiled = statement.compile(dialect=connection.dialect)
            params = compiled.construct_params({"after": after})
            args: Any = (
                tuple(params[name] for name in compiled.positiontup or ())
                if compiled.positional
                else params
            )
            rows = connection.exec_driver_sql(compiled.string, args).all()
        if not rows:
            return
        for (
            _vid,
            sid,
            sku,
            location,
            hub_managed,
            override,
            bo_qty,
            hub_qty,
            sent_qty,
            partner,
        ) in rows:
            yield StockRow(
                stock_id=sid,
                sku=sku,
                location=location,
                source=InventorySource(override) if override else store_source,
                hub_managed=bool(hub_managed),
                back_office_qty=bo_qty,
                hub_qty=hub_qty,
                last_sent=None if sent_qty is None else int(sent_qty),
                partner_ref=partner,
            )
        after = rows[-1][0]
