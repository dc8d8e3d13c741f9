"""Stores, their partner connections and their cursors."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stockbridge.db.models import Connection, Cursor, Store, StoreLease
from stockbridge.domain.model import BooksOptions, CancelAs, CustomerMode, InventorySource
from stockbridge.domain.store import StoreSettings
from stockbridge.domain.web_catalog import catalog_settings

__all__ = ["DuplicateStore", "StoreRepository", "books_of", "to_settings"]


class DuplicateStore(ValueError):
    """A store of that name exists already."""


def to_settings(store: Store) -> StoreSettings:
    return StoreSettings(
        id=store.id,
        name=store.name,
        timezone=store.timezone,
        inventory_source=InventorySource(store.inventory_source),
        erp_name=store.erp_name,
        sync_all_button=store.sync_all_button,
        books=books_of(store),
        catalog=catalog_settings(store.options),
    )


def books_of(store: Store) -> BooksOptions:
    return BooksOptions(
        customer_mode=CustomerMode(store.customer_mode or CustomerMode.SINGLE.value),
        cancel_as=CancelAs(store.cancel_as or CancelAs.VOID.value),
        payment_methods=tuple(sorted((store.payment_methods or {}).items())),
        deposit_account=store.deposit_account,
    )


class StoreRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        name: str,
        *,
        timezone: str,
        inventory_source: InventorySource,
        erp_name: str | None,
    ) -> Store:
        store = Store(
            name=name,
            timezone=timezone,
            inventory_source=inventory_source.value,
            erp_name=erp_name,
            sync_all_button=False,  # hidden until the merchant turns it on in Settings
            options={},
            created_at=datetime.now(UTC),
        )
        self.session.add(store)
        try:
            self.session.flush()
        except IntegrityError:
            raise DuplicateStore(f"a store named {name!r} exists already") from None
        self.session.add(StoreLease(store_id=store.id))
        return store

    def get(self, store_id: int) -> Store | None:
        return self.session.get(Store, store_id)

    def settings(self, store_id: int) -> StoreSettings | None:
        """The store's settings as the sync engine sees them; None if no such store."""
        store = self.get(store_id)
        return None if store is None else to_settings(store)

    def by_name(self, name: str) -> Store | None:
        return self.session.scalar(select(Store).where(Store.name == name))

    def all(self, only: Collection[str] | None = None) -> Sequence[Store]:
        """Every store in name order, or only the ones named in ``only``."""
        query = select(Store).order_by(Store.name)
        if only is not None:
            query = query.where(Store.name.in_(list(only)))
        return self.session.scalars(query).all()

    # connections -------------------------------------------------------------

    def connections(self, store_id: int) -> Sequence[Connection]:
        return self.session.scalars(
            select(Connection)
            .where(Connection.store_id == store_id)
            .order_by(Connection.role, Connection.name)
        ).all()

    def connection(self, store_id: int, role: str, name: str = "") -> Connection | None:
        """The store's connection in ``role`` (a supplier's by its ``name``)."""
        return self.session.scalar(
            select(Connection).where(
                Connection.store_id == store_id, Connection.role == role, Connection.name == name
            )
        )

    def connect(
        self,
        store_id: int,
        *,
        role: str,
        kind: str,
        settings: dict[str, Any],
        credentials: bytes | None,
        name: str = "",
        owns: str | None = None,
    ) -> Connection:
        """Create or replace the store's connection in ``role`` (a supplier's: by
        ``name``, owning the SKUs matching ``owns`` or, when None, those it lists).
        Cursors of a replaced connection of another kind are dropped: a new partner
        account is read afresh.
        """
        existing = self.connection(store_id, role, name)
        if existing is not None and existing.kind != kind:
            self.session.delete(existing)
            self.session.flush()
            existing = None
        if existing is None:
            existing = Connection(
                store_id=store_id, role=role, name=name, created_at=datetime.now(UTC)
            )
            self.session.add(existing)
        existing.owns = owns
        existing.kind = kind
        existing.settings = settings
        existing.credentials = credentials
        existing.health = "connected"
        existing.last_error = None
        self.session.flush()
        return existing

    def disconnect(self, connection: Connection) -> None:
        """Remove a connection with its cursors, links and claims."""
        self.session.delete(connection)
        self.session.flush()

    def connection_kind(self, connection_id: int) -> str | None:
        connection = self.session.get(Connection, connection_id)
        return None if connection is None else connection.kind

    def take_setting(self, connection_id: int, key: str) -> Any:
        connection = self.session.get(Connection, connection_id)
        if connection is None or key not in (connection.settings or {}):
            return None
        settings = dict(connection.settings or {})
        value = settings.pop(key)
        connection.settings = settings
        return value

    def set_health(self, connection_id: int, health: str, last_error: str | None) -> None:
        connection = self.session.get(Connection, connection_id)
        if connection is not None:
            connection.health = health
            connection.last_error = last_error

    # cursors -----------------------------------------------------------------

    def cursor(self, connection_id: int, stream: str) -> datetime | None:
        return self.session.scalar(
            select(Cursor.position).where(
                Cursor.connection_id == connection_id, Cursor.stream == stream
            )
        )

    def advance_cursor(self, connection_id: int, stream: str, position: datetime | None) -> None:
        """Move the cursor forward to ``position``; never backward. Commit with the data."""
        if position is None:
            return
        row = self.session.scalar(
            select(Cursor).where(Cursor.connection_id == connection_id, Cursor.stream == stream)
        )
        now = datetime.now(UTC)
        if row is None:
            self.session.add(
                Cursor(
                    connection_id=connection_id, stream=stream, position=position, updated_at=now
                )
            )
        elif position > row.position:
            row.position = position
            row.updated_at = now
