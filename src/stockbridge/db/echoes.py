"""The hub's stock writes awaiting their webhook (``domain/echoes.py``): recorded by
inventory-out with each accepted push, looked up and confirmed by the inbox pass."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from stockbridge.db.models import StockEcho, UtcDateTime
from stockbridge.domain.echoes import SentStock

__all__ = ["EchoRepository"]


class EchoRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record_writes(
        self, connection_id: int, changes: Mapping[str, int | None], sent_at: datetime
    ) -> None:
        """Remember, per web product, the change a push just made and when (replacing
        the product's earlier write: only the latest is awaited)."""
        if not changes:
            return
        connection = self.session.connection()
        dialect = connection.dialect
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        to_db = UtcDateTime.bind_processor(dialect)
        when = to_db(sent_at) if to_db else sent_at
        sql = (
            "INSERT INTO stock_echoes (connection_id, product, change, sent_at, awaiting) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) "
            "ON CONFLICT (connection_id, product) DO UPDATE SET change = excluded.change, "
            "sent_at = excluded.sent_at, awaiting = excluded.awaiting, confirmed_at = NULL"
        )
        connection.exec_driver_sql(
            sql,
            [(connection_id, product, change, when, True) for product, change in changes.items()],
        )

    def writes(self, connection_id: int, products: Collection[str]) -> dict[str, SentStock]:
        """The last write to each of ``products`` (absent: the hub never wrote it)."""
        wanted = sorted(set(products))
        found: dict[str, SentStock] = {}
        for start in range(0, len(wanted), 500):
            for row in self.session.execute(
                select(
                    StockEcho.product, StockEcho.change, StockEcho.sent_at, StockEcho.awaiting
                ).where(
                    StockEcho.connection_id == connection_id,
                    StockEcho.product.in_(wanted[start : start + 500]),
                )
            ):
                found[row[0]] = SentStock(row[0], row[1], row[2], bool(row[3]))
        return found

    def confirm(self, connection_id: int, products: Collection[str], at: datetime) -> None:
        """Their echoes came back: the writes landed; no later event is taken for them."""
        wanted = sorted(set(products))
        for start in range(0, len(wanted), 500):
            self.session.execute(
                update(StockEcho)
                .where(
                    StockEcho.connection_id == connection_id,
                    StockEcho.product.in_(wanted[start : start + 500]),
                )
                .values(awaiting=False, confirmed_at=at)
                .execution_options(synchronize_session=False)
            )
