"""A step's view of its run: progress, item errors and checkpoints, recorded on the run
through the storage port (each checkpoint also renews the store's lease)."""

from __future__ import annotations

import time
from typing import Any

from stockbridge.domain.model import ItemError, Step
from stockbridge.metrics import RUN_ITEMS
from stockbridge.sync.context import ProgressListener, StepOutcome
from stockbridge.sync.lease import LeaseLost, RunLease

__all__ = ["RunTracker"]


class RunTracker:
    """Keeps one step's progress and item errors, flushing them to the run's row at most
    every ``interval`` seconds and renewing the store lease at the same time.
    """

    def __init__(
        self,
        lease: RunLease,
        step: Step,
        progress: dict[str, Any],
        listener: ProgressListener | None,
        interval: float = 0.5,
    ) -> None:
        self.lease, self.step = lease, step
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
        lease = self.lease
        with lease.uow() as uow:
            if not lease.renew(uow):
                raise LeaseLost(f"run {lease.run_id} lost the lease of store {lease.store_id}")
            uow.runs.set_progress(lease.run_id, dict(self.progress))
            if self.pending_errors:
                uow.runs.add_errors(lease.run_id, self.step, self.pending_errors)
            uow.commit()
        self.pending_errors = []

    def finish(self, outcome: StepOutcome) -> None:
        self.entry.update(status=outcome.status, message=outcome.message, changed=outcome.done)
        # Honest counts: read (from partners, or the rows compared; else the step's
        # progress), changed (differs from what the hub had), written (sent to a
        # partner), unchanged (read, and the hub had that value already).
        read = self.entry["done"] if outcome.read is None else outcome.read
        self.entry.update(read=read, unchanged=max(0, read - outcome.done))
        if outcome.written is not None:
            self.entry["written"] = outcome.written
        RUN_ITEMS.labels(self.step.value, "read").inc(read)
        RUN_ITEMS.labels(self.step.value, "written").inc(outcome.written or 0)
        RUN_ITEMS.labels(self.step.value, "changed").inc(outcome.done)
        RUN_ITEMS.labels(self.step.value, "failed").inc(max(self.entry["failed"], outcome.failed))
        if outcome.status != "running":
            self.entry["failed"] = max(self.entry["failed"], outcome.failed)
        self.checkpoint(force=True)
        if self.listener:
            self.listener.step_finished(self.step, outcome)
