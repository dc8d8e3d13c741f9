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

The names below are re-exported for callers that import ``stockbridge.services``.
"""

from __future__ import annotations

from stockbridge.services.connections import SupplierRemoved, connect_partner, disconnect_supplier
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
from stockbridge.services.webhook_figures import WebhookFigures, webhook_figures

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
    "WebhookFigures",
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
    "webhook_figures",
]
