"""The run lifecycle: request (merging duplicates), take the store's lease, run the steps
in order, record progress, item errors and the outcome, release the lease.

Per store, runs never overlap: a run executes only while it holds the store's lease (a
database row, so this holds across processes and machines). A holder that dies stops
renewing the lease; once it expires the run is resumed by whoever executes it next.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from stockbridge.connectors.errors import PartnerAuthError, PartnerError
from stockbridge.db.models import Connection
from stockbridge.db.runs import parse_steps
from stockbridge.db.stores import to_settings
from stockbridge.db.uow import UnitOfWork
from stockbridge.domain.model import ItemError, RunStatus, Step, Trigger
from stockbridge.domain.store import StoreSettings
from stockbridge.metrics import RUN_ITEMS, RUNS_FINISHED
from stockbridge.retry import RetryPolicy
from stockbridge.sync import recovery
from stockbridge.sync.context import Partners, ProgressListener, StepContext, StepOutcome
from stockbridge.sync.inventory_in import inventory_in
from stockbridge.sync.inventory_out import inventory_out
from stockbridge.sync.orders_in import orders_in
from stockbridge.sync.orders_out import orders_out

__all__ = ["LeaseLost", "RunReport", "RunTimeout", "SyncRunner", "UnknownRun"]

log = logging.getLogger(__name__)

STEPS: Mapping[Step, Callable[[StepContext], StepOutcome]] = {
    Step.ORDERS_IN: orders_in,
    Step.ORDERS_OUT: orders_out,
    Step.INVENTORY_IN: inventory_in,
    Step.INVENTORY_OUT: inventory_out,
}


class LeaseLost(RuntimeError):
    """Another worker took the store's lease: this run stops so two never interleave."""


class RunTimeout(TimeoutError):
    """The store stayed busy with another run for longer than the caller would wait."""


class UnknownRun(LookupError):
    pass


@dataclass(frozen=True)
class RunReport:
    run_id: int
    store_id: int
    status: RunStatus
    steps: dict[str, dict[str, Any]]
    error: str | None
    errors: list[ItemError] = field(default_factory=list)


class _RunTracker:
    """Keeps one step's progress and item errors, flushing them to the run's row at most
    every ``interval`` seconds and renewing the store lease at the same time.
    """

    def __init__(
        self,
        runner: SyncRunner,
        run_id: int,
        store_id: int,
        step: Step,
        progress: dict[str, Any],
        listener: ProgressListener | None,
        interval: float = 0.5,
    ) -> None:
        self.runner, self.run_id, self.store_id, self.step = runner, run_id, store_id, step
        self.progress = progress
        # done/total: progress through the step's work; changed: items it moved or applied
        self.entry: dict[str, Any] = {
            "status": "running",
            "done": 0,
            "total": None,
            "changed": 0,
            "failed": 0,
        }
        progress[step.value] = self.entry
        self.listener = listener
        self.interval = interval
        self.pending_errors: list[ItemError] = []
        self.last_flush = 0.0
        if listener:
            listener.step_started(step, None)
        self.checkpoint(force=True)

    def set_total(self, total: int | None) -> None:
        self.entry["total"] = total
        if self.listener:
            self.listener.step_started(self.step, total)

    def advance(self, count: int) -> None:
        if count:
            self.entry["done"] += count
            if self.listener:
                self.listener.step_advanced(self.step, self.entry["done"], self.entry["total"])

    def item_failed(self, errors: list[ItemError]) -> None:
        self.pending_errors.extend(errors)
        self.entry["failed"] += len(errors)

    def checkpoint(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and not self.pending_errors and now - self.last_flush < self.interval:
            return
        self.last_flush = now
        with self.runner.uow() as uow:
            if not uow.runs.renew_lease(
                self.store_id, self.run_id, self.runner.holder, self.runner.lease_seconds
            ):
                raise LeaseLost(f"run {self.run_id} lost the lease of store {self.store_id}")
            uow.runs.set_progress(self.run_id, dict(self.progress))
            if self.pending_errors:
                uow.runs.add_errors(self.run_id, self.step, self.pending_errors)
            uow.commit()
        self.pending_errors = []

    def finish(self, outcome: StepOutcome) -> None:
        self.entry.update(status=outcome.status, message=outcome.message, changed=outcome.done)
        RUN_ITEMS.labels(self.step.value, "changed").inc(outcome.done)
        RUN_ITEMS.labels(self.step.value, "failed").inc(max(self.entry["failed"], outcome.failed))
        if outcome.status != "running":
            self.entry["failed"] = max(self.entry["failed"], outcome.failed)
        self.checkpoint(force=True)
        if self.listener:
            self.listener.step_finished(self.step, outcome)


class SyncRunner:
    """Requests and executes sync runs for stores.

    ``partners_for(store_id)`` builds the store's connectors (bootstrap wires the real ones;
    tests pass in-memory fakes).
    """

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        sessions: Callable[[], Session],
        partners_for: Callable[[int], Partners],
        retry: RetryPolicy,
        lease_seconds: int = 300,
        holder: str | None = None,
        poll_seconds: float = 0.2,
        release_partners: Callable[[Partners], None] = lambda _p: None,
    ) -> None:
        self.uow = uow
        self.sessions = sessions
        self.partners_for = partners_for
        self.retry = retry
        self.lease_seconds = lease_seconds
        self.holder = holder or (
            f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}:{uuid.uuid4().hex[:8]}"
        )
        self.poll_seconds = poll_seconds
        self.release_partners = release_partners

    def request(self, store_id: int, steps: tuple[Step, ...], trigger: Trigger) -> tuple[int, bool]:
        """Queue a run (or merge into a queued one). Returns (run id, merged)."""
        with self.uow() as uow:
            run, merged = uow.runs.request(store_id, steps, trigger)
            uow.commit()
            return run.id, merged

    def execute(
        self,
        run_id: int,
        *,
        listener: ProgressListener | None = None,
        wait_seconds: float = 3600,
    ) -> RunReport:
        """Run ``run_id`` to its end once the store is free; if another worker finished it
        meanwhile (a merged request), report that run instead of running it again.
        """
        deadline = time.monotonic() + wait_seconds
        while True:
            # Never open a second unit of work inside this one: on SQLite the inner one
            # would wait for the outer one's write lock, in the same thread.
            with self.uow() as uow:
                run = uow.runs.get(run_id)
                if run is None:
                    raise UnknownRun(f"no run {run_id}")
                store_id = run.store_id
                finished = RunStatus(run.status).finished
                acquired = not finished and uow.runs.acquire_lease(
                    store_id, run_id, self.holder, self.lease_seconds
                )
                successor = None
                if acquired and run.status == RunStatus.RUNNING.value:
                    # The lease is ours, so the process that was running it is gone.
                    successor = self._replace_dead_run(uow, run_id, store_id)
                    finished = True
                elif acquired:
                    recovery.take_over(uow, run)
                uow.commit()
            if successor is not None:
                return self.execute(successor, listener=listener, wait_seconds=wait_seconds)
            if finished:
                return self.report(run_id)  # merged into a run another worker finished
            if acquired:
                break
            self._break_lease_of_dead_local_holder(store_id)
            if time.monotonic() > deadline:
                raise RunTimeout(f"store is busy with another run; run {run_id} is still queued")
            time.sleep(self.poll_seconds)
        heartbeat = _Heartbeat(self, store_id, run_id)
        heartbeat.start()
        try:
            self._run(run_id, store_id, listener)
        finally:
            heartbeat.stop()
            with self.uow() as uow:
                uow.runs.release_lease(store_id, run_id, self.holder)
                uow.commit()
        return self.report(run_id)

    def _replace_dead_run(self, uow: UnitOfWork, run_id: int, store_id: int) -> int | None:
        """``run_id`` was left running by a process that died: mark it interrupted and
        queue a run of its remaining steps (None when none remain); free the lease."""
        run = uow.runs.get(run_id)
        assert run is not None
        steps = recovery.resume_steps((), recovery.remaining_steps_of(run))
        uow.runs.interrupt(run_id, "interrupted: its process stopped before it finished")
        uow.runs.release_lease(store_id, run_id, self.holder)
        if not steps:
            return None
        successor, _merged = uow.runs.request(store_id, steps, Trigger(run.trigger))
        return successor.id

    def reap_dead_runs(self, store_id: int | None = None) -> int:
        """Mark runs whose process died ``interrupted``; returns how many."""
        return recovery.reap(self.uow, _is_dead_local_process, store_id)

    def recover(self) -> list[int]:
        """Mark dead runs ``interrupted`` and queue runs resuming their remaining steps
        where no run is queued to take them over; returns the runs queued."""
        self.reap_dead_runs()
        return recovery.request_resumptions(self.uow)

    def _break_lease_of_dead_local_holder(self, store_id: int) -> None:
        """A holder on this machine whose process is gone will never renew its lease: free
        it now rather than waiting for it to expire (after a kill -9 and a restart)."""
        with self.uow() as uow:
            holder = uow.runs.lease_holder(store_id)
            if holder is None or not _is_dead_local_process(holder):
                return
            if uow.runs.break_lease(store_id, holder):
                log.warning("freed the lease of store %s held by dead process %s", store_id, holder)
            uow.commit()

    def _run(self, run_id: int, store_id: int, listener: ProgressListener | None) -> None:
        with self.uow() as uow:
            run = uow.runs.get(run_id)
            if run is None or RunStatus(run.status).finished or not uow.runs.claim(run_id):
                return
            steps = parse_steps(run.steps)
            trigger = Trigger(run.trigger)
            progress: dict[str, Any] = dict(run.progress or {})
            store_row = uow.stores.get(store_id)
            assert store_row is not None
            store = to_settings(store_row)
            uow.commit()
        partners: Partners | None = None
        try:
            partners = self.partners_for(store_id)
            outcomes = [
                self._run_step(run_id, store, partners, step, progress, listener, trigger)
                for step in steps
            ]
        except LeaseLost:
            # Another worker owns the store now and will finish this run; recording an
            # outcome here would overwrite what it records.
            log.warning("run %s stopped: it lost the lease of store %s", run_id, store_id)
            return
        except Exception as exc:  # the outermost run boundary: record, log, never lose it
            log.exception("run %s of store %s failed", run_id, store_id)
            with self.uow() as uow:
                uow.runs.set_progress(run_id, progress)
                uow.commit()
            self._finish(run_id, RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
            return
        finally:
            if partners is not None:
                self.release_partners(partners)
        failed_steps = [o for o in outcomes if o.status == "failed"]
        if failed_steps:
            status = RunStatus.FAILED
        elif any(o.status == "partial" for o in outcomes):
            status = RunStatus.PARTIAL
        else:
            status = RunStatus.SUCCEEDED
        error = "; ".join(o.message or "failed" for o in failed_steps) or None
        self._finish(run_id, status, error)

    def _run_step(
        self,
        run_id: int,
        store: StoreSettings,
        partners: Partners,
        step: Step,
        progress: dict[str, Any],
        listener: ProgressListener | None,
        trigger: Trigger,
    ) -> StepOutcome:
        if progress.get(step.value, {}).get("status") in ("succeeded", "partial", "skipped"):
            return StepOutcome(
                progress[step.value]["status"]
            )  # done before a crash: resume after it
        tracker = _RunTracker(self, run_id, store.id, step, progress, listener)
        ctx = StepContext(
            store=store,
            partners=partners,
            uow=self.uow,
            sessions=self.sessions,
            retry=self.retry,
            tracker=tracker,
            trigger=trigger,
        )
        try:
            outcome = STEPS[step](ctx)
        except PartnerAuthError as exc:
            self._mark_health(partners, exc)
            outcome = StepOutcome("failed", message=f"{step.value}: {exc} (reconnect the partner)")
        except PartnerError as exc:
            outcome = StepOutcome("failed", message=f"{step.value}: {exc}")
        tracker.finish(outcome)
        return outcome

    def _mark_health(self, partners: Partners, exc: PartnerAuthError) -> None:
        with self.uow() as uow:
            for connection_id in (partners.web_connection_id, partners.back_office_connection_id):
                if connection_id is not None:
                    connection = uow.session.get(Connection, connection_id)
                    if connection is not None and (
                        not exc.partner or exc.partner == connection.kind
                    ):
                        uow.stores.set_health(connection_id, "needs_reconnect", str(exc))
            uow.commit()

    def _finish(self, run_id: int, status: RunStatus, error: str | None) -> None:
        with self.uow() as uow:
            run = uow.runs.get(run_id)
            uow.runs.finish(run_id, status, error)
            uow.commit()
            trigger = run.trigger if run else "?"
        RUNS_FINISHED.labels(trigger, status.value).inc()

    def report(self, run_id: int) -> RunReport:
        with self.uow() as uow:
            run = uow.runs.get(run_id)
            if run is None:
                raise UnknownRun(f"no run {run_id}")
            errors = [ItemError(e.item_key, e.message, e.code) for e in uow.runs.errors(run_id)]
            return RunReport(
                run_id=run.id,
                store_id=run.store_id,
                status=RunStatus(run.status),
                steps=dict(run.progress or {}),
                error=run.error,
                errors=errors,
            )


def _pid_namespace() -> str:
    """Which PID namespace this process lives in (containers on one host share a host
    name, not PIDs)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "?"


def _is_dead_local_process(holder: str) -> bool:
    """``holder`` is ``host:pid:pid-namespace:nonce``; True only when it is this host and
    PID namespace and no such pid runs."""
    parts = holder.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[2] != _pid_namespace():
        return False
    pid_text = parts[1]
    if not pid_text.isdigit() or parts[2] == "?":
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class _Heartbeat:
    """Renews a run's lease every third of its length while the run is in a long partner
    call (a throttled batch may wait minutes), so the lease never lapses under a live run.
    """

    def __init__(self, runner: SyncRunner, store_id: int, run_id: int) -> None:
        self.runner, self.store_id, self.run_id = runner, store_id, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        interval = max(1.0, self.runner.lease_seconds / 3)
        while not self._stop.wait(interval):
            with self.runner.uow() as uow:
                renewed = uow.runs.renew_lease(
                    self.store_id, self.run_id, self.runner.holder, self.runner.lease_seconds
                )
                uow.commit()
            if not renewed:
                return
