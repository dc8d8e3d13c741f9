"""Webhook secrets: rotation with a grace period, and the per-hub clock and change
notices the webhook receiver's secret cache (web/service.py) follows.

A connection's vault holds the current secret under the adapter's ``secret_key`` and,
after a rotation, the one before it under ``<secret_key>:previous`` with the wall-clock
time (Unix seconds) it stops being accepted under ``<secret_key>:previous_until``.
"""

from __future__ import annotations

import secrets as random_secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import WebStore
from stockbridge.connectors.errors import PartnerError
from stockbridge.db.vault import DbCredentialVault
from stockbridge.services.errors import ConnectFailed, InvalidSetting
from stockbridge.services.stores import resolve_store

__all__ = [
    "Rotation",
    "WebhookEvents",
    "events",
    "previous_keys",
    "rotate_webhook_secret",
]


def previous_keys(secret_key: str) -> tuple[str, str]:
    """The vault names of the secret before a rotation and of its deadline."""
    return f"{secret_key}:previous", f"{secret_key}:previous_until"


@dataclass
class WebhookEvents:
    """What one hub's webhook parts share in this process: the wall clock (Unix seconds;
    tests move it) and who wants to hear that a store's secret changed."""

    clock: Callable[[], float] = time.time
    _listeners: list[Callable[[str, str], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[str, str], None]) -> None:
        self._listeners.append(listener)

    def changed(self, kind: str, store: str) -> None:
        for listener in list(self._listeners):
            listener(kind, store)


_EVENTS: dict[int, WebhookEvents] = {}


def events(hub: Hub) -> WebhookEvents:
    """The hub's ``WebhookEvents`` (made on first use, dropped with the hub)."""
    found = _EVENTS.get(id(hub))
    if found is None:
        found = _EVENTS[id(hub)] = WebhookEvents()
        weakref.finalize(hub, _EVENTS.pop, id(hub), None)
    return found


@dataclass(frozen=True)
class Rotation:
    kind: str
    #: Wall-clock time (Unix seconds) until which the previous secret is accepted; None
    #: when there was none.
    previous_until: float | None
    #: What the partner-side upkeep changed (hooks re-registered with the new secret).
    notes: tuple[str, ...]


def rotate_webhook_secret(hub: Hub, store_name: str | None, *, grace: timedelta) -> Rotation:
    """Store a new random webhook secret for the store's web connection, keep the old one
    accepted for ``grace``, then have the connector re-register its hooks with the new
    one (``WebStore.maintain``). The secret is stored first: should the partner call
    fail, deliveries still carry the old secret, accepted during the grace period, and the
    next run's upkeep finishes the re-registration (``ConnectFailed`` says so).
    """
    if grace < timedelta(0):
        raise InvalidSetting("the grace period cannot be negative")
    store_id = resolve_store(hub, store_name)
    with hub.uow() as uow:
        store = uow.stores.get(store_id)
        connection = uow.stores.connection(store_id, "web")
        if store is None or connection is None:
            raise InvalidSetting("the store has no web store connection")
        name, kind, connection_id = store.name, connection.kind, connection.id
    adapter = hub.registry.webhooks.get(kind)
    if adapter is None:
        raise InvalidSetting(f"{kind} connections receive no webhooks")
    clock = events(hub).clock
    previous_key, until_key = previous_keys(adapter.secret_key)
    deadline: float | None = None
    with DbCredentialVault(hub.sessions, hub.cipher, connection_id).update() as vault:
        old = vault.get(adapter.secret_key, "")
        vault[adapter.secret_key] = random_secrets.token_urlsafe(32)
        if old:
            deadline = clock() + grace.total_seconds()
            vault[previous_key] = old
            vault[until_key] = repr(deadline)
        else:
            vault.pop(previous_key, None)
            vault.pop(until_key, None)
    events(hub).changed(kind, name)  # this process's receivers forget the old material
    partners = hub.partners_for(store_id)
    try:
        web = partners.web
        notes = web.maintain() if isinstance(web, WebStore) else []
    except PartnerError as exc:
        raise ConnectFailed(
            f"the new secret is stored, but {kind} could not be updated ({exc}); the old "
            "secret is accepted during the grace period and the next sync run re-registers "
            "the hooks"
        ) from exc
    finally:
        hub.release_partners(partners)
    return Rotation(kind, deadline, tuple(notes))
