"""Webhook deliveries' secrets and freshness: each (kind, store)'s secret material cached
(with the previous secret during a rotation's grace period), one uniform answer for an
unknown store, a wrong secret or a missing one; stale deliveries refused; refused
deliveries kept as rejected input; a verified delivery turned into an inbox event."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BadWebhook, Delivery, WebhookAdapter
from stockbridge.db.models import Connection, Store
from stockbridge.services.webhooks import events as webhook_events
from stockbridge.services.webhooks import previous_keys
from stockbridge.web.errors import Unauthorized
from stockbridge.web.inbox_writer import PendingEvent

__all__ = [
    "MAX_AHEAD",
    "WRONG_SECRET",
    "StaleDelivery",
    "WebhookSecrets",
    "check_fresh",
    "reject_webhook",
    "to_pending_event",
]


@dataclass(frozen=True, slots=True)
class _Material:
    """What verifies one (kind, store)'s deliveries, as read from the database.
    ``store_id`` None: no such store or connection (compared against the dummy)."""

    store_id: int | None
    secret: str
    previous: str
    previous_until: float  # wall clock (Unix seconds)
    loaded: float  # monotonic
    expires: float  # monotonic


class _Bounded(OrderedDict[tuple[str, str], _Material]):
    """At most ``limit`` entries; the oldest insertion goes first."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: tuple[str, str], value: _Material) -> None:
        self.pop(key, None)
        self[key] = value
        while len(self) > self.limit:
            self.popitem(last=False)


class WebhookSecrets:
    """Each store's webhook secret per connector kind, cached so that a delivery, right or
    wrong, costs no database read and no decryption while the entry is fresh.

    - Known stores are cached for ``ttl`` seconds; unknown stores (or stores without a
      connection of the kind) for ``negative_ttl``, in a separate map bounded to
      ``max_unknown`` names, so made-up names neither grow memory nor evict real stores.
    - Every delivery makes the same comparisons: against the secret and the previous one
      (its grace period checked on the wall clock), or, where there is none, a random
      dummy of this process; an unknown store and a wrong secret give the same 401. A
      read for an unknown store decrypts a dummy vault, as one for a store decrypts its.
    - A rotation in this process drops the entry at once (``services.webhooks.events``).
      Another process's cache follows within ``ttl``; sooner when a delivery does not
      verify against an entry older than ``refresh_after``: one read then, at most once
      per ``refresh_after`` per store.
    """

    def __init__(
        self,
        hub: Hub,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        refresh_after: float = 5.0,
        max_unknown: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.refresh_after = refresh_after
        self.monotonic = monotonic
        self.events = webhook_events(hub)
        self._dummy = secrets.token_urlsafe(32)
        self._dummy_vault = hub.cipher.encrypt({"dummy": self._dummy})
        self._known = _Bounded(1_000_000)
        self._unknown = _Bounded(max_unknown)
        self._lock = threading.Lock()
        self.events.subscribe(self.forget)

    def forget(self, kind: str, name: str) -> None:
        """Drop what is cached for the store (its secret just changed)."""
        with self._lock:
            self._known.pop((kind, name), None)
            self._unknown.pop((kind, name), None)

    def _load(self, adapter: WebhookAdapter, name: str) -> _Material:
        # A read: on SQLite it takes no write lock, so anonymous requests for unknown
        # stores or with wrong secrets never hold up the writers.
        now = self.monotonic()
        with self.hub.uow() as uow:  # one query: the store's id and its encrypted vault
            found = (
                uow.read_only()
                .session.execute(
                    select(Store.id, Connection.credentials)
                    .join(Connection, Connection.store_id == Store.id)
                    .where(Store.name == name, Connection.kind == adapter.kind)
                    .limit(1)
                )
                .first()
            )
        if found is None:  # the same decryption as for a store, of a dummy vault
            self.hub.cipher.decrypt(self._dummy_vault)
            return _Material(None, "", "", 0.0, now, now + self.negative_ttl)
        store_id, blob = found
        vault = self.hub.cipher.decrypt(blob or self._dummy_vault)
        previous_key, until_key = previous_keys(adapter.secret_key)
        try:
            until = float(vault.get(until_key, "0"))
        except ValueError:
            until = 0.0
        return _Material(
            store_id,
            vault.get(adapter.secret_key, ""),
            vault.get(previous_key, ""),
            until,
            now,
            now + self.ttl,
        )

    def _verify(self, adapter: WebhookAdapter, delivery: Delivery, m: _Material) -> bool:
        # The same two comparisons whatever the material holds (dummy where none).
        current = adapter.verify(delivery, m.secret or self._dummy)
        previous = adapter.verify(delivery, m.previous or self._dummy)
        if m.store_id is None or not m.secret:
            return False
        return current or (previous and bool(m.previous) and self.events.clock() < m.previous_until)

    def _cached(self, key: tuple[str, str]) -> _Material | None:
        m = self._known.get(key) or self._unknown.get(key)
        return m if m is not None and m.expires > self.monotonic() else None

    def check_cached(self, adapter: WebhookAdapter, name: str, delivery: Delivery) -> int | None:
        """The store's id if the delivery verifies against fresh cached material;
        Unauthorized if it does not and the material is too fresh to read again; None
        means: ask ``check`` (which reads the database). Never blocks."""
        m = self._cached((adapter.kind, name))
        if m is None:
            return None
        if self._verify(adapter, delivery, m):
            assert m.store_id is not None
            return m.store_id
        if m.store_id is not None and self.monotonic() - m.loaded >= self.refresh_after:
            return None  # the store may have a secret this process has not seen yet
        raise Unauthorized(WRONG_SECRET)

    def check(self, adapter: WebhookAdapter, name: str, delivery: Delivery) -> int:
        """The store's id when the delivery verifies; Unauthorized otherwise. Reads the
        database when the cached material is missing, stale or due a refresh."""
        key = (adapter.kind, name)
        m = self._cached(key)
        if m is not None and self._verify(adapter, delivery, m):
            assert m.store_id is not None
            return m.store_id
        if m is None or (
            m.store_id is not None and self.monotonic() - m.loaded >= self.refresh_after
        ):
            m = self._load(adapter, name)
            with self._lock:
                if m.store_id is None:
                    self._known.pop(key, None)
                    self._unknown.put(key, m)
                else:
                    self._unknown.pop(key, None)
                    self._known.put(key, m)
            if self._verify(adapter, delivery, m):
                assert m.store_id is not None
                return m.store_id
        raise Unauthorized(WRONG_SECRET)


WRONG_SECRET = "missing or wrong webhook secret"


class StaleDelivery(BadWebhook):
    """A verified delivery whose event time is outside the accepted window."""


def check_fresh(occurred_at: datetime, now: float, max_age: float) -> None:
    """Refuse an event older than ``max_age`` seconds or more than ``MAX_AHEAD`` seconds
    ahead of ``now`` (Unix seconds): a replay, or a clock far off."""
    age = now - occurred_at.timestamp()
    if age > max_age:
        raise StaleDelivery(
            f"created {int(age)} s ago, over the {int(max_age)} s window: a replay or a "
            "delivery too late to trust; refused (the regular sync reads the change)"
        )
    if age < -MAX_AHEAD:
        raise StaleDelivery(
            f"created {int(-age)} s in the future, over the {MAX_AHEAD} s allowed for clock "
            "skew; refused"
        )


#: How far ahead of the hub's clock an event time may be (clock skew).
MAX_AHEAD = 300


def reject_webhook(hub: Hub, store_id: int, reason: str, body: bytes, *, kind: str) -> None:
    """Keep a refused delivery (truncated) with the reason, for the dashboard."""
    with hub.uow() as uow:
        uow.inbox.reject(
            store_id,
            source=f"webhook:{kind}",
            reason=reason,
            payload=body[:2000].decode(errors="replace"),
        )
        uow.commit()


def to_pending_event(
    store_id: int,
    adapter: WebhookAdapter,
    delivery: Delivery,
    *,
    now: float | None = None,
    max_age: float | None = None,
) -> PendingEvent:
    """Parse a verified delivery into the event to store; BadWebhook says why it cannot
    be (``StaleDelivery`` when, given ``now`` and ``max_age``, its time is out of the
    window)."""
    event = adapter.parse(delivery)
    if now is not None and max_age is not None:
        check_fresh(event.occurred_at, now, max_age)
    return PendingEvent(
        store_id=store_id,
        source=adapter.kind,
        dedup_key=event.dedup_key,
        kind=event.kind.value,
        payload={
            "scope": event.scope,
            "resource_id": event.resource_id,
            "occurred_at": event.occurred_at.isoformat(),
            **({"product": event.product_id} if event.product_id is not None else {}),
            **({"change": event.change} if event.change is not None else {}),
        },
    )
