"""A store's inventory sources: its suppliers, the SKUs they claimed, and handing a
supplier's SKUs back to the primary back office when it is disconnected. The ownership
rule is the domain's (``domain/sources.py``)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from stockbridge.db.catalog_read import back_office_state_query, stream_rows
from stockbridge.db.models import Connection, Cursor, SourceClaim, StockLevel, Variant
from stockbridge.db.upsert import upsert
from stockbridge.domain.sources import Supplier

__all__ = ["SUPPLIER_ROLE", "SourceRepository"]

#: The role of a supplementary source's connection.
SUPPLIER_ROLE = "supplier"
_CHUNK = 500


class SourceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def suppliers(self, store_id: int) -> list[Supplier]:
        """The store's suppliers in the order they were connected."""
        rows = self.session.execute(
            select(Connection.id, Connection.name, Connection.owns)
            .where(Connection.store_id == store_id, Connection.role == SUPPLIER_ROLE)
            .order_by(Connection.id)
        ).all()
        return [Supplier(connection_id, name, owns) for connection_id, name, owns in rows]

    def supplier_connection(self, store_id: int, name: str) -> Connection | None:
        return self.session.scalar(
            select(Connection).where(
                Connection.store_id == store_id,
                Connection.role == SUPPLIER_ROLE,
                Connection.name == name,
            )
        )

    def claims(self, store_id: int, skus: Collection[str]) -> dict[str, int]:
        """SKU -> the supplier connection that claimed it, for those of ``skus`` claimed."""
        wanted = sorted(set(skus))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = self.session.execute(
                select(Variant.sku, SourceClaim.connection_id)
                .join(SourceClaim, SourceClaim.variant_id == Variant.id)
                .where(
                    Variant.store_id == store_id, Variant.sku.in_(wanted[start : start + _CHUNK])
                )
            )
            found.update((sku, connection_id) for sku, connection_id in rows)
        return found

    def claim(self, store_id: int, connection_id: int, skus: Collection[str]) -> None:
        """Record that the supplier claimed these SKUs (variants the hub holds). A SKU
        claimed already stays with whoever claimed it first."""
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), _CHUNK):
            variant_ids = self.session.scalars(
                select(Variant.id).where(
                    Variant.store_id == store_id, Variant.sku.in_(wanted[start : start + _CHUNK])
                )
            ).all()
            upsert(
                self.session,
                SourceClaim.__table__,  # type: ignore[arg-type]
                [{"variant_id": v, "connection_id": connection_id} for v in variant_ids],
                keys=("variant_id",),
                update=(),
            )

    def claimed_skus(self, store_id: int) -> dict[str, int]:
        """Every claimed SKU of the store and its supplier."""
        rows = self.session.execute(
            select(Variant.sku, SourceClaim.connection_id)
            .join(SourceClaim, SourceClaim.variant_id == Variant.id)
            .where(Variant.store_id == store_id)
        )
        return {sku: connection_id for sku, connection_id in rows}

    def iter_skus(self, store_id: int) -> Iterator[str]:
        """Every SKU the store holds, streamed."""
        statement = select(Variant.sku).where(Variant.store_id == store_id)
        for (sku,) in stream_rows(self.session, statement, f"skus_{store_id}"):
            yield sku

    def iter_state_with_claims(self, store_id: int) -> Iterator[tuple[Any, ...]]:
        """``CatalogRepository.iter_back_office_state`` with one more field: the supplier
        connection that claimed the row's SKU (None: unclaimed). Same order, streamed."""
        statement = (
            back_office_state_query(self.session, store_id)
            .add_columns(SourceClaim.connection_id)
            .outerjoin(SourceClaim, SourceClaim.variant_id == Variant.id)
        )
        return stream_rows(self.session, statement, f"claimed_state_{store_id}")

    def release(self, store_id: int, supplier: Supplier, *, reread: tuple[int, str] | None) -> int:
        """Hand the supplier's SKUs (claimed, or matching its pattern) back to the
        primary back office: their back-office quantity is forgotten until the primary
        reports them (nothing stale is published), and the primary's change stream
        ``reread`` (connection id, stream) reads from the start again. Returns how many
        variants went back. The caller deletes the connection (its claims go with it)."""
        owned = set(
            self.session.scalars(
                select(SourceClaim.variant_id).where(
                    SourceClaim.connection_id == supplier.connection_id
                )
            )
        )
        if supplier.owns is not None:
            statement = select(Variant.id, Variant.sku).where(Variant.store_id == store_id)
            owned.update(
                variant_id
                for variant_id, sku in self.session.execute(statement)
                if supplier.matches(sku)
            )
        ids = sorted(owned)
        for start in range(0, len(ids), _CHUNK):
            self.session.execute(
                update(StockLevel)
                .where(StockLevel.variant_id.in_(ids[start : start + _CHUNK]))
                .values(back_office_qty=None)
            )
        self.session.execute(
            delete(SourceClaim).where(SourceClaim.connection_id == supplier.connection_id)
        )
        if reread is not None and ids:
            self.session.execute(
                delete(Cursor).where(Cursor.connection_id == reread[0], Cursor.stream == reread[1])
            )
        return len(ids)
