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

from sqlalchemy.exc import IntegrityError

from stockbridge.bootstrap import Hub
from stockbridge.db.models import ApiToken, Store, Variant
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import (
    DEFAULT_LOCATION,
    BackOfficeItem,
    InventorySource,
    Step,
    Trigger,
)
from stockbridge.domain.ownership import OWNER_WORDS, accepts_push, effective_source, stock_owner
from stockbridge.services.hints import unknown_sku_hint
from stockbridge.web.errors import Conflict, Invalid, NotFound, Unauthorized

__all__ = [
    "Conflict",
    "Invalid",
    "NotFound",
    "Unauthorized",
    "authenticate",
    "push_inventory",
    "request_sync",
]


@dataclass(frozen=True)
class Caller:
    """Who is calling: a store's token (``store_id``) or an operator's (None), and which
    token it is (``token_id``: a token it mints is that token's child)."""

    store_id: int | None
    token_id: int | None = None

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
        return Caller(row.store_id, row.id)


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
        variants = uow.catalog.variants_by_sku(store.id, {i.sku for i in items})
        refused = sorted(
            sku
            for sku, v in variants.items()
            if not accepts_push(effective_source(store.inventory_source, v.inventory_source))
        )
        if store.inventory_source != InventorySource.API and len(refused) == len(variants):
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
                f"unknown SKUs; nothing was applied. Hint: {unknown_sku_hint(uow, store)}",
                [{"sku": sku, "problem": "unknown SKU"} for sku in unknown[:50]],
            )
        if refused:
            raise Conflict(
                "these SKUs take their stock from another source, so a push may not set it; "
                f"nothing was applied: {_sources_of(store.inventory_source, variants, refused)}"
            )
        now = datetime.now(UTC)
        uow.catalog.apply_back_office_items(
            store.id,
            [
                BackOfficeItem(i.sku, quantity=i.quantity, modified_at=now, location=i.location)
                for i in items
            ],
            store_source=InventorySource(store.inventory_source),
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


def _sources_of(store_source: str, variants: dict[str, Variant], skus: list[str]) -> str:
    """ "PRE (erp_via_web: the web store owns its stock), ..." for the first 20 SKUs."""
    named = []
    for sku in skus[:20]:
        variant = variants[sku]
        source = effective_source(store_source, variant.inventory_source)
        owner = stock_owner(source, variant.hub_managed)
        named.append(f"{sku} ({source.value}: {OWNER_WORDS[owner]} owns its stock)")
    more = f" and {len(skus) - 20} more" if len(skus) > 20 else ""
    return ", ".join(named) + more
