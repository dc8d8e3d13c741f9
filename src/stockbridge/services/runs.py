"""Sync runs: request one (or merge into one already queued), carry one out now, retry a
run's failed items, and read the history.

A request only records the run; the caller hands the run id to its queue (or, for
``sync``, the run is executed before the call returns).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stockbridge.bootstrap import Hub
from stockbridge.db.models import SyncRun
from stockbridge.db.runs import parse_steps
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step, Trigger
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.services.stores import find_store, resolve_store
from stockbridge.sync.context import ProgressListener
from stockbridge.sync.runner import RunReport

__all__ = [
    "ItemFailure",
    "RequestSync",
    "RetryFailedItems",
    "RunDetail",
    "RunReport",
    "RunRequested",
    "RunSummary",
    "exit_code",
    "request_sync",
    "retry_failed_items",
    "run_detail",
    "run_history",
    "sync",
]


@dataclass(frozen=True)
class RequestSync:
    """Queue a run of ``steps`` for the store named ``store``."""

    store: str
    steps: tuple[Step, ...] = SYNC_ALL
    trigger: Trigger = Trigger.MANUAL


@dataclass(frozen=True)
class RetryFailedItems:
    """Queue a manual run of the steps in which run ``run_id`` had item errors."""

    store: str
    run_id: int


@dataclass(frozen=True)
class RunRequested:
    """The queued run that will do the work; ``merged`` when it was already queued."""

    run_id: int
    merged: bool


@dataclass(frozen=True)
class ItemFailure:
    """One item a step could not move, with the partner's own message."""

    step: str
    item: str
    message: str
    code: str | None


@dataclass(frozen=True)
class RunSummary:
    """A run in the history: its store, steps, outcome, counts per step and item errors.
    ``progress`` is the run's record per step (status, done, total, changed, failed,
    message)."""

    id: int
    store: str | None
    trigger: Trigger
    steps: tuple[Step, ...]
    status: RunStatus
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    merged_requests: int
    #: the run that took over the steps this one left when its process died
    resumed_by: int | None
    progress: Mapping[str, Mapping[str, Any]]
    error: str | None
    item_errors: tuple[ItemFailure, ...]


@dataclass(frozen=True)
class RunDetail:
    """One run, looked up by id (``store_id`` says whose it is)."""

    id: int
    store_id: int
    trigger: Trigger
    steps: tuple[Step, ...]
    status: RunStatus
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    progress: Mapping[str, Mapping[str, Any]]
    error: str | None
    resumed_by: int | None
    item_errors: tuple[ItemFailure, ...]


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


def exit_code(report: RunReport) -> int:
    """0 when every item succeeded, 1 when the run had item errors or failed."""
    return 0 if report.status is RunStatus.SUCCEEDED else 1


def request_sync(hub: Hub, command: RequestSync) -> RunRequested:
    """Queue a run (or merge into a queued one of the same trigger that covers the steps);
    the caller hands the run id to its queue."""
    with hub.uow() as uow:
        store = find_store(uow, command.store)
        run, merged = uow.runs.request(store.id, command.steps, command.trigger)
        uow.commit()
        return RunRequested(run.id, merged)


def retry_failed_items(hub: Hub, command: RetryFailedItems) -> RunRequested:
    """Those items are still pending (orders unposted, stock not recorded as sent), so the
    new run tries each of them again. A run of another store is ``StoreNotFound``; a run
    without failed items ``InvalidSetting``."""
    with hub.uow() as uow:
        store = find_store(uow, command.store)
        run = uow.runs.get(command.run_id)
        if run is None or run.store_id != store.id:
            raise StoreNotFound(f"no run {command.run_id} for store {store.name!r}")
        failed = {e.step for e in uow.runs.errors(command.run_id)}
        steps = tuple(step for step in SYNC_ALL if step.value in failed)
        if not steps:
            raise InvalidSetting(f"run {command.run_id} has no failed items to retry")
        retry, merged = uow.runs.request(store.id, steps, Trigger.MANUAL)
        uow.commit()
        return RunRequested(retry.id, merged)


def run_history(
    hub: Hub,
    store_name: str | None,
    limit: int = 20,
    *,
    trigger: Trigger | None = None,
    status: RunStatus | None = None,
    before: int | None = None,
) -> list[RunSummary]:
    """The newest runs first, of one store (or of every store with no name); with
    ``before``, those older than that run (the next page)."""
    hub.runner().reap_dead_runs()  # a run whose process died shows as interrupted
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        store_id = find_store(uow, store_name).id if store_name else None
        names = {s.id: s.name for s in uow.stores.all()}
        return [
            RunSummary(
                id=run.id,
                store=names.get(run.store_id),
                trigger=Trigger(run.trigger),
                steps=parse_steps(run.steps),
                status=RunStatus(run.status),
                requested_at=run.requested_at,
                started_at=run.started_at,
                finished_at=run.finished_at,
                merged_requests=run.merged_requests,
                resumed_by=run.resumed_by,
                progress=run.progress,
                error=run.error,
                item_errors=_failures(uow, run),
            )
            for run in uow.runs.history(
                store_id,
                limit,
                trigger=trigger.value if trigger else None,
                status=status.value if status else None,
                before=before,
            )
        ]


def run_detail(hub: Hub, run_id: int) -> RunDetail | None:
    with hub.uow() as uow:
        uow.read_only()  # a page or listing: never queue for SQLite's write lock
        run = uow.runs.get(run_id)
        if run is None:
            return None
        return RunDetail(
            id=run.id,
            store_id=run.store_id,
            trigger=Trigger(run.trigger),
            steps=parse_steps(run.steps),
            status=RunStatus(run.status),
            requested_at=run.requested_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            progress=run.progress,
            error=run.error,
            resumed_by=run.resumed_by,
            item_errors=_failures(uow, run),
        )


def _failures(uow: UnitOfWork, run: SyncRun) -> tuple[ItemFailure, ...]:
    return tuple(
        ItemFailure(e.step, e.item_key, e.message, e.code) for e in uow.runs.errors(run.id)
    )
