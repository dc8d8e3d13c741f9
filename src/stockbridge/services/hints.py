"""What to tell a merchant whose SKU the hub does not know: the hub learns a store's SKUs
from the web store's catalog, read by a sync; before the first one it knows none."""

from __future__ import annotations

import shlex

from stockbridge.db.models import Store
from stockbridge.db.uow import UnitOfWork

__all__ = ["unknown_sku_hint"]


def unknown_sku_hint(uow: UnitOfWork, store: Store) -> str:
    """The hint to add to an "unknown SKU" refusal for ``store``."""
    command = f"stockbridge sync all --store {shlex.quote(store.name)}"
    if not uow.runs.last_finished(store.id):
        return (
            f"store {store.name!r} has never been synced, so the hub knows none of the web "
            f"store's SKUs yet: run Sync All first ({command}, the dashboard's back-office "
            "bar, or POST /api/v1/stores/{store}/sync)"
        )
    return (
        "the hub knows a SKU once a sync has read it from the web store: add it there, "
        f"then sync ({command})"
    )
