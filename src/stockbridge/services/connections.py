"""Connecting a store to a partner: the credentials are checked with one cheap call
before anything is saved. A store has one web store, one primary back office (orders
post there) and any number of suppliers: supplementary stock sources, each owning the
SKUs it lists or those its pattern matches (``domain/sources.py`` has the rule; a pattern
overlapping another supplier's is refused here, before anything is saved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.connectors.errors import PartnerAuthError, PartnerError
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.db.sources import SUPPLIER_ROLE
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.sources import (
    InvalidSource,
    Supplier,
    check_pattern,
    check_supplier_name,
    overlapping_supplier,
)
from stockbridge.services.errors import ConnectFailed, InvalidSetting
from stockbridge.services.stores import find_store, resolve_store
from stockbridge.services.webhooks import events as webhook_events
from stockbridge.sync.inventory_in import ITEMS_STREAM

__all__ = [
    "SupplierRemoved",
    "connect_partner",
    "connection_settings",
    "disconnect_supplier",
    "forget_credentials",
    "stored_secrets",
]

ROLES = ("web", "back_office", SUPPLIER_ROLE)


def _kept_on_reconnect(secret: str) -> bool:
    """Secrets the hub made itself survive connecting the partner again: the webhook
    secret (and, after a rotation, the previous one with its deadline:
    ``webhook_secret:*``), and the SFTP host keys it pinned (``sftp_host_key*``: a changed
    key must be confirmed, never trusted again silently on a reconnect)."""
    return secret.split(":", 1)[0] in ("webhook_secret", "sftp_host_key")


def connect_partner(
    hub: Hub,
    store_name: str | None,
    *,
    role: str,
    kind: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
    supplier: str | None = None,
    owns: str | None = None,
) -> str:
    """Check the credentials with one cheap call, then save the connection (secrets
    encrypted). Returns what the partner call reached (e.g. the store's name). Settings
    the connector refuses raise ``InvalidSetting``, a refusal or an unreachable partner
    ``ConnectFailed``; either way nothing is saved.

    A supplier (``role`` "supplier") is named by ``supplier`` and owns the SKUs matching
    ``owns`` or, without it, the SKUs it lists. The store must have its primary back
    office first (orders post there). Reconnecting a supplier with another pattern hands
    its SKUs back to the primary until it is read again.
    """
    name, owns = _check_source(role, supplier, owns)
    store_id = resolve_store(hub, store_name)
    with hub.uow() as uow:  # reconnecting keeps secrets the hub made itself (webhook secret)
        uow.read_only()
        if role == SUPPLIER_ROLE:
            _check_ownership(uow, store_id, name, owns)
        existing = uow.stores.connection(store_id, role, name)
        kept: dict[str, str] = {}
        if existing is not None and existing.kind == kind and existing.credentials:
            kept = hub.cipher.decrypt(existing.credentials)
    vault = MemoryVault({**{k: v for k, v in kept.items() if _kept_on_reconnect(k)}, **secrets})
    env = ConnectorEnv(
        settings=settings,
        vault=vault,
        limiters=hub.limiters,
        retry=hub.retry,
        outbound=hub.settings.outbound,
    )
    try:
        connector = hub.registry.create(kind, env)
    except ValueError as exc:  # the connector refused its settings
        raise InvalidSetting(str(exc)) from None
    expected = WebStore if role == "web" else BackOffice
    if not isinstance(connector, expected):
        what = "back office" if role == SUPPLIER_ROLE else role.replace("_", " ")
        raise InvalidSetting(f"{kind} is not a {what} connector")
    try:
        reached = connector.check()
        if isinstance(connector, WebStore):
            for note in connector.maintain():  # e.g. register webhooks
                reached += f"; {note}"
    except PartnerAuthError as exc:
        raise ConnectFailed(f"{kind} refused the credentials: {exc.message}") from exc
    except PartnerError as exc:
        raise ConnectFailed(f"could not reach {kind}: {exc}") from exc
    with hub.uow() as uow:
        if role == SUPPLIER_ROLE:
            _check_ownership(uow, store_id, name, owns)  # again: nothing changed meanwhile
            previous = uow.stores.connection(store_id, role, name)
            if previous is not None and previous.owns != owns:
                _release(uow, store_id, previous.id)
        uow.stores.connect(
            store_id,
            role=role,
            kind=kind,
            settings=settings,
            credentials=hub.cipher.encrypt(vault.secrets),  # as rotated by the check, if at all
            name=name,
            owns=owns,
        )
        uow.commit()
        store = uow.stores.get(store_id)
        store_label = store.name if store is not None else None
    if store_label is not None:  # this process's webhook receivers read the new secrets now
        webhook_events(hub).changed(kind, store_label)
    return reached


@dataclass(frozen=True)
class SupplierRemoved:
    """A supplier was disconnected; ``released`` SKUs went back to the primary back
    office (their stock is unknown until it reports them)."""

    store: str
    supplier: str
    released: int


def disconnect_supplier(hub: Hub, store_name: str | None, supplier: str) -> SupplierRemoved:
    """Disconnect a store's supplier: its SKUs go back to the primary back office, whose
    next read takes them up again. An unknown supplier raises ``InvalidSetting`` naming
    the store's suppliers; nothing changes."""
    wanted = supplier.strip()
    with hub.uow() as uow:
        store = find_store(uow, store_name)
        connection = uow.sources.supplier_connection(store.id, wanted)
        if connection is None:
            names = ", ".join(repr(s.name) for s in uow.sources.suppliers(store.id)) or "none"
            raise InvalidSetting(
                f"store {store.name!r} has no supplier {wanted!r} (its suppliers: {names})"
            )
        released = _release(uow, store.id, connection.id)
        uow.stores.disconnect(connection)
        uow.commit()
        return SupplierRemoved(store.name, connection.name, released)


def _check_source(role: str, supplier: str | None, owns: str | None) -> tuple[str, str | None]:
    """(connection name, SKU pattern) for ``role``, checked."""
    if role not in ROLES:
        raise InvalidSetting(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    if role != SUPPLIER_ROLE:
        if supplier is not None or owns is not None:
            raise InvalidSetting("a supplier name and a SKU pattern are for suppliers only")
        return "", None
    if supplier is None:
        raise InvalidSetting("a supplier needs a name (--supplier NAME)")
    try:
        return check_supplier_name(supplier), None if owns is None else check_pattern(owns)
    except InvalidSource as exc:
        raise InvalidSetting(str(exc)) from None


def _check_ownership(uow: UnitOfWork, store_id: int, name: str, owns: str | None) -> None:
    """Refuse a supplier whose SKUs would overlap another supplier's: patterns that
    overlap, a pattern matching a SKU another supplier claimed, or two patterns matching
    one SKU the hub knows. Needs the primary back office first."""
    if uow.stores.connection(store_id, "back_office") is None:
        raise InvalidSetting(
            "connect the store's back office first (QuickBooks or a feed): orders post "
            "there, and a supplier only adds stock for its own SKUs"
        )
    if owns is None:
        return
    others = [s for s in uow.sources.suppliers(store_id) if s.name != name]
    clash = overlapping_supplier(others, owns, name=name)
    if clash is not None:
        raise InvalidSetting(
            f"SKU pattern {owns!r} overlaps supplier {clash.name!r}'s pattern {clash.owns!r}: "
            "two suppliers may not own one SKU"
        )
    by_id = {s.connection_id: s for s in others}
    for sku, owner in sorted(uow.sources.claimed_skus(store_id).items()):
        if owner in by_id and Supplier(0, name, owns).matches(sku):
            raise InvalidSetting(
                f"SKU pattern {owns!r} matches {sku}, which supplier {by_id[owner].name!r} "
                "lists: two suppliers may not own one SKU"
            )
    patterned = [s for s in others if s.owns is not None]
    if patterned:
        mine = Supplier(0, name, owns)
        for sku in uow.sources.iter_skus(store_id):
            if mine.matches(sku):
                other = next((s for s in patterned if s.matches(sku)), None)
                if other is not None:
                    raise InvalidSetting(
                        f"SKU pattern {owns!r} and supplier {other.name!r}'s pattern "
                        f"{other.owns!r} both match {sku}: two suppliers may not own one SKU"
                    )


def _release(uow: UnitOfWork, store_id: int, connection_id: int) -> int:
    supplier = next(s for s in uow.sources.suppliers(store_id) if s.connection_id == connection_id)
    primary = uow.stores.connection(store_id, "back_office")
    reread = None if primary is None else (primary.id, ITEMS_STREAM)
    return uow.sources.release(store_id, supplier, reread=reread)


def connection_settings(hub: Hub, store_name: str, role: str, kind: str) -> dict[str, Any]:
    """The settings of the store's connection in ``role`` if it is of ``kind`` (kept when
    it is connected again), else {}."""
    with hub.uow() as uow:
        uow.read_only()
        connection = uow.stores.connection(find_store(uow, store_name).id, role)
        if connection is None or connection.kind != kind:
            return {}
        return dict(connection.settings or {})


def stored_secrets(hub: Hub, store_name: str, role: str, kind: str) -> dict[str, str] | None:
    """The decrypted secrets of the store's connection in ``role`` if it is of ``kind``
    and has any, else None."""
    with hub.uow() as uow:
        uow.read_only()
        connection = uow.stores.connection(find_store(uow, store_name).id, role)
        if connection is None or connection.kind != kind or not connection.credentials:
            return None
        return hub.cipher.decrypt(connection.credentials)


def forget_credentials(hub: Hub, store_name: str, role: str, kind: str) -> bool:
    """Remove the secrets of the store's connection in ``role`` (of ``kind``) and mark it
    ``disconnected``; the row, its cursors and links stay (the history, and what was
    already posted, are kept for a reconnection). False if there was nothing to remove."""
    with hub.uow() as uow:
        connection = uow.stores.connection(find_store(uow, store_name).id, role)
        if connection is None or connection.kind != kind or not connection.credentials:
            return False
        connection.credentials = None
        uow.stores.set_health(connection.id, "disconnected", "disconnected by the merchant")
        uow.commit()
        return True
