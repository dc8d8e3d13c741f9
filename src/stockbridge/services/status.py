"""Where each store stands: the last run of each step, the last manual sync apart from
automatic ones, runs under way, and the connections' health."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stockbridge.bootstrap import Hub
from stockbridge.db.runs import parse_steps
from stockbridge.domain.model import SYNC_ALL, InventorySource, RunStatus, Step, Trigger
from stockbridge.jsonable import JSON_AS
from stockbridge.services.stores import ConnectionHealth, connections_of, find_store

__all__ = [
    "ActiveRun",
    "BackOfficeBar",
    "LastStepRun",
    "StoreStatus",
    "back_office_bar",
    "store_status",
]


@dataclass(frozen=True)
class LastStepRun:
    """The last finished run that did a step, and how the step went in it."""

    run_id: int
    status: str  # the step's own outcome in that run
    finished_at: datetime | None
    trigger: Trigger


def _as_recorded(steps: tuple[Step, ...]) -> str:
    return ",".join(step.value for step in steps)


@dataclass(frozen=True)
class ActiveRun:
    """A run queued or running. Its steps show in JSON as recorded: comma-separated."""

    id: int
    status: RunStatus
    steps: tuple[Step, ...] = field(metadata={JSON_AS: _as_recorded})


@dataclass(frozen=True)
class StoreStatus:
    store: str
    inventory_source: InventorySource
    last_manual_sync_at: datetime | None
    last_automatic_sync_at: datetime | None
    #: Every step of Sync All, in order: its last run, or None if it never ran.
    steps: Mapping[str, LastStepRun | None]
    active_runs: tuple[ActiveRun, ...]
    connections: tuple[ConnectionHealth, ...]


def store_status(hub: Hub, store_name: str | None) -> list[StoreStatus]:
    """Per store (one, or every store with no name)."""
    hub.runner().reap_dead_runs()  # a run whose process died is not shown as active
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        stores = [find_store(uow, store_name)] if store_name else list(uow.stores.all())
        result = []
        for store in stores:
            finished = uow.runs.last_finished(store.id)
            last: dict[str, LastStepRun] = {}
            for run in finished:
                for step, entry in (run.progress or {}).items():
                    if step not in last:
                        last[step] = LastStepRun(
                            run.id, entry.get("status", "?"), run.finished_at, Trigger(run.trigger)
                        )
            manual = uow.runs.last_finished(store.id, manual_only=True)
            automatic = [r for r in finished if r.trigger != Trigger.MANUAL.value]
            active = [r for r in uow.runs.unfinished() if r.store_id == store.id]
            result.append(
                StoreStatus(
                    store=store.name,
                    inventory_source=InventorySource(store.inventory_source),
                    last_manual_sync_at=manual[0].finished_at if manual else None,
                    last_automatic_sync_at=automatic[0].finished_at if automatic else None,
                    steps={step.value: last.get(step.value) for step in SYNC_ALL},
                    active_runs=tuple(
                        ActiveRun(r.id, RunStatus(r.status), parse_steps(r.steps)) for r in active
                    ),
                    connections=connections_of(uow, store.id),
                )
            )
        return result


@dataclass(frozen=True)
class BackOfficeBar:
    """What the dashboard's back-office bar shows: the back office by the name the
    merchant knows it (None: none connected yet), whether Sync All is turned on in the
    store's Options (General), and the last manual sync (its tooltip)."""

    back_office: str | None
    sync_all: bool
    last_manual_sync_at: datetime | None


def back_office_bar(hub: Hub, store_name: str) -> BackOfficeBar:
    """The bar of ``store_name`` (``StoreNotFound`` for an unknown store)."""
    with hub.uow() as uow:
        uow.read_only()
        store = find_store(uow, store_name)
        office = next((c for c in connections_of(uow, store.id) if c.role == "back_office"), None)
        manual = uow.runs.last_finished(store.id, manual_only=True)
        return BackOfficeBar(
            back_office=None if office is None else hub.registry.title(office.kind),
            sync_all=store.sync_all_button,
            last_manual_sync_at=manual[0].finished_at if manual else None,
        )
