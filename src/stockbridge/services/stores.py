"""Stores and their settings: add, change, list, describe, and find one by name.

Every setting is checked before anything is saved; a bad one raises ``InvalidSetting``
and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stockbridge.alert_settings import (
    InvalidAlertSetting,
    alert_settings,
    masked_url,
    updated_options,
)
from stockbridge.bootstrap import Hub
from stockbridge.db.models import Store
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import InventorySource
from stockbridge.domain.web_catalog import (
    InvalidCatalogSetting,
    catalog_settings,
    updated_catalog_options,
)
from stockbridge.services.errors import InvalidSetting, StoreNotFound

__all__ = [
    "MAX_NAME",
    "ConnectionHealth",
    "StoreSettings",
    "add_store",
    "connections_of",
    "describe_store",
    "find_store",
    "list_stores",
    "resolve_store",
    "update_store",
]

MAX_NAME = 100


@dataclass(frozen=True)
class ConnectionHealth:
    """A store's connection to a partner in one role, and whether it works. A supplier
    has a ``name`` and owns the SKUs matching ``owns`` (None: the SKUs it lists)."""

    role: str  # web | back_office | supplier
    kind: str  # the connector kind: bigcommerce, qbo, feed, ...
    health: str
    last_error: str | None
    name: str = ""
    owns: str | None = None

    @property
    def label(self) -> str:
        if self.role == "supplier":
            owned = f"owns {self.owns}" if self.owns else "owns the SKUs it lists"
            return f"supplier {self.name} ({owned})"
        return "web store" if self.role == "web" else "back office"


@dataclass(frozen=True)
class StoreSettings:
    """Every setting of a store; the alert webhook's URL is masked (it holds a secret)."""

    name: str
    timezone: str
    inventory_source: InventorySource
    inventory_source_means: str
    erp_name: str | None
    sync_all_button: bool
    alert_email: str | None
    alert_webhook: str | None
    stale_after_hours: int
    failing_item_runs: int
    pending_order_hours: int
    connections: tuple[ConnectionHealth, ...]
    #: The catalog to the web store (``domain/web_catalog.py``): new back-office items
    #: created there, created visible, whose prices the web shows (the effective value;
    #: ``catalog_price_source_set`` is None when it follows the inventory mode), names
    #: pushed, and what an inactive item becomes (zero | hide).
    catalog_create_new: bool = True
    catalog_new_visible: bool = False
    catalog_price_source: str = "back_office"
    catalog_price_source_set: str | None = None
    catalog_push_names: bool = False
    catalog_inactive: str = "zero"


def find_store(uow: UnitOfWork, name: str | None) -> Store:
    """The store named ``name``; with no name, the only store there is."""
    if name is None:
        stores = uow.stores.all()
        if len(stores) == 1:
            return stores[0]
        if not stores:
            raise StoreNotFound("no store yet: add one with `stockbridge store add NAME`")
        names = ", ".join(s.name for s in stores)
        raise StoreNotFound(f"several stores exist ({names}): choose one with --store NAME")
    store = uow.stores.by_name(name)
    if store is None:
        raise StoreNotFound(f"no store named {name!r}")
    return store


def resolve_store(hub: Hub, name: str | None) -> int:
    """The id of the store ``find_store`` finds."""
    with hub.uow() as uow:
        return find_store(uow, name).id


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSetting(
            f"unknown time zone {name!r} (use an IANA name such as Europe/London)"
        ) from None
    return name


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(c in name for c in "/\\\n\r\t"):
        raise InvalidSetting(
            f"store names are 1-{MAX_NAME} characters without slashes or line breaks"
        )
    return name


def add_store(
    hub: Hub,
    name: str,
    *,
    timezone: str = "UTC",
    inventory_source: InventorySource = InventorySource.BACK_OFFICE,
    erp_name: str | None = None,
) -> StoreSettings:
    with hub.uow() as uow:
        store = uow.stores.add(
            _check_name(name),
            timezone=_check_timezone(timezone),
            inventory_source=inventory_source,
            erp_name=erp_name or None,
        )
        uow.commit()
        return _settings(uow, store)


def update_store(
    hub: Hub,
    name: str,
    *,
    timezone: str | None = None,
    inventory_source: InventorySource | None = None,
    erp_name: str | None = None,
    sync_all_button: bool | None = None,
    alert_email: str | None = None,
    alert_webhook_url: str | None = None,
    stale_after_hours: int | None = None,
    failing_item_runs: int | None = None,
    pending_order_hours: int | None = None,
    catalog_create_new: bool | None = None,
    catalog_new_visible: bool | None = None,
    catalog_price_source: str | None = None,
    catalog_push_names: bool | None = None,
    catalog_inactive: str | None = None,
) -> StoreSettings:
    """Change the given settings (None: unchanged; "" clears an alert channel;
    ``catalog_price_source`` "auto" follows the inventory mode). Every value is checked
    before anything is saved."""
    with hub.uow() as uow:
        store = find_store(uow, name)
        try:
            catalog_options = updated_catalog_options(
                store.options,
                create_new=catalog_create_new,
                new_visible=catalog_new_visible,
                price_source=catalog_price_source,
                push_names=catalog_push_names,
                inactive=catalog_inactive,
            )
        except InvalidCatalogSetting as exc:
            raise InvalidSetting(str(exc)) from None
        try:
            options = updated_options(
                catalog_options,
                email=alert_email,
                webhook_url=alert_webhook_url,
                stale_after_hours=stale_after_hours,
                failing_item_runs=failing_item_runs,
                pending_order_hours=pending_order_hours,
                outbound=hub.settings.outbound,
            )
        except InvalidAlertSetting as exc:
            raise InvalidSetting(str(exc)) from None
        store.options = options
        if timezone is not None:
            store.timezone = _check_timezone(timezone)
        if inventory_source is not None:
            store.inventory_source = inventory_source.value
        if erp_name is not None:
            store.erp_name = erp_name or None
        if sync_all_button is not None:
            store.sync_all_button = sync_all_button
        uow.commit()
        return _settings(uow, store)


def list_stores(hub: Hub, only: Collection[str] | None = None) -> list[StoreSettings]:
    """Every store, in name order; or only those named in ``only``."""
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        return [_settings(uow, store) for store in uow.stores.all(only)]


def describe_store(hub: Hub, name: str) -> StoreSettings:
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        return _settings(uow, find_store(uow, name))


def connections_of(uow: UnitOfWork, store_id: int) -> tuple[ConnectionHealth, ...]:
    return tuple(
        ConnectionHealth(c.role, c.kind, c.health, c.last_error, c.name, c.owns)
        for c in uow.stores.connections(store_id)
    )


def _settings(uow: UnitOfWork, store: Store) -> StoreSettings:
    source = InventorySource(store.inventory_source)
    alerts = alert_settings(store.options)
    catalog = catalog_settings(store.options)
    return StoreSettings(
        name=store.name,
        timezone=store.timezone,
        inventory_source=source,
        inventory_source_means=source.explanation,
        erp_name=store.erp_name,
        sync_all_button=store.sync_all_button,
        alert_email=alerts.email,
        alert_webhook=masked_url(alerts.webhook_url),
        stale_after_hours=alerts.stale_after_hours,
        failing_item_runs=alerts.failing_item_runs,
        pending_order_hours=alerts.pending_order_hours,
        connections=connections_of(uow, store.id),
        catalog_create_new=catalog.create_new,
        catalog_new_visible=catalog.new_visible,
        catalog_price_source=catalog.price_master(source).value,
        catalog_price_source_set=None
        if catalog.price_source is None
        else catalog.price_source.value,
        catalog_push_names=catalog.push_names,
        catalog_inactive=catalog.inactive.value,
    )
