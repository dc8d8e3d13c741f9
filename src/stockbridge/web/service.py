"""Use cases behind the HTTP API and webhook receivers. They take parsed input and a Hub,
and raise the errors below, which the routes map to status codes."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BadWebhook, Delivery, WebhookAdapter
from stockbridge.db.models import ApiToken, Connection, Store
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    InventorySource,
    Step,
    Trigger,
)
from stockbridge.services.webhooks import events as webhook_events
from stockbridge.services.webhooks import previous_keys
from stockbridge.web.inbox_writer import PendingEvent

__all__ = [
    "Conflict",
    "Invalid",
    "NotFound",
    "StaleDelivery",
    "Unauthorized",
    "WebhookSecrets",
    "authenticate",
    "push_inventory",
    "reject_webhook",
    "request_sync",
    "to_pending_event",
]


class Unauthorized(Exception):
    pass


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class Conflict(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    """Who is calling: a store's token (``store_id``) or an operator's (None)."""

    store_id: int | None

    def may_see(self, store_id: int) -> bool:
        return self.store_id is None or self.store_id == store_id


def authenticate(hub: Hub, authorization: str | None) -> Caller:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("send Authorization: Bearer <token>")
    token = authorization[7:].strip()
    with hub.uow() as uow:
        row: ApiToken | None = uow.tokens.find(token)
        if row is None:
            raise Unauthorized("unknown or revoked token")
        row.last_used_at = datetime.now(UTC)
        uow.commit()
        return Caller(row.store_id)


def store_for(uow: UnitOfWork, caller: Caller, name: str) -> Store:
    """The store named ``name`` if the caller may see it; otherwise 404 (a store token
    never learns whether another store exists)."""
    store = uow.stores.by_name(name)
    if store is None or not caller.may_see(store.id):
        raise NotFound(f"no store named {name!r}")
    return store


def request_sync(hub: Hub, caller: Caller, name: str, steps: tuple[Step, ...]) -> tuple[int, bool]:
    with hub.uow() as uow:
        store = store_for(uow, caller, name)
        run, merged = uow.runs.request(store.id, steps, Trigger.MANUAL)
        uow.commit()
        return run.id, merged


@dataclass(frozen=True)
class PushItem:
    sku: str
    quantity: int
    location: str = DEFAULT_LOCATION


def push_inventory(
    hub: Hub, caller: Caller, name: str, items: list[PushItem], idempotency_key: str | None
) -> tuple[int, dict[str, Any], int | None]:
    """Apply an ERP's quantities (api mode), all or nothing, and request an inventory-out
    run to carry them to the web store. Returns (status, body, run id to execute).

    A repeated Idempotency-Key returns the first answer and applies nothing; the same
    key with a different body is a conflict.
    """
    if not idempotency_key:
        raise Invalid("the Idempotency-Key header is required")
    if len(idempotency_key) > 255:
        raise Invalid("Idempotency-Key is at most 255 characters")
    request_hash = hashlib.sha256(
        json.dumps([(i.sku, i.quantity, i.location) for i in items]).encode()
    ).hexdigest()
    with hub.uow() as uow:
        store = store_for(uow, caller, name)
        earlier = uow.tokens.idempotent_answer(store.id, idempotency_key)
        if earlier is not None:
            if not hmac.compare_digest(earlier.request_hash, request_hash):
                raise Conflict("this Idempotency-Key was used with a different body")
            return earlier.status_code, dict(earlier.response), None
        if InventorySource(store.inventory_source) is not InventorySource.API:
            raise Conflict(
                f"store {name!r} takes stock from {store.inventory_source}; pushed quantities "
                "are accepted in api mode (stockbridge store set --inventory-source api)"
            )
        counts = Counter((i.sku, i.location) for i in items)
        duplicates = sorted({sku for (sku, _), n in counts.items() if n > 1})
        if duplicates:
            raise Invalid(
                "each SKU may appear once per location in a push",
                [{"sku": sku, "problem": "duplicate"} for sku in duplicates[:50]],
            )
        odd_locations = sorted(
            {i.location for i in items} - {DEFAULT_LOCATION} - uow.catalog.locations(store.id)
        )
        if odd_locations:
            raise Invalid(
                "unknown locations; nothing was applied",
                [{"location": loc, "problem": "unknown location"} for loc in odd_locations[:50]],
            )
        known = uow.catalog.known_skus(store.id, {i.sku for i in items})
        unknown = sorted({i.sku for i in items} - known)
        if unknown:
            uow.inbox.reject(
                store.id,
                source="api",
                reason=f"unknown SKUs: {', '.join(unknown[:20])}",
                payload=json.dumps([i.__dict__ for i in items[:50]]),
            )
            uow.commit()
            raise Invalid(
                "unknown SKUs; nothing was applied",
                [{"sku": sku, "problem": "unknown SKU"} for sku in unknown[:50]],
            )
        now = datetime.now(UTC)
        uow.catalog.apply_back_office_items(
            store.id,
            [
                BackOfficeItem(i.sku, quantity=i.quantity, modified_at=now, location=i.location)
                for i in items
            ],
        )
        run, _ = uow.runs.request(store.id, (Step.INVENTORY_OUT,), Trigger.API)
        body = {"applied": len(items), "run_id": run.id}
        uow.tokens.remember_answer(store.id, idempotency_key, request_hash, 202, body)
        try:
            uow.commit()
        except IntegrityError:
            # The same key arrived twice at once and the other request committed first:
            # nothing of this one was applied; answer as the first one did.
            return push_inventory(hub, caller, name, items, idempotency_key)
        return 202, body, run.id


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
        },
    )
