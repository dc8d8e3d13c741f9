"""The catalog out to the web: variants with what the web connection last received of
their price and name, whether the hub hid them or started creating them, and recording
what was sent (``partner_links`` rows, one entity each: ``price``, ``name``, ``hidden``,
``creating``; the web reference itself is entity ``variant``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from stockbridge.db.models import PartnerLink, StockLevel, Variant
from stockbridge.db.upsert import upsert
from stockbridge.domain.web_catalog import CatalogChunk, CatalogRow

__all__ = ["CatalogToWeb"]


class CatalogToWeb:
    """The catalog repository's catalog-out part (``db/catalog.py`` puts it together)."""

    session: Session

    def catalog_rows(
        self, store_id: int, *, web_connection_id: int, after: int, limit: int
    ) -> CatalogChunk:
        links = {
            name: aliased(PartnerLink, name=f"link_{name}")
            for name in ("variant", "price", "name", "hidden", "creating", "visible")
        }
        reported = or_(
            Variant.back_office_modified_at.is_not(None),
            exists(
                select(StockLevel.id).where(
                    StockLevel.variant_id == Variant.id, StockLevel.back_office_qty.is_not(None)
                )
            ),
        )
        statement: Any = select(
            Variant.id,
            Variant.sku,
            Variant.name,
            Variant.price,
            Variant.active,
            reported,
            links["variant"].partner_id,
            links["price"].sent_value,
            links["name"].sent_value,
            links["hidden"].sent_value,
            links["creating"].sent_value,
            links["visible"].sent_value,
        )
        for entity, link in links.items():
            statement = statement.outerjoin(
                link,
                and_(
                    link.connection_id == web_connection_id,
                    link.entity == entity,
                    link.hub_id == Variant.id,
                ),
            )
        rows = self.session.execute(
            statement.where(Variant.store_id == store_id, Variant.id > after)
            .order_by(Variant.id)
            .limit(limit)
        ).all()
        return CatalogChunk(
            [
                CatalogRow(
                    variant_id=vid,
                    sku=sku,
                    name=name,
                    price=price,
                    active=bool(active),
                    from_back_office=bool(from_bo),
                    partner_ref=ref,
                    sent_price=sent_price,
                    sent_name=sent_name,
                    hidden=hidden == "1",
                    creating=creating == "1",
                    web_visible=None if visible is None else visible == "1",
                )
                for (
                    vid,
                    sku,
                    name,
                    price,
                    active,
                    from_bo,
                    ref,
                    sent_price,
                    sent_name,
                    hidden,
                    creating,
                    visible,
                ) in rows
            ],
            rows[-1][0] if rows else after,
        )

    def record_web_refs(self, connection_id: int, refs: Sequence[tuple[int, str]]) -> None:
        now = datetime.now(UTC)
        upsert(
            self.session,
            PartnerLink.__table__,  # type: ignore[arg-type]
            [
                {
                    "connection_id": connection_id,
                    "entity": "variant",
                    "hub_id": variant_id,
                    "partner_id": ref,
                    "updated_at": now,
                }
                for variant_id, ref in refs
            ],
            keys=("connection_id", "entity", "hub_id"),
            update=("partner_id", "updated_at"),
        )

    def record_catalog_sent(
        self, connection_id: int, entity: str, sent: Sequence[tuple[int, str | None]]
    ) -> None:
        now = datetime.now(UTC)
        upsert(
            self.session,
            PartnerLink.__table__,  # type: ignore[arg-type]
            [
                {
                    "connection_id": connection_id,
                    "entity": entity,
                    "hub_id": variant_id,
                    "sent_value": value,
                    "updated_at": now,
                }
                for variant_id, value in sent
            ],
            keys=("connection_id", "entity", "hub_id"),
            update=("sent_value", "updated_at"),
        )
