"""Use cases behind the HTTP API and webhook receivers. They take parsed input and a Hub,
and raise the errors below, which the routes map to status codes."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.connectors.bigcommerce.webhooks import BadWebhook, parse_envelope
from stockbridge.db.models import ApiToken, Store
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    InventorySource,
    Step,
    Trigger,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Unauthorized",
    "authenticate",
    "push_inventory",
    "receive_bigcommerce_webhook",
    "request_sync",
]


class Unauthorized(Exception):
    pass


class NotFound(LookupError):
    pass


class Forbidden(Exception):
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
        uow.commit()
        return 202, body, run.id


@dataclass(frozen=True)
class WebhookOutcome:
    status: int
    message: str
    stored: bool


def receive_bigcommerce_webhook(
    hub: Hub, name: str, secret: str | None, body: bytes
) -> WebhookOutcome:
    """Check the shared secret in constant time, then store the event in the inbox before
    answering. Duplicates (same envelope hash) are acknowledged and dropped."""
    with hub.uow() as uow:
        store = uow.stores.by_name(name)
        connection = uow.stores.connection(store.id, "web") if store else None
        expected = ""
        if store is not None and connection is not None and connection.kind == "bigcommerce":
            secrets = hub.cipher.decrypt(connection.credentials) if connection.credentials else {}
            expected = secrets.get("webhook_secret", "")
        if not expected or not hmac.compare_digest((secret or "").encode(), expected.encode()):
            raise Unauthorized("missing or wrong webhook secret")
        assert store is not None
        try:
            event = parse_envelope(body)
        except BadWebhook as exc:
            uow.inbox.reject(
                store.id,
                source="webhook:bigcommerce",
                reason=str(exc),
                payload=body[:2000].decode(errors="replace"),
            )
            uow.commit()
            raise Invalid(f"not a webhook we understand: {exc}") from None
        event_id = uow.inbox.add(
            store.id,
            source="bigcommerce",
            dedup_key=event.dedup_key,
            kind=event.kind.value,
            payload={
                "scope": event.scope,
                "resource_id": event.resource_id,
                "occurred_at": event.occurred_at.isoformat(),
            },
        )
        uow.commit()
    if event_id is None:
        return WebhookOutcome(200, "duplicate delivery ignored", stored=False)
    return WebhookOutcome(200, "accepted", stored=True)
