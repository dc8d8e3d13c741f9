"""Stores and their settings: add, change, list, describe, and find one by name.

Every setting is checked before anything is saved; a bad one raises ``InvalidSetting``
and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
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
from stockbridge.domain.model import CancelAs, CustomerMode, InventorySource
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
    "parse_payment_methods",
    "resolve_store",
    "update_books",
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
    #: The partner's own id of the account connected: the QuickBooks company's realm id,
    #: the BigCommerce store hash (None: the partner has none to show).
    account: str | None = None

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
    #: Alert when the drift (SKUs) stays above this.
    drift_threshold: int = 10
    #: The books (docs/facts-qbo-books.md): one customer or one per buyer; how a posted
    #: order cancelled on the web is reversed; the deposit account; web payment method
    #: -> back-office payment method id; the web status written back after posting
    #: (None: off).
    customer_mode: CustomerMode = CustomerMode.SINGLE
    cancel_as: CancelAs = CancelAs.VOID
    deposit_account: str | None = None
    payment_methods: dict[str, str] = field(default_factory=dict)
    status_after_post: int | None = None
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
    if not name or len(name) > MAX_NAME or any(c in name for c in "/\\") or not name.isprintable():
        raise InvalidSetting(
            f"store names are 1-{MAX_NAME} characters without slashes, line breaks or "
            "other control characters"
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
    """Add a store (``DuplicateStore`` when the name is taken; nothing saved then).
    Every new store starts with Sync All hidden, whichever path made it: the merchant
    turns it on in the store's Options (General), ``update_store(sync_all_button=True)``."""
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
    drift_threshold: int | None = None,
    catalog_create_new: bool | None = None,
    catalog_new_visible: bool | None = None,
    catalog_price_source: str | None = None,
    catalog_push_names: bool | None = None,
    catalog_inactive: str | None = None,
) -> StoreSettings:
    """Change the given settings (None: unchanged; "" clears an alert channel;
    ``catalog_price_source`` "auto" follows the inventory mode). Every value is checked
    before anything is saved."""
    if alert_email and alert_email.strip() and not hub.settings.smtp_host:
        raise InvalidSetting(
            "alert email needs an SMTP server, and none is configured: set "
            "STOCKBRIDGE_SMTP_HOST (and _FROM, _USERNAME, _PASSWORD as your provider says), "
            "restart, then set the address; or use an alert webhook. Nothing was saved"
        )
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
                drift_threshold=drift_threshold,
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


_REF = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_PAYMENT_METHODS = 50
#: BigCommerce's order status ids (``GET /v2/order_statuses``), 0 (Incomplete) aside.
WEB_STATUSES = range(1, 15)


def _check_ref(value: str, what: str) -> str:
    if not _REF.match(value):
        raise InvalidSetting(f"{what} is a back-office id: 1-64 letters, digits, - or _")
    return value


def _check_payment_methods(methods: Mapping[str, str]) -> dict[str, str]:
    if len(methods) > MAX_PAYMENT_METHODS:
        raise InvalidSetting(f"at most {MAX_PAYMENT_METHODS} payment methods")
    checked: dict[str, str] = {}
    seen: set[str] = set()
    for name, ref in methods.items():
        if not isinstance(name, str) or not isinstance(ref, str):
            raise InvalidSetting("payment methods map web method names to back-office ids")
        label = " ".join(name.split())
        if not label or len(label) > 100:
            raise InvalidSetting("a payment method name is 1-100 characters")
        if label.casefold() in seen:
            raise InvalidSetting(f"payment method {label!r} is given twice")
        seen.add(label.casefold())
        checked[label] = _check_ref(ref.strip(), f"payment method id for {label!r}")
    return checked


def parse_payment_methods(text: str) -> dict[str, str]:
    """``"Credit Card=3, PayPal=5"`` -> {"Credit Card": "3", "PayPal": "5"}; "" -> {}."""
    methods: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, ref = part.rpartition("=")
        if not sep or not name.strip() or not ref.strip():
            raise InvalidSetting(f"payment method {part!r}: write it as WEB METHOD=BACK-OFFICE ID")
        if name.strip().casefold() in (m.casefold() for m in methods):
            raise InvalidSetting(f"payment method {name.strip()!r} is given twice")
        methods[name.strip()] = ref.strip()
    return methods


def update_books(
    hub: Hub,
    name: str,
    *,
    customer_mode: str | None = None,
    cancel_as: str | None = None,
    deposit_account: str | None = None,
    payment_methods: Mapping[str, str] | None = None,
    status_after_post: int | None = None,
    status_after_post_off: bool = False,
) -> StoreSettings:
    """Change the store's books settings (None: unchanged; ``deposit_account`` "" clears
    it; ``payment_methods`` replaces the whole map). The status write-back is the web
    connection's (a web store must be connected). Everything is checked first."""
    try:
        mode = None if customer_mode is None else CustomerMode(customer_mode)
    except ValueError:
        raise InvalidSetting("customer mode is single or per_buyer") from None
    try:
        cancel = None if cancel_as is None else CancelAs(cancel_as)
    except ValueError:
        raise InvalidSetting("cancel as is void or refund_receipt") from None
    account = deposit_account.strip() if deposit_account is not None else None
    if account:
        _check_ref(account, "the deposit account")
    methods = None if payment_methods is None else _check_payment_methods(payment_methods)
    if status_after_post is not None and (
        isinstance(status_after_post, bool) or status_after_post not in WEB_STATUSES
    ):
        raise InvalidSetting("the status written back is a web order status id, 1-14")
    with hub.uow() as uow:
        store = find_store(uow, name)
        writes_back = status_after_post is not None or status_after_post_off
        web = uow.stores.connection(store.id, "web") if writes_back else None
        if writes_back and web is None:
            raise InvalidSetting("connect a web store first: the status is written back to it")
        if mode is not None:
            store.customer_mode = mode.value
        if cancel is not None:
            store.cancel_as = cancel.value
        if account is not None:
            store.deposit_account = account or None
        if methods is not None:
            store.payment_methods = methods
        if web is not None:
            settings: dict[str, Any] = dict(web.settings or {})
            if status_after_post_off:
                settings.pop("status_after_post", None)
            else:
                settings["status_after_post"] = status_after_post
            web.settings = settings
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


#: The connection settings that name the partner's account, in the order looked for.
ACCOUNT_SETTINGS = ("realm_id", "store_hash")


def _account(settings: Mapping[str, object] | None) -> str | None:
    values = settings or {}
    found = next((values[k] for k in ACCOUNT_SETTINGS if values.get(k)), None)
    return None if found is None else str(found)


def connections_of(uow: UnitOfWork, store_id: int) -> tuple[ConnectionHealth, ...]:
    return tuple(
        ConnectionHealth(
            c.role, c.kind, c.health, c.last_error, c.name, c.owns, _account(c.settings)
        )
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
        drift_threshold=alerts.drift_threshold,
        customer_mode=CustomerMode(store.customer_mode or "single"),
        cancel_as=CancelAs(store.cancel_as or "void"),
        deposit_account=store.deposit_account,
        payment_methods=dict(store.payment_methods or {}),
        status_after_post=_status_after_post(uow, store.id),
        catalog_create_new=catalog.create_new,
        catalog_new_visible=catalog.new_visible,
        catalog_price_source=catalog.price_master(source).value,
        catalog_price_source_set=None
        if catalog.price_source is None
        else catalog.price_source.value,
        catalog_push_names=catalog.push_names,
        catalog_inactive=catalog.inactive.value,
    )


def _status_after_post(uow: UnitOfWork, store_id: int) -> int | None:
    web = uow.stores.connection(store_id, "web")
    value = (web.settings or {}).get("status_after_post") if web is not None else None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
