"""The run lifecycle: request (merging duplicates), take the store's lease, run the steps
in order, record progress, item errors and the outcome, release the lease.

Per store, runs never overlap: a run executes only while it holds the store's lease (a
database row, so this holds across processes and machines). A holder that dies stops
renewing the lease; once it expires the run is resumed by whoever executes it next.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stockbridge.connectors.errors import PartnerAuthError, PartnerError
from stockbridge.domain.model import ItemError, RunStatus, Step, Trigger
from stockbridge.domain.store import StoreSettings
from stockbridge.metrics import RUNS_FINISHED
from stockbridge.ports import UnitOfWork
from stockbridge.retry import RetryPolicy
from stockbridge.sync import recovery
from stockbridge.sync.context import Partners, ProgressListener, StepContext, StepOutcome
from stockbridge.sync.drift import repair_drift
from stockbridge.sync.inventory_in import inventory_in
from stockbridge.sync.inventory_out import inventory_out
from stockbridge.sync.lease import (
    Heartbeat,
    LeaseLost,
    RunLease,
    is_dead_local_process,
    new_holder,
)
from stockbridge.sync.orders_in import orders_in
from stockbridge.sync.orders_out import orders_out
from stockbridge.sync.tracker import RunTracker

__all__ = [
    "ORDERS_UNREAD",
    "REPAIR",
    "LeaseLost",
    "RunReport",
    "RunTimeout",
    "SyncRunner",
    "UnknownRun",
    "run_step",
]

log = logging.getLogger(__name__)

STEPS: Mapping[Step, Callable[[StepContext], StepOutcome]] = {
    Step.ORDERS_IN: orders_in,
    Step.ORDERS_OUT: orders_out,
    Step.INVENTORY_IN: inventory_in,
    Step.INVENTORY_OUT: inventory_out,
}
#: A repair run (``Trigger.REPAIR``): new web orders read, then only the drifted SKUs pushed.
REPAIR_STEPS: Mapping[Step, Callable[[StepContext], StepOutcome]] = {
    Step.ORDERS_IN: orders_in,
    Step.INVENTORY_OUT: repair_drift,
}
REPAIR: tuple[Step, ...] = (Step.ORDERS_IN, Step.INVENTORY_OUT)


#: Why inventory-out publishes nothing after this run's orders-in failed: the web store took
#: orders the hub has not read, so their stock is not withheld, and an absolute quantity
#: pushed now would undo the web store's own decrement for them (an oversell).
ORDERS_UNREAD = (
    "stock not published: orders-in failed in this run, so web orders taken since are "
    "unknown and publishing now could oversell them"
)


def _orders_unread(progress: Mapping[str, Any]) -> bool:
    return bool(progress.get(Step.ORDERS_IN.value, {}).get("status") == "failed")


def run_step(
    step: Step,
    ctx: StepContext,
    progress: Mapping[str, Any],
    steps: Mapping[Step, Callable[[StepContext], StepOutcome]] = STEPS,
) -> StepOutcome:
    """One step of a run (``steps`` maps each step to its function: the real ones, or the
    dry run's), after the steps recorded in ``progress``: inventory-out publishes nothing
    when this run's orders-in failed. A partner's failure is the step's outcome; a
    ``PartnerAuthError`` is re-raised for the caller to record the partner's health."""
    if step is Step.INVENTORY_OUT and _orders_unread(progress):
        return StepOutcome("skipped", message=ORDERS_UNREAD)
    try:
        return steps[step](ctx)
    except PartnerAuthError:
        raise
    except PartnerError as exc:
        return StepOutcome("failed", message=f"{step.value}: {exc}")


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


class SyncRunner:
    """Requests and executes sync runs for stores.

    ``partners_for(store_id)`` builds the store's connectors (bootstrap wires the real ones;
    tests pass in-memory fakes).
    """

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        partners_for: Callable[[int], Partners],
        retry: RetryPolicy,
        lease_seconds: int = 300,
        holder: str | None = None,
        poll_seconds: float = 0.2,
        release_partners: Callable[[Partners], None] = lambda _p: None,
    ) -> None:
        self.uow = uow
        self.partners_for = partners_for
        self.retry = retry
        self.lease_seconds = lease_seconds
        self.holder = holder or new_holder()
        self.poll_seconds = poll_seconds
        self.release_partners = release_partners

    def request(self, store_id: int, steps: tuple[Step, ...], trigger: Trigger) -> tuple[int, bool]:
        """Queue a run (or merge into a queued one). Returns (run id, merged)."""
        with self.uow() as uow:
            run_id, merged = uow.runs.queue(store_id, steps, trigger)
            uow.commit()
            return run_id, merged

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
                run = uow.runs.record(run_id)
                if run is None:
                    raise UnknownRun(f"no run {run_id}")
                store_id = run.store_id
                finished = run.status.finished
                acquired = not finished and uow.runs.acquire_lease(
                    store_id, run_id, self.holder, self.lease_seconds
                )
                successor = None
                if acquired and run.status is RunStatus.RUNNING:
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
        heartbeat = Heartbeat(self._lease(store_id, run_id))
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
        run = uow.runs.record(run_id)
        assert run is not None
        steps = recovery.resume_steps((), recovery.remaining_steps_of(run))
        uow.runs.interrupt(run_id, "interrupted: its process stopped before it finished")
        uow.runs.release_lease(store_id, run_id, self.holder)
        if not steps:
            return None
        successor, _merged = uow.runs.queue(store_id, steps, run.trigger)
        return successor

    def reap_dead_runs(self, store_id: int | None = None) -> int:
        """Mark runs whose process died ``interrupted``; returns how many."""
        return recovery.reap(self.uow, is_dead_local_process, store_id)

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
            if holder is None or not is_dead_local_process(holder):
                return
            if uow.runs.break_lease(store_id, holder):
                log.warning("freed the lease of store %s held by dead process %s", store_id, holder)
            uow.commit()

    def _run(self, run_id: int, store_id: int, listener: ProgressListener | None) -> None:
        with self.uow() as uow:
            run = uow.runs.record(run_id)
            if run is None or run.status.finished or not uow.runs.claim(run_id):
                return
            steps, trigger, targets = run.steps, run.trigger, run.targets
            progress: dict[str, Any] = dict(run.progress)
            store = uow.stores.settings(store_id)
            assert store is not None
            uow.commit()
        partners: Partners | None = None
        try:
            partners = self.partners_for(store_id)
            outcomes = [
                self._run_step(run_id, store, partners, step, progress, listener, trigger, targets)
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
        targets: tuple[str, ...] | None = None,
    ) -> StepOutcome:
        if progress.get(step.value, {}).get("status") in ("succeeded", "partial", "skipped"):
            return StepOutcome(
                progress[step.value]["status"]
            )  # done before a crash: resume after it
        tracker = RunTracker(self._lease(store.id, run_id), step, progress, listener)
        ctx = StepContext(
            store=store,
            partners=partners,
            uow=self.uow,
            retry=self.retry,
            tracker=tracker,
            trigger=trigger,
            targets=targets,
            progress=progress,
        )
        try:
            outcome = run_step(
                step, ctx, progress, REPAIR_STEPS if trigger is Trigger.REPAIR else STEPS
            )
        except PartnerAuthError as exc:
            self._mark_health(partners, exc)
            outcome = StepOutcome("failed", message=f"{step.value}: {exc} (reconnect the partner)")
        tracker.finish(outcome)
        return outcome

    def _lease(self, store_id: int, run_id: int) -> RunLease:
        return RunLease(self.uow, store_id, run_id, self.holder, self.lease_seconds)

    def _mark_health(self, partners: Partners, exc: PartnerAuthError) -> None:
        with self.uow() as uow:
            for connection_id in (partners.web_connection_id, partners.back_office_connection_id):
                if connection_id is not None:
                    kind = uow.stores.connection_kind(connection_id)
                    if kind is not None and (not exc.partner or exc.partner == kind):
                        uow.stores.set_health(connection_id, "needs_reconnect", str(exc))
            uow.commit()

    def _finish(self, run_id: int, status: RunStatus, error: str | None) -> None:
        with self.uow() as uow:
            run = uow.runs.record(run_id)
            uow.runs.finish(run_id, status, error)
            uow.commit()
            trigger = run.trigger.value if run else "?"
        RUNS_FINISHED.labels(trigger, status.value).inc()

    def report(self, run_id: int) -> RunReport:
        with self.uow() as uow:
            run = uow.runs.record(run_id)
            if run is None:
                raise UnknownRun(f"no run {run_id}")
            return RunReport(
                run_id=run.id,
                store_id=run.store_id,
                status=run.status,
                steps=dict(run.progress),
                error=run.error,
                errors=uow.runs.item_errors(run_id),
            )
