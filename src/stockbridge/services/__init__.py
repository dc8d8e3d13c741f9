"""Use cases the CLI, the API and the dashboard call: plain functions of the ``Hub`` and a
command (a small frozen dataclass named as an order, e.g. ``RequestSync``) or typed
arguments. They return typed results (frozen dataclasses; ``stockbridge.jsonable`` turns
them into the JSON the CLI and the API answer) and raise the errors in ``errors``, which
entry points map to exit codes and HTTP statuses.

One module per concept:

- ``stores``       stores and their settings; ``find_store`` by name
- ``connections``  connecting a store to a partner (credentials checked first)
- ``runs``         sync runs: request, carry out now, retry failed items, history
- ``status``       where each store stands (last run per step, last manual sync)
- ``inventory``    stock per side and location, hub-managed quantities
- ``schedules``    when each store syncs by itself
- ``tokens``       API tokens
- ``onboarding``   setting a store up from forms: web store, feed (with a preview), disconnect
- ``rejected``     input the hub refused, with the reason
- ``oauth``        a partner's OAuth consent: single-use states, one-time start links

The names below are re-exported for callers that import ``stockbridge.services``; each
module is imported when one of its names is first asked for (PEP 562), so importing one
use case (``stockbridge.services.status``) does not import them all: the CLI starts
with the modules its command needs only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stockbridge.services.connections import (
        SupplierRemoved,
        connect_partner,
        disconnect_supplier,
    )
    from stockbridge.services.errors import (
        ConnectFailed,
        DuplicateStore,
        InvalidSetting,
        StoreNotFound,
    )
    from stockbridge.services.inventory import (
        MAX_QUANTITY,
        ProductDetail,
        SetHubQuantity,
        StockLevel,
        VariantStock,
        product_detail,
        search_inventory,
        set_hub_quantity,
    )
    from stockbridge.services.rejected import Rejection, rejected_inputs
    from stockbridge.services.runs import (
        ItemFailure,
        RequestSync,
        RetryFailedItems,
        RunDetail,
        RunReport,
        RunRequested,
        RunSummary,
        exit_code,
        request_sync,
        retry_failed_items,
        run_detail,
        run_history,
        sync,
    )
    from stockbridge.services.schedules import (
        ScheduleState,
        StoreSchedules,
        set_schedule,
        show_schedule,
    )
    from stockbridge.services.status import ActiveRun, LastStepRun, StoreStatus, store_status
    from stockbridge.services.stores import (
        ConnectionHealth,
        StoreSettings,
        add_store,
        describe_store,
        find_store,
        list_stores,
        resolve_store,
        update_books,
        update_store,
    )
    from stockbridge.services.tokens import IssuedToken, TokenInfo, create_token, issue_token

#: name -> the module that defines it
_WHERE = {
    "ActiveRun": "stockbridge.services.status",
    "ConnectFailed": "stockbridge.services.errors",
    "ConnectionHealth": "stockbridge.services.stores",
    "DuplicateStore": "stockbridge.services.errors",
    "InvalidSetting": "stockbridge.services.errors",
    "IssuedToken": "stockbridge.services.tokens",
    "ItemFailure": "stockbridge.services.runs",
    "LastStepRun": "stockbridge.services.status",
    "MAX_QUANTITY": "stockbridge.services.inventory",
    "ProductDetail": "stockbridge.services.inventory",
    "Rejection": "stockbridge.services.rejected",
    "RequestSync": "stockbridge.services.runs",
    "RetryFailedItems": "stockbridge.services.runs",
    "RunDetail": "stockbridge.services.runs",
    "RunReport": "stockbridge.services.runs",
    "RunRequested": "stockbridge.services.runs",
    "RunSummary": "stockbridge.services.runs",
    "ScheduleState": "stockbridge.services.schedules",
    "SetHubQuantity": "stockbridge.services.inventory",
    "StockLevel": "stockbridge.services.inventory",
    "StoreNotFound": "stockbridge.services.errors",
    "StoreSchedules": "stockbridge.services.schedules",
    "StoreSettings": "stockbridge.services.stores",
    "StoreStatus": "stockbridge.services.status",
    "SupplierRemoved": "stockbridge.services.connections",
    "TokenInfo": "stockbridge.services.tokens",
    "VariantStock": "stockbridge.services.inventory",
    "add_store": "stockbridge.services.stores",
    "connect_partner": "stockbridge.services.connections",
    "create_token": "stockbridge.services.tokens",
    "describe_store": "stockbridge.services.stores",
    "disconnect_supplier": "stockbridge.services.connections",
    "exit_code": "stockbridge.services.runs",
    "find_store": "stockbridge.services.stores",
    "issue_token": "stockbridge.services.tokens",
    "list_stores": "stockbridge.services.stores",
    "product_detail": "stockbridge.services.inventory",
    "rejected_inputs": "stockbridge.services.rejected",
    "request_sync": "stockbridge.services.runs",
    "resolve_store": "stockbridge.services.stores",
    "retry_failed_items": "stockbridge.services.runs",
    "run_detail": "stockbridge.services.runs",
    "run_history": "stockbridge.services.runs",
    "search_inventory": "stockbridge.services.inventory",
    "set_hub_quantity": "stockbridge.services.inventory",
    "set_schedule": "stockbridge.services.schedules",
    "show_schedule": "stockbridge.services.schedules",
    "store_status": "stockbridge.services.status",
    "sync": "stockbridge.services.runs",
    "update_books": "stockbridge.services.stores",
    "update_store": "stockbridge.services.stores",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_QUANTITY",
    "ActiveRun",
    "ConnectFailed",
    "ConnectionHealth",
    "DuplicateStore",
    "InvalidSetting",
    "IssuedToken",
    "ItemFailure",
    "LastStepRun",
    "ProductDetail",
    "Rejection",
    "RequestSync",
    "RetryFailedItems",
    "RunDetail",
    "RunReport",
    "RunRequested",
    "RunSummary",
    "ScheduleState",
    "SetHubQuantity",
    "StockLevel",
    "StoreNotFound",
    "StoreSchedules",
    "StoreSettings",
    "StoreStatus",
    "SupplierRemoved",
    "TokenInfo",
    "VariantStock",
    "add_store",
    "connect_partner",
    "create_token",
    "describe_store",
    "disconnect_supplier",
    "exit_code",
    "find_store",
    "issue_token",
    "list_stores",
    "product_detail",
    "rejected_inputs",
    "request_sync",
    "resolve_store",
    "retry_failed_items",
    "run_detail",
    "run_history",
    "search_inventory",
    "set_hub_quantity",
    "set_schedule",
    "show_schedule",
    "store_status",
    "sync",
    "update_books",
    "update_store",
]
