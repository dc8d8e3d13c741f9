"""Use cases the CLI (and later the API and dashboard) call. Plain functions of a ``Hub``
and parsed input; they raise the errors below, which entry points map to exit codes / 4xx.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stockbridge.alerts import InvalidAlertSetting, alert_settings, masked_url, updated_options
from stockbridge.bootstrap import Hub
from stockbridge.connectors.base import BackOffice, WebStore
from stockbridge.connectors.errors import PartnerAuthError, PartnerError
from stockbridge.connectors.registry import ConnectorEnv, MemoryVault
from stockbridge.db.models import Store
from stockbridge.db.runs import parse_steps
from stockbridge.db.stores import DuplicateStore
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import SYNC_ALL, InventorySource, RunStatus, Step, Trigger
from stockbridge.domain.schedule import (
    ALL_STEPS,
    InvalidSchedule,
    ScheduleSpec,
    next_slots,
    parse_step,
)
from stockbridge.sync.context import ProgressListener
from stockbridge.sync.runner import RunReport

__all__ = [
    "ConnectFailed",
    "DuplicateStore",
    "InvalidSetting",
    "StoreNotFound",
    "add_store",
    "connect_partner",
    "describe_store",
    "list_stores",
    "resolve_store",
    "run_history",
    "set_schedule",
    "show_schedule",
    "store_status",
    "sync",
    "update_store",
]


class StoreNotFound(LookupError):
    pass


class InvalidSetting(ValueError):
    pass


MAX_NAME = 100


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
    if not name or len(name) > MAX_NAME or any(c in name for c in "/\\\n\r\t"):
        raise InvalidSetting(
            f"store names are 1-{MAX_NAME} characters without slashes or line breaks"
        )
    return name


def _find(uow: UnitOfWork, name: str | None) -> Store:
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
    with hub.uow() as uow:
        return _find(uow, name).id


def add_store(
    hub: Hub,
    name: str,
    *,
    timezone: str = "UTC",
    inventory_source: InventorySource = InventorySource.BACK_OFFICE,
    erp_name: str | None = None,
) -> dict[str, Any]:
    with hub.uow() as uow:
        store = uow.stores.add(
            _check_name(name),
            timezone=_check_timezone(timezone),
            inventory_source=inventory_source,
            erp_name=erp_name or None,
        )
        uow.commit()
        return _store_dict(uow, store)


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
) -> dict[str, Any]:
    """Change the given settings (None: unchanged; "" clears an alert channel). Every
    value is checked before anything is saved."""
    with hub.uow() as uow:
        store = _find(uow, name)
        try:
            options = updated_options(
                store.options,
                email=alert_email,
                webhook_url=alert_webhook_url,
                stale_after_hours=stale_after_hours,
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
        return _store_dict(uow, store)


def list_stores(hub: Hub, only: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Every store, in name order; or only those named in ``only``."""
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        return [_store_dict(uow, store) for store in uow.stores.all(only)]


def describe_store(hub: Hub, name: str) -> dict[str, Any]:
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        return _store_dict(uow, _find(uow, name))


def _store_dict(uow: UnitOfWork, store: Store) -> dict[str, Any]:
    source = InventorySource(store.inventory_source)
    alerts = alert_settings(store.options)
    return {
        "name": store.name,
        "timezone": store.timezone,
        "inventory_source": source.value,
        "inventory_source_means": source.explanation,
        "erp_name": store.erp_name,
        "sync_all_button": store.sync_all_button,
        "alert_email": alerts.email,
        "alert_webhook": masked_url(alerts.webhook_url),
        "stale_after_hours": alerts.stale_after_hours,
        "connections": [
            {"role": c.role, "kind": c.kind, "health": c.health, "last_error": c.last_error}
            for c in uow.stores.connections(store.id)
        ],
    }


def sync(
    hub: Hub,
    store_name: str | None,
    steps: tuple[Step, ...] = SYNC_ALL,
    *,
    trigger: Trigger = Trigger.MANUAL,
    listener: ProgressListener | None = None,
) -> RunReport:
    """Request a run of ``steps`` for the store and carry it out now (or, if another worker
    is already running one for the store, wait for it and then run)."""
    store_id = resolve_store(hub, store_name)
    runner = hub.runner()
    run_id, _merged = runner.request(store_id, steps, trigger)
    return runner.execute(run_id, listener=listener)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def run_history(
    hub: Hub,
    store_name: str | None,
    limit: int = 20,
    *,
    trigger: Trigger | None = None,
    status: RunStatus | None = None,
) -> list[dict[str, Any]]:
    hub.runner().reap_dead_runs()  # a run whose process died shows as interrupted
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        store_id = _find(uow, store_name).id if store_name else None
        names = {s.id: s.name for s in uow.stores.all()}
        return [
            {
                "id": run.id,
                "store": names.get(run.store_id),
                "trigger": run.trigger,
                "steps": [s.value for s in parse_steps(run.steps)],
                "status": run.status,
                "requested_at": _iso(run.requested_at),
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at),
                "merged_requests": run.merged_requests,
                "resumed_by": run.resumed_by,
                "progress": run.progress,
                "error": run.error,
                "item_errors": [
                    {"step": e.step, "item": e.item_key, "message": e.message, "code": e.code}
                    for e in uow.runs.errors(run.id)
                ],
            }
            for run in uow.runs.history(
                store_id,
                limit,
                trigger=trigger.value if trigger else None,
                status=status.value if status else None,
            )
        ]


@dataclass(frozen=True)
class _StepLast:
    run_id: int
    status: str
    finished_at: datetime | None
    trigger: str


def store_status(hub: Hub, store_name: str | None) -> list[dict[str, Any]]:
    """Per store: the last run of each step and the last manual sync, apart from automatic."""
    hub.runner().reap_dead_runs()  # a run whose process died is not shown as active
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        stores = [_find(uow, store_name)] if store_name else list(uow.stores.all())
        result = []
        for store in stores:
            last: dict[str, _StepLast] = {}
            for run in uow.runs.last_finished(store.id):
                for step, entry in (run.progress or {}).items():
                    if step not in last:
                        last[step] = _StepLast(
                            run.id, entry.get("status", "?"), run.finished_at, run.trigger
                        )
            manual = uow.runs.last_finished(store.id, manual_only=True)
            automatic = [
                r for r in uow.runs.last_finished(store.id) if r.trigger != Trigger.MANUAL.value
            ]
            active = [r for r in uow.runs.unfinished() if r.store_id == store.id]
            result.append(
                {
                    "store": store.name,
                    "inventory_source": store.inventory_source,
                    "last_manual_sync_at": _iso(manual[0].finished_at) if manual else None,
                    "last_automatic_sync_at": _iso(automatic[0].finished_at) if automatic else None,
                    "steps": {
                        step.value: (
                            {
                                "run_id": last[step.value].run_id,
                                "status": last[step.value].status,
                                "finished_at": _iso(last[step.value].finished_at),
                                "trigger": last[step.value].trigger,
                            }
                            if step.value in last
                            else None
                        )
                        for step in SYNC_ALL
                    },
                    "active_runs": [
                        {"id": r.id, "status": r.status, "steps": r.steps} for r in active
                    ],
                    "connections": _store_dict(uow, store)["connections"],
                }
            )
        return result


def exit_code(report: RunReport) -> int:
    """0 when every item succeeded, 1 when the run had item errors or failed."""
    return 0 if report.status is RunStatus.SUCCEEDED else 1


class ConnectFailed(RuntimeError):
    """The partner refused the credentials or could not be reached; nothing was saved."""


def connect_partner(
    hub: Hub,
    store_name: str | None,
    *,
    role: str,
    kind: str,
    settings: dict[str, Any],
    secrets: dict[str, str],
) -> str:
    """Check the credentials with one cheap call, then save the connection (secrets
    encrypted). Returns what the partner call reached (e.g. the store's name).
    """
    store_id = resolve_store(hub, store_name)
    with hub.uow() as uow:  # reconnecting keeps secrets the hub made itself (webhook secret)
        existing = uow.stores.connection(store_id, role)
        kept: dict[str, str] = {}
        if existing is not None and existing.kind == kind and existing.credentials:
            kept = hub.cipher.decrypt(existing.credentials)
    vault = MemoryVault({**{k: v for k, v in kept.items() if k == "webhook_secret"}, **secrets})
    env = ConnectorEnv(settings=settings, vault=vault, limiters=hub.limiters, retry=hub.retry)
    try:
        connector = hub.registry.create(kind, env)
    except ValueError as exc:  # the connector refused its settings
        raise InvalidSetting(str(exc)) from None
    expected = WebStore if role == "web" else BackOffice
    if not isinstance(connector, expected):
        raise InvalidSetting(f"{kind} is not a {role.replace('_', ' ')} connector")
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
        uow.stores.connect(
            store_id,
            role=role,
            kind=kind,
            settings=settings,
            credentials=hub.cipher.encrypt(vault.secrets),  # as rotated by the check, if at all
        )
        uow.commit()
    return reached


def run_detail(hub: Hub, run_id: int) -> dict[str, Any] | None:
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        run = uow.runs.get(run_id)
        if run is None:
            return None
        return {
            "id": run.id,
            "store_id": run.store_id,
            "trigger": run.trigger,
            "steps": [s.value for s in parse_steps(run.steps)],
            "status": run.status,
            "requested_at": _iso(run.requested_at),
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "progress": run.progress,
            "error": run.error,
            "resumed_by": run.resumed_by,
            "item_errors": [
                {"step": e.step, "item": e.item_key, "message": e.message, "code": e.code}
                for e in uow.runs.errors(run.id)
            ],
        }


def product_detail(hub: Hub, store_id: int, sku: str) -> dict[str, Any] | None:
    """A variant with each side's quantity, what is withheld for unposted orders, and
    which side is the source of truth."""
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        variant = uow.catalog.variant(store_id, sku)
        store = uow.stores.get(store_id)
        if variant is None or store is None:
            return None
        withheld = uow.catalog.withheld(store_id, None).get(sku, 0)
        source = variant.inventory_source or store.inventory_source
        return {
            "sku": variant.sku,
            "name": variant.name,
            "price": str(variant.price) if variant.price is not None else None,
            "active": variant.active,
            "hub_managed": variant.hub_managed,
            "source_of_truth": "hub" if variant.hub_managed else source,
            "withheld_for_unposted_orders": withheld,
            "stock": [
                {
                    "location": level.location,
                    "back_office": level.back_office_qty,
                    "web": level.web_qty,
                    "hub": level.hub_qty,
                }
                for level in uow.catalog.stock(variant.id)
            ],
        }


def rejected_inputs(hub: Hub, store_id: int | None, limit: int = 100) -> list[dict[str, Any]]:
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        return [
            {
                "source": r.source,
                "reason": r.reason,
                "received_at": _iso(r.received_at),
                "payload": r.payload,
            }
            for r in uow.inbox.rejected(store_id, limit)
        ]


def create_token(hub: Hub, store_name: str | None, *, operator: bool) -> str:
    """A new API token (shown once; only its hash is kept)."""
    if operator == (store_name is not None):
        raise InvalidSetting("give either --store NAME or --operator")
    with hub.uow() as uow:
        store_id = None if operator else _find(uow, store_name).id
        token = uow.tokens.create(store_id, label="operator" if operator else store_name)
        uow.commit()
        return token


# schedules -------------------------------------------------------------------


def set_schedule(
    hub: Hub,
    store_name: str | None,
    *,
    daily_at: str | None = None,
    every_minutes: int | None = None,
    step: str = ALL_STEPS,
    off: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Set when the store runs ``step`` ("all" = Sync All) by itself, or turn that schedule
    off. The timing given replaces the old one (``--every 15`` alone drops a daily time);
    giving a timing turns the schedule on. Slots count from now: changing a schedule never
    fires a slot that passed before the change. Everything is checked before anything is
    written; bad input raises ``InvalidSetting`` and changes nothing.
    """
    now = now or datetime.now(UTC)
    try:
        step = parse_step(step)
        if off and (daily_at is not None or every_minutes is not None):
            raise InvalidSchedule("--off turns a schedule off: give it without --daily/--every")
        if not off and daily_at is None and every_minutes is None:
            raise InvalidSchedule("nothing to set: give --daily HH:MM, --every MINUTES or --off")
    except InvalidSchedule as exc:
        raise InvalidSetting(str(exc)) from None
    with hub.uow() as uow:
        store = _find(uow, store_name)
        uow.schedules.ensure_default(store, now)
        row = uow.schedules.get(store.id, step)
        if off:
            if row is None:
                raise InvalidSetting(f"store {store.name!r} has no {step} schedule to turn off")
            row.enabled = False
            row.updated_at = now
        else:
            try:
                spec = ScheduleSpec.create(
                    store.timezone, daily_at=daily_at, every_minutes=every_minutes, step=step
                )
            except InvalidSchedule as exc:
                raise InvalidSetting(str(exc)) from None
            if row is None:
                uow.schedules.add(
                    store.id,
                    step=step,
                    daily_at=spec.daily_at,
                    every_minutes=spec.every_minutes,
                    enabled=True,
                    last_slot_at=now,
                    now=now,
                )
            elif (row.enabled, row.daily_at, row.every_minutes) != (
                True,
                spec.daily_at,
                spec.every_minutes,
            ):
                row.daily_at, row.every_minutes = spec.daily_at, spec.every_minutes
                row.enabled = True
                row.last_slot_at = now
                row.updated_at = now
        uow.commit()
    return show_schedule(hub, store_name, now=now)


def show_schedule(
    hub: Hub, store_name: str | None, *, count: int = 5, now: datetime | None = None
) -> dict[str, Any]:
    """The store's schedules (the default one if it never set any) and, for each one that
    is on, its next ``count`` run times in the store's time zone. Changes nothing."""
    now = now or datetime.now(UTC)
    with hub.uow() as uow:
        store = _find(uow, store_name)
        uow.schedules.ensure_default(store, now)  # shown, not saved: this uow never commits
        zone = ZoneInfo(store.timezone)
        schedules = []
        for row in uow.schedules.for_store(store.id):
            next_runs: list[str] = []
            if row.enabled and (row.daily_at or row.every_minutes):
                spec = ScheduleSpec(store.timezone, row.daily_at, row.every_minutes, row.step)
                next_runs = [s.astimezone(zone).isoformat() for s in next_slots(spec, now, count)]
            schedules.append(
                {
                    "step": row.step,
                    "daily_at": row.daily_at,
                    "every_minutes": row.every_minutes,
                    "enabled": row.enabled,
                    "last_slot_at": _iso(row.last_slot_at),
                    "next_runs": next_runs,
                }
            )
        return {"store": store.name, "timezone": store.timezone, "schedules": schedules}


# the dashboard's use cases ----------------------------------------------------------

MAX_QUANTITY = 1_000_000_000


def request_run(
    hub: Hub, store_name: str, steps: tuple[Step, ...], trigger: Trigger = Trigger.MANUAL
) -> tuple[int, bool]:
    """Queue a run of ``steps`` (or merge into a queued one of the same trigger); the
    caller hands the run id to its queue. Returns (run id, merged)."""
    with hub.uow() as uow:
        store = _find(uow, store_name)
        run, merged = uow.runs.request(store.id, steps, trigger)
        uow.commit()
        return run.id, merged


def _withheld_now(uow: UnitOfWork, store_id: int) -> dict[str, int]:
    """What inventory-out would withhold right now (see ``sync/inventory_out.py``)."""
    from stockbridge.sync.inventory_in import STOCK_READ_MARK

    back_office = uow.stores.connection(store_id, "back_office")
    reflected_at = uow.stores.cursor(back_office.id, STOCK_READ_MARK) if back_office else None
    return uow.catalog.withheld(store_id, reflected_at)


def search_inventory(
    hub: Hub, store_name: str, text: str = "", limit: int = 50
) -> list[dict[str, Any]]:
    """Variants whose SKU or name contains ``text``: each side's quantity per location,
    what is withheld for orders the back office has not accounted for, and which side
    is the source of truth."""
    if len(text) > 255:
        raise InvalidSetting("search for at most 255 characters")
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        store = _find(uow, store_name)
        variants = uow.catalog.search(store.id, text.strip(), limit)
        stock = uow.catalog.stock_of([v.id for v in variants])
        withheld = _withheld_now(uow, store.id) if variants else {}
        return [
            {
                "sku": v.sku,
                "name": v.name,
                "hub_managed": v.hub_managed,
                "source_of_truth": "hub"
                if v.hub_managed
                else (v.inventory_source or store.inventory_source),
                "withheld_for_unposted_orders": withheld.get(v.sku, 0),
                "stock": [
                    {
                        "location": level.location,
                        "back_office": level.back_office_qty,
                        "web": level.web_qty,
                        "hub": level.hub_qty,
                    }
                    for level in stock[v.id]
                ],
            }
            for v in variants
        ]


def set_hub_quantity(hub: Hub, store_name: str, sku: str, quantity: int) -> int:
    """Set a hub-managed (backorder) variant's quantity and queue an inventory-out run to
    carry it to the web store. Only variants already hub-managed can be set here; an
    unknown SKU or one another system owns raises ``InvalidSetting``. Returns the run id."""
    if not 0 <= quantity <= MAX_QUANTITY:
        raise InvalidSetting(f"quantity must be 0-{MAX_QUANTITY:,}")
    with hub.uow() as uow:
        store = _find(uow, store_name)
        variant = uow.catalog.variant(store.id, sku)
        if variant is None:
            raise InvalidSetting(f"no SKU {sku!r} in store {store.name!r}")
        if not variant.hub_managed:
            raise InvalidSetting(
                f"{sku} is not hub-managed: its quantity comes from "
                f"{variant.inventory_source or store.inventory_source}"
            )
        uow.catalog.set_hub_managed(store.id, sku, quantity)
        run, _merged = uow.runs.request(store.id, (Step.INVENTORY_OUT,), Trigger.MANUAL)
        uow.commit()
        return run.id


def retry_failed_items(hub: Hub, store_name: str, run_id: int) -> int:
    """Queue a manual run of the steps in which run ``run_id`` had item errors. Those
    items are still pending (orders unposted, stock not recorded as sent), so the new run
    tries each of them again. Returns the new run's id."""
    with hub.uow() as uow:
        store = _find(uow, store_name)
        run = uow.runs.get(run_id)
        if run is None or run.store_id != store.id:
            raise StoreNotFound(f"no run {run_id} for store {store.name!r}")
        failed = {e.step for e in uow.runs.errors(run_id)}
        steps = tuple(step for step in SYNC_ALL if step.value in failed)
        if not steps:
            raise InvalidSetting(f"run {run_id} has no failed items to retry")
        retry, _merged = uow.runs.request(store.id, steps, Trigger.MANUAL)
        uow.commit()
        return retry.id
