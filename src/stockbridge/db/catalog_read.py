"""Reading the catalog: variants, their stock rows, and what the hub holds per (SKU,
location) for a snapshot diff."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from stockbridge.db.models import StockLevel, Variant
from stockbridge.domain.model import DEFAULT_LOCATION
from stockbridge.domain.snapshot import HubRowLike

__all__ = ["CatalogReads", "back_office_state_query", "stream_rows"]


class CatalogReads:
    """The catalog repository's reads (``db/catalog.py`` puts the repository together)."""

    session: Session

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
        statement = back_office_state_query(self.session, store_id)
        return stream_rows(self.session, statement, f"back_office_state_{store_id}")

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


def back_office_state_query(session: Session, store_id: int) -> Select[*tuple[Any, ...]]:
    """The query behind ``iter_back_office_state`` (callers may add columns and joins)."""
    sku: Any = Variant.sku
    location: Any = StockLevel.location
    if session.get_bind().dialect.name == "postgresql":
        sku, location = sku.collate("C"), location.collate("C")
    statement: Select[*tuple[Any, ...]] = (
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
    return statement


def stream_rows(
    session: Session, statement: Select[*tuple[Any, ...]], cursor_name: str
) -> Iterator[Any]:
    """The rows of ``statement`` as plain tuples, read in chunks.

    A million rows: read with the driver's own cursor (server-side on PostgreSQL, named
    ``cursor_name``), skipping SQLAlchemy's per-row work, which costs more than the query
    itself. Only ints and constants may be inlined into the SQL.
    """
    connection = session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    assert driver is not None
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name=cursor_name)
    else:
        cursor = driver.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(5000):
            yield from rows
    finally:
        cursor.close()
