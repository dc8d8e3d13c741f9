"""Stock out to the web: what web orders withhold, the stock rows streamed to inventory-out,
and what the web store last received per stock row.

The hot paths (inventory-out over a large catalog) use SQL over whole chunks, never a
query per item.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from stockbridge.db.echoes import EchoRepository
from stockbridge.db.models import (
    DriftCheck,
    Order,
    OrderLineRow,
    PartnerLink,
    StockLevel,
    UtcDateTime,
    Variant,
)
from stockbridge.domain.inventory import StockChunk, StockRow
from stockbridge.domain.model import DEFAULT_LOCATION, InventorySource, WebOrderStatus, WebVariant
from stockbridge.domain.orders import PostState

__all__ = ["POSTABLE_STATUSES", "StockToWeb"]

#: How long drift measurements are kept (the charts show 30 days).
DRIFT_KEPT = timedelta(days=90)

#: Web order states that hold stock (and belong in the back office), as stored.
POSTABLE_STATUSES = [s.value for s in WebOrderStatus if s.postable]


class StockToWeb:
    """The catalog repository's stock-out part (``db/catalog.py`` puts it together)."""

    session: Session

    def withheld(
        self,
        store_id: int,
        reflected_at: datetime | None,
        store_source: InventorySource | None = None,
    ) -> dict[str, int]:
        """Quantity per SKU the store's web orders withhold: ``domain.withholding.withheld``
        in SQL (a property test holds the two equal). Postable orders pending; uncertain
        orders, and orders posted after the last complete read of back-office stock began,
        whatever their web status. With ``store_source``, a posted order's line of a SKU
        whose figure the ERP pushes (api mode, the product's own or the store's) is
        reflected once that figure is as new as the posting (``pushed_at``: the
        variant's ``back_office_modified_at``).
        """
        not_reflected: ColumnElement[bool] = or_(
            and_(
                Order.post_state == PostState.PENDING.value,
                Order.status.in_(POSTABLE_STATUSES),
            ),
            Order.post_state == PostState.UNCERTAIN.value,
        )
        posted = Order.post_state == PostState.POSTED.value
        if reflected_at is not None:
            posted = and_(posted, Order.posted_at > reflected_at)
        if store_source is not None:
            pushed_since = (
                select(Variant.id)
                .where(
                    Variant.store_id == store_id,
                    Variant.sku == OrderLineRow.sku,
                    func.coalesce(Variant.inventory_source, store_source.value)
                    == InventorySource.API.value,
                    Variant.back_office_modified_at >= Order.posted_at,
                )
                .exists()
            )
            posted = and_(posted, ~pushed_since)
        not_reflected = or_(not_reflected, posted)
        rows = self.session.execute(
            select(OrderLineRow.sku, func.sum(OrderLineRow.quantity))
            .join(Order, Order.id == OrderLineRow.order_id)
            .where(Order.store_id == store_id, not_reflected)
            .group_by(OrderLineRow.sku)
        ).all()
        return {sku: int(total) for sku, total in rows if total}

    def stock_rows(
        self,
        store_id: int,
        *,
        web_connection_id: int,
        store_source: InventorySource,
        after: int,
        limit: int,
    ) -> StockChunk:
        """The stock rows of the next ``limit`` variants after variant id ``after``, with
        what the web last received, in (variant, stock row) order. See the port.
        """
        while True:
            rows = self._stock_page(store_id, web_connection_id, after, limit)
            if rows:
                break
            # Variants without stock rows only (or none at all): go past them.
            page = (
                select(Variant.id)
                .where(Variant.store_id == store_id, Variant.id > after)
                .order_by(Variant.id)
                .limit(limit)
                .subquery()
            )
            last = self.session.scalar(select(func.max(page.c.id)))
            if last is None:
                return StockChunk([], after)
            after = last
        return StockChunk(_as_rows(rows, store_source), rows[-1][0])

    def stock_rows_of(
        self,
        store_id: int,
        *,
        web_connection_id: int,
        store_source: InventorySource,
        skus: Collection[str],
    ) -> list[StockRow]:
        """The stock rows of the store's variants among ``skus``. See the port."""
        wanted = sorted(set(skus))
        found: list[StockRow] = []
        for start in range(0, len(wanted), 500):
            statement = _stock_select(web_connection_id).where(
                Variant.store_id == store_id, Variant.sku.in_(wanted[start : start + 500])
            )
            found += _as_rows(self.session.execute(statement).all(), store_source)
        return found

    def assigned_refs(self, store_id: int, web_connection_id: int) -> list[str]:
        """The partner references of the store's assigned variants. See the port."""
        return [
            str(ref)
            for ref in self.session.scalars(
                select(PartnerLink.partner_id)
                .join(Variant, Variant.id == PartnerLink.hub_id)
                .where(
                    Variant.store_id == store_id,
                    Variant.hub_managed,
                    PartnerLink.connection_id == web_connection_id,
                    PartnerLink.entity == "variant",
                    PartnerLink.partner_id.is_not(None),
                )
            )
        ]

    def _stock_page(
        self, store_id: int, web_connection_id: int, after: int, limit: int
    ) -> list[Any]:
        connection = self.session.connection()
        compiled = _compiled_stock_page(connection.dialect)
        params = compiled.construct_params(
            {
                "store_id": store_id,
                "connection_id": web_connection_id,
                "after": after,
                "limit": limit,
            }
        )
        args: Any = (
            tuple(params[name] for name in compiled.positiontup or ())
            if compiled.positional
            else params
        )
        return list(connection.exec_driver_sql(compiled.string, args).all())

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
                    StockLevel.location == DEFAULT_LOCATION,
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

    def web_drift(self, store_id: int, connection_id: int, seen: Sequence[WebVariant]) -> int:
        """How many reported variants moved away from what was last sent. See the port."""
        reported = {(v.sku, v.location): v.quantity for v in seen if v.quantity is not None}
        drifted = 0
        keys = sorted(reported)
        for start in range(0, len(keys), 500):
            chunk = set(keys[start : start + 500])
            skus = sorted({sku for sku, _location in chunk})
            rows = self.session.execute(
                select(Variant.sku, StockLevel.location, PartnerLink.sent_value)
                .join(StockLevel, StockLevel.variant_id == Variant.id)
                .join(
                    PartnerLink,
                    and_(
                        PartnerLink.connection_id == connection_id,
                        PartnerLink.entity == "stock",
                        PartnerLink.hub_id == StockLevel.id,
                    ),
                )
                .where(
                    Variant.store_id == store_id,
                    Variant.sku.in_(skus),
                    PartnerLink.sent_value.is_not(None),
                )
            ).all()
            for sku, location, sent in rows:
                if (sku, location) in chunk and str(reported[(sku, location)]) != sent:
                    drifted += 1
        return drifted

    def record_drift(
        self, store_id: int, source: str, drifted: int, web_only: int = 0, hub_only: int = 0
    ) -> None:
        """Record a drift measurement, now (and forget the store's older than
        ``DRIFT_KEPT``). See the port."""
        now = datetime.now(UTC)
        self.session.execute(
            delete(DriftCheck).where(
                DriftCheck.store_id == store_id, DriftCheck.checked_at < now - DRIFT_KEPT
            )
        )
        self.session.add(
            DriftCheck(
                store_id=store_id,
                checked_at=now,
                source=source,
                drifted=drifted,
                web_only=web_only,
                hub_only=hub_only,
            )
        )
        self.session.flush()

    def record_echoes(
        self, connection_id: int, changes: Mapping[str, int | None], sent_at: datetime
    ) -> None:
        """Remember the change a push made per web product. See the port."""
        EchoRepository(self.session).record_writes(connection_id, changes, sent_at)

    def record_sent(self, connection_id: int, sent: Sequence[tuple[int, int]]) -> None:
        """Remember the quantity each stock row (by id) was last sent to the web store
        (and that the web store shows it now).

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
        # What the web shows now, as far as the hub knows: its own write. A later read of
        # the same figure is then no change (the honest "changed" count).
        connection.exec_driver_sql(
            f"UPDATE stock_levels SET web_qty = {mark} WHERE id = {mark}",
            [(quantity, stock_id) for stock_id, quantity in sent],
        )


_STOCK_PAGES: dict[tuple[str, str], SQLCompiler] = {}


def _compiled_stock_page(dialect: Dialect) -> SQLCompiler:
    """The stock-page query, compiled once per dialect: a catalog pass runs it every
    2,000 variants, and building and compiling it cost as much as reading the page.

    Page by variant id (an index range scan, no sort), then take every stock row of those
    variants through the variant_id index. Run at the driver level: at a million rows,
    SQLAlchemy's per-row result processing is the largest cost.
    """
    key = (dialect.name, dialect.paramstyle)
    compiled = _STOCK_PAGES.get(key)
    if compiled is not None:
        return compiled
    page_ids = (
        select(Variant.id)
        .where(Variant.store_id == bindparam("store_id"), Variant.id > bindparam("after"))
        .order_by(Variant.id)
        .limit(bindparam("limit"))
        .scalar_subquery()
    )
    statement = _stock_select(bindparam("connection_id")).where(Variant.id.in_(page_ids))
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    _STOCK_PAGES[key] = compiled
    return compiled


def _stock_select(connection_id: Any) -> Any:
    """Stock rows with what the web connection last received and the partner reference,
    in (variant, stock row) order; the caller says which variants."""
    sent = aliased(PartnerLink)
    ref = aliased(PartnerLink)
    return (
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
            StockLevel.web_qty,
            Variant.active,
        )
        .join(StockLevel, StockLevel.variant_id == Variant.id)
        .outerjoin(
            sent,
            and_(
                sent.connection_id == connection_id,
                sent.entity == "stock",
                sent.hub_id == StockLevel.id,
            ),
        )
        .outerjoin(
            ref,
            and_(
                ref.connection_id == connection_id,
                ref.entity == "variant",
                ref.hub_id == Variant.id,
            ),
        )
        .order_by(Variant.id, StockLevel.id)
    )


def _as_rows(rows: Sequence[Any], store_source: InventorySource) -> list[StockRow]:
    return [
        StockRow(
            stock_id=sid,
            sku=sku,
            location=location,
            source=InventorySource(override) if override else store_source,
            hub_managed=bool(hub_managed),
            back_office_qty=bo_qty,
            hub_qty=hub_qty,
            last_sent=None if sent_qty is None else int(sent_qty),
            partner_ref=partner,
            web_qty=web_qty,
            active=bool(active),
        )
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
            web_qty,
            active,
        ) in rows
    ]
