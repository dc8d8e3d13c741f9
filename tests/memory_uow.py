"""An in-memory implementation of the storage ports (``stockbridge.ports``), for step
and runner tests that need no database.

It keeps the ports' contracts, not a database's: a unit of work works on a private copy
of the committed state, ``commit`` publishes it, leaving without commit drops it; one
unit of work at a time (others wait, like SQLite's write lock), and opening one inside
another in the same thread is an error (on SQLite it would wait for itself). The rules
are the domain's own functions, as in the SQL repositories. The repository contract
tests (``tests/test_repository_contract.py``) run it side by side with SQLite and
PostgreSQL, so it is held to behave like them.

Tests read its state directly (``MemoryDatabase.state``) and may record what each commit
published (``commits``).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from stockbridge.domain.model import InventorySource, ItemError, RunStatus, Step, Trigger
from stockbridge.domain.runs import RunRecord
from stockbridge.domain.store import StoreSettings
from tests.memory_repos import MemoryCatalog, MemoryOrders, MemorySources
from tests.memory_state import MemConnection, MemLease, MemoryState, MemRun

__all__ = ["MemoryDatabase", "MemoryUnitOfWork"]


class MemoryDatabase:
    """The committed state, and units of work over it."""

    def __init__(self) -> None:
        self.state = MemoryState()
        self.commits = 0
        #: Called with the published state after each commit (tests watch commits).
        self.on_commit: list[Any] = []
        self._lock = threading.Lock()
        self._owner: int | None = None

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def add_store(
        self, name: str = "shop", *, source: InventorySource = InventorySource.BACK_OFFICE
    ) -> int:
        state = self.state
        store_id = state.new_id()
        state.stores[store_id] = StoreSettings(store_id, name, "UTC", source, None, True)
        state.leases[store_id] = MemLease()
        return store_id

    def connect(self, store_id: int, role: str, kind: str) -> int:
        connection_id = self.state.new_id()
        self.state.connections[connection_id] = MemConnection(store_id, role, kind)
        return connection_id


class MemoryUnitOfWork:
    """``with uow: ...; uow.commit()``: a private copy, published by ``commit``."""

    stores: MemoryStores
    catalog: MemoryCatalog
    orders: MemoryOrders
    runs: MemoryRuns
    sources: MemorySources

    def __init__(self, db: MemoryDatabase) -> None:
        self.db = db
        self.read_only_declared = False

    def __enter__(self) -> Self:
        me = threading.get_ident()
        if self.db._owner == me:
            raise RuntimeError("a unit of work opened inside another in the same thread")
        self.db._lock.acquire()
        self.db._owner = me
        self._begin()
        return self

    def _begin(self) -> None:
        state = self.db.state.clone()
        self.stores = MemoryStores(state)
        self.catalog = MemoryCatalog(state)
        self.orders = MemoryOrders(state, self.catalog)
        self.runs = MemoryRuns(state)
        self.sources = MemorySources(state, self.catalog)
        self.state = state

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.db._owner = None
        self.db._lock.release()

    def commit(self) -> None:
        if self.read_only_declared:
            raise AssertionError("a unit of work declared read-only wrote")
        self.db.state = self.state
        self.db.commits += 1
        for watcher in self.db.on_commit:
            watcher(self.state)
        self._begin()

    def read_only(self) -> Self:
        self.read_only_declared = True
        return self


class MemoryStores:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def settings(self, store_id: int) -> StoreSettings | None:
        return self.s.stores.get(store_id)

    def connection_kind(self, connection_id: int) -> str | None:
        connection = self.s.connections.get(connection_id)
        return None if connection is None else connection.kind

    def take_setting(self, connection_id: int, key: str) -> Any:
        return None  # the memory store keeps no connection settings

    def set_health(self, connection_id: int, health: str, last_error: str | None) -> None:
        connection = self.s.connections.get(connection_id)
        if connection is not None:
            connection.health, connection.last_error = health, last_error

    def cursor(self, connection_id: int, stream: str) -> datetime | None:
        return self.s.cursors.get((connection_id, stream))

    def advance_cursor(self, connection_id: int, stream: str, position: datetime | None) -> None:
        held = self.s.cursors.get((connection_id, stream))
        if position is not None and (held is None or position > held):
            self.s.cursors[(connection_id, stream)] = position


class MemoryRuns:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    def queue(
        self,
        store_id: int,
        steps: Sequence[Step],
        trigger: Trigger,
        targets: Collection[str] | None = None,
    ) -> tuple[int, bool]:
        for run in sorted(self.s.runs.values(), key=lambda r: r.id):
            if (
                run.store_id == store_id
                and run.status is RunStatus.QUEUED
                and run.trigger is trigger
                and set(steps) <= set(run.steps)
                and (run.targets is None) == (targets is None)
            ):
                run.merged_requests += 1
                if targets is not None and run.targets is not None:
                    run.targets = tuple(sorted(set(run.targets) | set(targets)))
                return run.id, True
        run_id = self.s.new_id()
        self.s.runs[run_id] = MemRun(
            run_id,
            store_id,
            trigger,
            tuple(steps),
            targets=None if targets is None else tuple(sorted(set(targets))),
        )
        return run_id, False

    def record(self, run_id: int) -> RunRecord | None:
        run = self.s.runs.get(run_id)
        return None if run is None else self._record(run)

    def claim(self, run_id: int) -> bool:
        run = self.s.runs.get(run_id)
        if run is None or run.status is not RunStatus.QUEUED:
            return False
        run.status = RunStatus.RUNNING
        return True

    def running(self, store_id: int | None = None) -> list[RunRecord]:
        return [
            self._record(run)
            for run in sorted(self.s.runs.values(), key=lambda r: r.id)
            if run.status is RunStatus.RUNNING and store_id in (None, run.store_id)
        ]

    def interrupt(self, run_id: int, reason: str) -> bool:
        run = self.s.runs.get(run_id)
        if run is None or run.status is not RunStatus.RUNNING:
            return False
        run.status, run.error = RunStatus.INTERRUPTED, reason
        return True

    def unresumed(self, store_id: int) -> list[RunRecord]:
        return [
            self._record(run)
            for run in sorted(self.s.runs.values(), key=lambda r: r.id)
            if run.store_id == store_id
            and run.status is RunStatus.INTERRUPTED
            and run.resumed_by is None
        ]

    def take_over(self, run_id: int, steps: Sequence[Step], interrupted: Sequence[int]) -> None:
        self.s.runs[run_id].steps = tuple(steps)
        for other in interrupted:
            run = self.s.runs[other]
            if run.resumed_by is None:
                run.resumed_by = run_id

    def stores_to_resume(self) -> list[int]:
        runs = self.s.runs.values()
        busy = {r.store_id for r in runs if r.status in (RunStatus.QUEUED, RunStatus.RUNNING)}
        return sorted(
            {
                r.store_id
                for r in runs
                if r.status is RunStatus.INTERRUPTED
                and r.resumed_by is None
                and r.store_id not in busy
            }
        )

    def lease(self, store_id: int) -> tuple[int | None, str | None, datetime | None]:
        lease = self.s.leases.get(store_id)
        if lease is None:
            return None, None, None
        return lease.run_id, lease.holder, lease.expires_at

    def _record(self, run: MemRun) -> RunRecord:
        return RunRecord(
            run.id,
            run.store_id,
            run.trigger,
            run.steps,
            run.status,
            copy.deepcopy(run.progress),
            run.error,
            run.targets,
        )

    def finish(self, run_id: int, status: RunStatus, error: str | None) -> None:
        run = self.s.runs[run_id]
        run.status, run.error = status, error

    def set_progress(self, run_id: int, progress: dict[str, Any]) -> None:
        self.s.runs[run_id].progress = copy.deepcopy(progress)

    def add_errors(self, run_id: int, step: Step, errors: Sequence[ItemError]) -> None:
        self.s.run_errors.setdefault(run_id, []).extend(replace(e, key=e.key[:255]) for e in errors)

    def item_errors(self, run_id: int) -> list[ItemError]:
        return list(self.s.run_errors.get(run_id, []))

    def acquire_lease(self, store_id: int, run_id: int, holder: str, seconds: int) -> bool:
        now = datetime.now(UTC)
        lease = self.s.leases.setdefault(store_id, MemLease())
        if not (
            lease.run_id is None
            or (lease.expires_at is not None and lease.expires_at < now)
            or (lease.run_id == run_id and lease.holder == holder)
        ):
            return False
        lease.run_id, lease.holder = run_id, holder
        lease.expires_at = now + timedelta(seconds=seconds)
        return True

    def lease_holder(self, store_id: int) -> str | None:
        lease = self.s.leases.get(store_id)
        return lease.holder if lease is not None and lease.run_id is not None else None

    def break_lease(self, store_id: int, holder: str) -> bool:
        lease = self.s.leases.get(store_id)
        if lease is None or lease.holder != holder:
            return False
        self.s.leases[store_id] = MemLease()
        return True

    def renew_lease(self, store_id: int, run_id: int, holder: str, seconds: int) -> bool:
        lease = self.s.leases.get(store_id)
        if lease is None or lease.run_id != run_id or lease.holder != holder:
            return False
        lease.expires_at = datetime.now(UTC) + timedelta(seconds=seconds)
        return True

    def release_lease(self, store_id: int, run_id: int, holder: str) -> None:
        lease = self.s.leases.get(store_id)
        if lease is not None and lease.run_id == run_id and lease.holder == holder:
            self.s.leases[store_id] = MemLease()
